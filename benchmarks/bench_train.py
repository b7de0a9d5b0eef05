"""Training throughput: recalign's set-up vs a plain Trainer set-up, same model, same data.

    .venv/bin/python benchmarks/bench_train.py [--steps 20] [--batch 32] [--run-dir RUN]

- recalign: the default preset and lengths of configs/train-tiny.yaml, dynamic padding
  (each batch padded to its own longest example) and length-grouped batches;
- plain: the same model, data and order-free random batches, every batch padded to
  max_source_length / max_target_length.

Both train the same freshly initialized t5-tiny from the same seed on examples of the
ml-100k mixture (retrieval, ranking, rating; from RUN/text when --run-dir is given, else
generated for the first --users users). Timing excludes the first 3 warm-up steps.
Reports examples/s, real (non-padding) tokens/s, and the share of padding computed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARMUP = 3


def _data(run_dir: Path | None, users: int, tmp: Path):
    from recalign.data import leave_one_out, load_dataset
    from recalign.materialize import generate

    tasks = ["retrieval", "ranking", "rating"]
    if run_dir is None:
        split = leave_one_out(load_dataset("ml-100k"))
        run_dir = tmp / "run"
        generate(split, tasks, run_dir, users=split.users[:users])
    import datasets

    from recalign.materialize import load_task_data

    parts = [load_task_data(run_dir, t, "train") for t in tasks if (run_dir / "text" / t).is_dir()]
    return datasets.concatenate_datasets(parts).shuffle(seed=0), run_dir


def main() -> None:
    import torch
    from transformers import TrainerCallback, set_seed

    from recalign.config import from_dict, read_yaml
    from recalign.t5_finetune import TrainConfig, build_model, train_tokenizer
    from recalign.t5_finetune.collator import Seq2SeqCollator
    from recalign.t5_finetune.data import tokenize, tokenizer_texts
    from recalign.t5_finetune.trainer import RecalignTrainer, training_arguments

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per set-up (after 3 warm-up steps)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "train-tiny.yaml")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_train."))
    try:
        raw, run = _data(a.run_dir, a.users, tmp)
        base = from_dict(TrainConfig, read_yaml(a.config), overrides=[
            f"per_device_train_batch_size={a.batch}", f"max_steps={a.steps + WARMUP}", "report_to=[]",
            "eval_steps=100000", "save_steps=100000", "logging_steps=100000", "time_budget_minutes=null"])
        tok = train_tokenizer(tokenizer_texts(run, raw), tmp / "tok", base.vocab_size)
        n = (a.steps + WARMUP) * a.batch
        ds = tokenize(raw.select(range(min(len(raw), n))), tok, base.max_source_length, base.max_target_length)
        results = {}
        for name in ("plain", "recalign"):
            cfg = from_dict(TrainConfig, {**base.__dict__, "mixture": base.mixture.__dict__,
                                          "group_by_length": name == "recalign"})
            set_seed(0)
            model = build_model(cfg.model, tok)
            pad = (cfg.max_source_length, cfg.max_target_length) if name == "plain" else None
            coll = Seq2SeqCollator(tok, model, pad_to_max=pad)
            seen = {"real": 0, "padded": 0, "ex": 0}

            def counting(features, coll=coll, seen=seen):
                b = coll(features)
                seen["real"] += int(b["attention_mask"].sum() + (b["labels"] != -100).sum())
                seen["padded"] += int(b["input_ids"].numel() + b["labels"].numel())
                seen["ex"] += len(features)
                return b

            class Clock(TrainerCallback):
                t0 = None
                marks = {}

                def on_step_end(self, args, state, control, **kw):
                    if state.global_step == WARMUP:
                        Clock.t0 = time.perf_counter()
                        Clock.marks = dict(seen)

            args = training_arguments(cfg, tmp / name, has_eval=False, save_strategy="no", disable_tqdm=True)
            trainer = RecalignTrainer(model=model, args=args, data_collator=counting, train_dataset=ds,
                                      processing_class=tok, callbacks=[Clock()])
            trainer.train()
            dt = time.perf_counter() - Clock.t0
            # the collator runs one batch ahead of the step: count the timed batches exactly
            ex = a.steps * a.batch
            frac = (seen["real"] - Clock.marks["real"]) / max(1, seen["padded"] - Clock.marks["padded"])
            real_per_batch = (seen["real"] - Clock.marks["real"]) / max(1, (seen["ex"] - Clock.marks["ex"]) / a.batch)
            results[name] = {"examples_per_s": round(ex / dt, 1), "tokens_per_s": round(real_per_batch * a.steps / dt),
                             "padding_share": round(1 - frac, 3), "seconds": round(dt, 1)}
            print(name, results[name], flush=True)
        info = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}",
                "torch": torch.__version__, "threads": torch.get_num_threads(),
                "model": base.model, "batch": a.batch, "steps": a.steps, "max_source_length": base.max_source_length,
                "max_target_length": base.max_target_length, "examples": len(ds),
                "speedup": round(results["recalign"]["examples_per_s"] / results["plain"]["examples_per_s"], 2),
                **results}
        print(json.dumps(info, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

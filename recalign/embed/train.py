"""``train_embedder``: generate the query tasks (train split only for training), build or load
the encoder, train it with sentence-transformers' ``SentenceTransformerTrainer`` and the
hard-negative contrastive loss, save it to ``RUN/embed/model`` (atomically) with
``train_info.json`` (steps, examples/s, loss).

Why sentence-transformers: it is the maintained library for exactly this job (a trainer on
``datasets`` with (anchor, positive, negative_1..n) columns, losses as objects, any HF encoder,
save/load of the pooled model); we add only the loss variant without in-batch negatives.
"""
from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from ..t5_finetune.precision import use_bf16
from ..atomic_io import atomic_path, write_json
from ..errors import RecalignError
from ..run_dir import RunDir
from ..tasks.registry import QUERY_TASKS
from .config import EmbedConfig, task_cap
from .data import embed_dir, generate_queries, load_queries, task_names
from .items import item_text, query_text
from .loss import HardNegativeLoss
from .model import PRESETS, build_preset, load_embedder


def arm_dir(run: RunDir, arm: str | None = None) -> Path:
    """Where an embedder's ``init`` (a preset's starting weights) and ``model`` go: ``RUN/embed``
    for the section itself, ``RUN/embed/arms/<name>`` for each of its ``arms``."""
    return embed_dir(run) / "arms" / arm if arm else embed_dir(run)


def check_trained(run: RunDir, cfg: EmbedConfig, arm: str | None = None) -> None:
    """Refuse (one line) to evaluate ``arm_dir(run, arm)/model`` under another split or setting than it
    was trained with (its ``train_info.json``): the split (``data prepare`` ran again since), the
    instruction prefix, the encoder. A model without ``train_info.json`` is not checked."""
    import json

    from ..data.fingerprint import split_fingerprint

    model = arm_dir(run, arm) / "model"
    if not model.is_dir():
        raise RecalignError("no trained embedder here: train it first (without --eval-only)", path=model)
    info_path = model / "train_info.json"
    try:
        info = json.loads(info_path.read_text()) if info_path.is_file() else None
    except ValueError:
        raise RecalignError("unreadable train_info.json: train the embedder again", path=info_path) from None
    if not info:
        return
    now = {"split_fingerprint": split_fingerprint(run.data), "instruction": cfg.instruction, "model": cfg.model}
    diff = [f"{k}: {info[k]!r} → {v!r}" for k, v in now.items() if k in info and info[k] != v]
    if diff:
        raise RecalignError(f"trained under another split or setting ({'; '.join(diff)}): evaluating it here would "
                            "mix the two; train again (without --eval-only), or use a new --run-dir", path=model)


def instruction(task: str, cfg: EmbedConfig) -> str | None:
    return QUERY_TASKS.get(task).description if cfg.instruction else None


def training_columns(run: RunDir, cfg: EmbedConfig, tasks: list[str]) -> dict[str, list[str]]:
    """(anchor, positive, negative_1..n) columns over every task's train split, shuffled
    (seeded); queries carry the instruction prefix; short negative lists are cycled to n."""
    n = cfg.query.num_negatives
    rows: list[tuple] = []
    for task in tasks:
        ds = load_queries(run, task, "train")
        idx = list(range(len(ds)))
        cap = task_cap(cfg, task)
        if cap and len(idx) > cap:
            idx = sorted(random.Random(f"{cfg.seed}/{task}/cap").sample(idx, cap))
        inst = instruction(task, cfg)
        q, p, negs = ds["query"], ds["positive"], ds["negatives"]
        for i in idx:
            if negs[i]:
                rows.append((query_text(q[i], inst), p[i], *[negs[i][j % len(negs[i])] for j in range(n)]))
    random.Random(f"{cfg.seed}/embed-train-order").shuffle(rows)
    names = ["anchor", "positive", *[f"negative_{j + 1}" for j in range(n)]]
    return {k: [r[c] for r in rows] for c, k in enumerate(names)}


def train_embedder(run_dir: str | Path | RunDir, cfg: EmbedConfig | None = None, log=print,
                   arm: str | None = None, generate: bool = True) -> dict:
    """Generate the query data (unless ``generate`` is off: an arm of a run that generated it),
    train, save to ``arm_dir(run, arm)/model``. Returns train_info."""
    import datasets
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    cfg = cfg or EmbedConfig()
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    split = run.split()
    tasks = task_names(cfg.tasks)
    t0 = time.perf_counter()
    if generate:
        manifest = generate_queries(split, run, tasks, cfg.query)
        log(f"query tasks: {sum(c['train'] for c in manifest.counts.values())} train queries over {len(tasks)} "
            f"tasks ({time.perf_counter() - t0:.1f} s)")
    else:
        manifest = run.query_text()
    gen_s = time.perf_counter() - t0
    cols = training_columns(run, cfg, tasks)
    if not cols["anchor"]:
        raise RecalignError("no training queries (every task's train split is empty)", field="tasks")
    model_name = cfg.model
    if cfg.model in PRESETS:
        texts = [*cols["anchor"], *(item_text(it) for it in split.items.values())]
        model_name = str(build_preset(cfg.model, texts, arm_dir(run, arm) / "init", cfg.vocab_size, cfg.seed))
    model = load_embedder(model_name, cfg.max_seq_length, cfg.seed)
    model.max_seq_length = cfg.max_seq_length
    train_ds = datasets.Dataset.from_dict(cols)
    loss = HardNegativeLoss(model, cfg.temperature, cfg.in_batch_negatives)
    out = arm_dir(run, arm) / "model"
    shutil.rmtree(arm_dir(run, arm) / "trainer_tmp", ignore_errors=True)   # left empty by earlier versions
    arm_dir(run, arm).mkdir(parents=True, exist_ok=True)
    # the trainer's scratch directory (it saves nothing: save_strategy "no") is removed when training
    # ends; a killed run's ".trainer.*.tmp" is removed by the next command that locks RUN (clean_temp)
    with tempfile.TemporaryDirectory(prefix=".trainer.", suffix=".tmp", dir=arm_dir(run, arm)) as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(tmp), per_device_train_batch_size=cfg.batch_size, max_steps=cfg.max_steps,
            num_train_epochs=cfg.epochs, learning_rate=cfg.learning_rate, warmup_steps=cfg.warmup_ratio,
            seed=cfg.seed, data_seed=cfg.seed, report_to="none", save_strategy="no", logging_steps=10,
            disable_tqdm=True, dataloader_drop_last=False, use_cpu=not torch.cuda.is_available(),
            bf16=use_bf16(cfg.bf16))
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_ds, loss=loss)
        t1 = time.perf_counter()
        res = trainer.train()
        train_s = time.perf_counter() - t1
    steps = int(res.global_step)
    examples = steps * cfg.batch_size
    with atomic_path(out, directory=True) as tmp:
        model.save(str(tmp))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    info = {"model": cfg.model, "base": model_name, "tasks": tasks, "train_queries": len(cols["anchor"]),
            "steps": steps, "batch_size": cfg.batch_size, "train_s": round(train_s, 1),
            "examples_per_s": round(examples / train_s, 1) if train_s else None, "generate_s": round(gen_s, 1),
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "temperature": cfg.temperature, "in_batch_negatives": cfg.in_batch_negatives,
            "instruction": cfg.instruction, "learning_rate": cfg.learning_rate, "bf16": cfg.bf16,
            "split_fingerprint": manifest.split_fingerprint}
    write_json(out / "train_info.json", info)
    log(f"trained {steps} steps in {train_s:.1f} s ({info['examples_per_s']} queries/s); loss "
        f"{info['first_loss']} → {info['last_loss']}; saved {out}")
    return info


__all__ = ["train_embedder", "training_columns", "instruction", "arm_dir", "check_trained"]

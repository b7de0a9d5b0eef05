"""DeepSpeed: every shipped ZeRO config validates, and a real training step runs on CPU.

The first DeepSpeed run on a machine compiles its shm communication op (40–210 s on
2 cores), cached in ~/.cache/recalign/torch_extensions for every later run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from recalign.t5_finetune.deepspeed_config import SHIPPED, resolve_deepspeed
from recalign.t5_finetune.testing import make_run

deepspeed = pytest.importorskip("deepspeed")
ROOT = Path(__file__).resolve().parents[1]


def _trainer_args(**kw):
    base = dict(world_size=1, per_device_train_batch_size=8, gradient_accumulation_steps=4, max_grad_norm=1.0,
                learning_rate=1e-3, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, weight_decay=0.0,
                save_on_each_node=False, fp16=False, fp16_full_eval=False, bf16=False, bf16_full_eval=False,
                get_warmup_steps=lambda n: 1)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_config_validates(name):
    """Fill the "auto" values the way the Trainer does, then let DeepSpeed validate the result."""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import T5Config
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    raw = json.loads(Path(resolve_deepspeed(name)).read_text())
    assert "auto" in json.dumps(raw) and "fp16" not in raw          # the Trainer fills; never fp16
    hf = HfTrainerDeepSpeedConfig(resolve_deepspeed(name))
    hf.trainer_config_process(_trainer_args())
    hf.trainer_config_finalize(_trainer_args(), SimpleNamespace(config=T5Config(d_model=128)), 100)
    assert "auto" not in json.dumps(hf.config)
    ds = DeepSpeedConfig(hf.config)
    assert ds.zero_optimization_stage == int(name[-1])
    assert (ds.train_batch_size, ds.gradient_accumulation_steps, ds.gradient_clipping) == (32, 4, 1.0)


def test_bad_deepspeed_name_is_a_clear_error():
    from recalign.errors import RecalignError

    with pytest.raises(RecalignError, match="zero2"):
        resolve_deepspeed("zero5")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["zero2", "zero3"])
def test_real_training_steps_through_deepspeed_on_cpu(tmp_path, stage):
    """`recalign train --deepspeed zero2|zero3` as a single process on CPU (no launcher)."""
    run = make_run(tmp_path / "run", n_train=16, n_valid=4)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", WANDB_MODE="offline")
    o = ["max_steps=2", "eval_steps=2", "save_steps=2", "vocab_size=600", "per_device_train_batch_size=4",
         "gradient_accumulation_steps=2", "max_source_length=64", "time_budget_minutes=null", "mixture.cap=null"]
    cmd = [sys.executable, "-c", "from recalign.cli import main; main()", "train",
           "--config", str(ROOT / "configs" / "train-tiny.yaml"), "--run-dir", str(run),
           "--deepspeed", stage, "--report-to", "none", *sum((["-o", x] for x in o), [])]
    res = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    info = json.loads((run / "model" / "recalign_train.json").read_text())
    assert (info["global_step"], info["deepspeed"], info["completed"]) == (2, stage, True)
    assert "DeepSpeed" in res.stderr + res.stdout
    ckpt = run / "checkpoints" / "checkpoint-2"
    assert any(p.name.startswith("global_step") for p in ckpt.iterdir())      # a DeepSpeed checkpoint
    from recalign.t5_finetune import load_checkpoint

    model, tok = load_checkpoint(run)
    assert model.config.d_model == 128
    # the steps trained: weights moved from the seeded initial model and the train loss went down
    import torch
    from transformers import set_seed

    from recalign.materialize import load_task_data
    from recalign.t5_finetune import build_model

    set_seed(0)                                     # train-tiny.yaml's seed, set before the model is built
    init = build_model("t5-tiny", tok).eval()
    moved = max((a.float() - b.float()).abs().max().item()
                for a, b in zip(model.state_dict().values(), init.state_dict().values()))
    assert moved > 1e-4
    rows = [r for t in ("retrieval", "rating") for r in load_task_data(run, t, "train")]
    enc = tok([r["input"] for r in rows], return_tensors="pt", padding=True, truncation=True, max_length=64)
    lab = tok(text_target=[r["target"] for r in rows], return_tensors="pt", padding=True)["input_ids"]
    lab[lab == tok.pad_token_id] = -100
    with torch.no_grad():
        assert model.eval()(**enc, labels=lab).loss.item() < init(**enc, labels=lab).loss.item()

"""Issue 21: the same result on any machine — precision decided by the hardware, a fixed step count
with the time budget as a labelled cap, the mixture tokenized only as far as the steps consume it,
logs a person can read, a reloaded model that is the trained one, and no step past the budget on resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recalign.t5_finetune import precision as prec
from recalign.t5_finetune.precision import CpuInfo, decide

ROOT = Path(__file__).resolve().parents[1]

AVX2 = CpuInfo("AMD EPYC", "AVX2", avx512_bf16=False, amx=False, onednn_isa=None)
AVX512 = CpuInfo("Intel Xeon", "AVX512", avx512_bf16=False, amx=False, onednn_isa=None)
AVX512_BF16 = CpuInfo("AMD EPYC", "AVX512", avx512_bf16=True, amx=False, onednn_isa=None)
AMX = CpuInfo("Intel Xeon Sapphire Rapids", "AVX512", avx512_bf16=True, amx=True, onednn_isa=None)
CAPPED = CpuInfo("AMD EPYC", "AVX2", avx512_bf16=True, amx=False, onednn_isa=None)      # ATEN_CPU_CAPABILITY=avx2
ONEDNN_CAPPED = CpuInfo("AMD EPYC", "AVX512", avx512_bf16=True, amx=False, onednn_isa="AVX2")


# ---- 1. bf16 decided by what the hardware has ----------------------------------------------------------
@pytest.mark.parametrize("cpu, expected", [(AVX2, False), (AVX512, False), (AVX512_BF16, True), (AMX, True),
                                           (CAPPED, False), (ONEDNN_CAPPED, False)])
def test_auto_uses_bf16_only_with_native_cpu_bf16(cpu, expected):
    p = decide("auto", cuda=False, cuda_bf16=False, cpu=cpu)
    assert p.bf16 is expected and p.warning is None
    assert p.reason.startswith("bf16" if expected else "fp32") and cpu.model in p.reason


@pytest.mark.parametrize("cuda_bf16", [True, False])
def test_auto_on_cuda_follows_the_device(cuda_bf16):
    assert decide("auto", cuda=True, cuda_bf16=cuda_bf16, cpu=None).bf16 is cuda_bf16


def test_explicit_settings_are_kept_and_an_emulated_true_warns_with_its_cost(monkeypatch):
    assert decide(False, cuda=False, cuda_bf16=False, cpu=AMX).bf16 is False
    assert decide(True, cuda=False, cuda_bf16=False, cpu=AMX).warning is None
    p = decide(True, cuda=False, cuda_bf16=False, cpu=AVX2)
    assert p.bf16 is True and "emulated" in p.warning and "bf16: auto" in p.warning and "AVX2" in p.warning
    assert "\n" not in p.warning
    monkeypatch.setattr(prec, "probe_cpu", lambda: AVX2)
    monkeypatch.setattr(prec, "emulation_cost", lambda seconds=0.4: 12.9)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = prec.resolve(True)
    assert r.bf16 and "12.9x slower than fp32" in r.warning
    assert prec.resolve("auto").bf16 is False


def test_the_probe_reads_torch_and_the_isa_caps(monkeypatch):
    import torch

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert prec.probe_cpu().native_bf16 is False          # ATEN_CPU_CAPABILITY=avx2 lowers the kernels
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert prec.probe_cpu().native_bf16 is True
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert prec.probe_cpu().native_bf16 is False


def _config_values(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _config_values(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _config_values(v, key)


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_no_shipped_config_forces_bf16(path):
    data = yaml.safe_load(path.read_text())
    assert all(v in ("auto", False) for v in _config_values(data, "bf16")), path


# ---- 2. a fixed step count; the time budget a labelled cap -----------------------------------------
def test_the_default_run_is_a_step_count_with_a_time_cap():
    from recalign.pipeline import load_run_config, train_config

    makefile = (ROOT / "Makefile").read_text()
    default = next(line.split("?=")[1].strip() for line in makefile.splitlines() if line.startswith("CONFIG ?="))
    t = train_config(load_run_config(default, []))
    steps = t.trainer["max_steps"]
    assert 0 < steps <= 10_000 and t.time_budget_minutes and t.bf16 == "auto"
    readme = (ROOT / "README.md").read_text()
    assert f"{steps:,} steps" in readme                  # README states the run's steps


def test_a_run_stopped_by_the_cap_is_labelled_and_renamed():
    from recalign.eval.report import mark_below_config, training_status

    below = {"model": "recalign-t5", "training": {"steps": 243, "max_steps": 3000, "below_config": True,
                                                  "stopped_by": "time_budget", "wall_time_s": 960.0,
                                                  "cpu": "AMD EPYC, AVX2 with no native bf16"}}
    full = {"model": "recalign-t5-b", "training": {"steps": 3000, "max_steps": 3000, "below_config": False,
                                                   "stopped_by": "max_steps"}}
    assert training_status(below) == "stopped at 243 of 3,000 steps — below the configured run"
    assert training_status(full) == "trained its configured 3,000 steps (not to convergence)"
    lines = mark_below_config([below, full])
    assert below["model"] == "recalign-t5 [stopped at 243 of 3,000 steps]" and full["model"] == "recalign-t5-b"
    assert len(lines) == 1 and "below the configured run" in lines[0] and "AVX2" in lines[0]


def test_training_info_says_below_config_only_when_the_cap_cut_the_steps(tmp_path):
    from recalign.eval.evaluate import _training_info

    def info(**kw):
        (tmp_path / "recalign_train.json").write_text(json.dumps(kw))
        return _training_info(tmp_path)

    assert info(global_step=243, max_steps=3000, stopped_by_budget=True)["below_config"] is True
    assert info(global_step=3000, max_steps=3000, stopped_by_budget=False)["below_config"] is False
    assert info(global_step=5000, max_steps=100000, stopped_by_budget=False)["below_config"] is False


# ---- 3. tokenize only what the steps consume, batch by batch ----------------------------------------
@pytest.mark.slow
def test_mixture_is_sized_to_the_steps_and_tokenized_on_the_fly(tmp_path):
    from recalign.t5_finetune import train
    from recalign.t5_finetune.testing import make_run, tiny_config

    run = make_run(tmp_path / "run", n_train=64, n_valid=8)
    cfg = tiny_config(max_steps=3, per_device_train_batch_size=4, eval_steps=3, save_steps=3, report_to=[],
                      mixture={"tasks": ["retrieval", "rating"], "strategy": "rates",
                               "rates": {"retrieval": 1, "rating": 1}, "total": 2_000_000})
    info = json.loads((train(cfg, run) / "recalign_train.json").read_text())
    assert info["train_examples"] == 3 * 4                 # not 2,000,000: what 3 steps x 4 consume
    assert info["examples_tokenized"] == 3 * 4 and info["global_step"] == 3


def test_text_features_are_tokenized_by_the_collator_as_the_map_did():
    from recalign.t5_finetune.collator import Seq2SeqCollator
    from recalign.t5_finetune.data import tokenize
    from recalign.t5_finetune.testing import make_task
    from recalign.t5_finetune.tokenizer import train_tokenizer

    import tempfile

    ds = make_task("retrieval", 6, seed=1)
    tok = train_tokenizer(list(ds["input"]) + list(ds["target"]), Path(tempfile.mkdtemp()), 400,
                          model_max_length=64)
    coll = Seq2SeqCollator(tok, max_lengths=(12, 8))
    eager = coll(list(tokenize(ds, tok, 12, 8)))
    lazy = coll([{"input": r["input"], "target": r["target"], "length": len(r["input"])} for r in ds])
    assert all((eager[k] == lazy[k]).all() for k in ("input_ids", "attention_mask", "labels"))
    assert coll.truncated_sources == sum(1 for r in tokenize(ds, tok, 12, 8) if len(r["input_ids"]) >= 12)


# ---- 4. logs a person can read; the reloaded model is the trained one ------------------------------
@pytest.mark.slow
def test_redirected_train_log_has_no_progress_bars(tmp_path):
    from recalign.t5_finetune.testing import make_run, tiny_config

    run = make_run(tmp_path / "run", n_train=32, n_valid=4)
    cfg = tiny_config(max_steps=4, eval_steps=2, save_steps=2, curve={"users": 0})
    data = {**{k: v for k, v in cfg.__dict__.items() if k not in ("mixture", "curve", "trainer")},
            "mixture": cfg.mixture.__dict__, "curve": {"users": 0}, "max_steps": 4, "eval_steps": 2,
            "save_steps": 2, "report_to": []}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(data))
    exe = Path(sys.executable).with_name("recalign")
    env = {k: v for k, v in os.environ.items() if k not in ("RECALIGN_PROGRESS", "TQDM_DISABLE")}
    with open(tmp_path / "log.txt", "w") as log:
        rc = subprocess.run([str(exe), "train", "--config", str(tmp_path / "t.yaml"), "--run-dir", str(run)],
                            stdout=log, stderr=subprocess.STDOUT, env={**env, "WANDB_MODE": "disabled"}).returncode
    text = (tmp_path / "log.txt").read_text()
    assert rc == 0, text[-2000:]
    assert "\r" not in text and "it/s]" not in text and "examples/s]" not in text
    assert "[train] step 4/4 (100%)" in text and "[train] precision:" in text
    assert "missing keys" not in text


@pytest.mark.slow
@pytest.mark.parametrize("positions", [0, 4])
def test_reloaded_model_scores_exactly_as_the_trained_one(tmp_path, capfd, positions):
    import torch
    from transformers import TrainerCallback

    from recalign.t5_finetune import train
    from recalign.t5_finetune.models import load_checkpoint
    from recalign.t5_finetune.testing import make_run, tiny_config

    class Keep(TrainerCallback):
        model = None

        def on_train_end(self, args, state, control, model=None, **kw):
            Keep.model = model

    run = make_run(tmp_path / "run", n_train=32, n_valid=8)
    out = train(tiny_config(max_steps=6, eval_steps=2, save_steps=2, encoder_positions=positions,
                            load_best_model_at_end=True), run, callbacks=[Keep()])
    assert "missing keys" not in capfd.readouterr().err
    model, tok = load_checkpoint(out)
    batch = tok(["A user watched Heat, Alien. What will they watch next?"], return_tensors="pt")
    labels = tok(text_target=["Fargo"], return_tensors="pt")["input_ids"]
    from accelerate.utils import extract_model_from_parallel

    # the Trainer's model runs under its autocast wrapper (bf16 on a CPU with native bf16): compare
    # the weights themselves, and the scores of the same weights in the same precision
    trained = extract_model_from_parallel(Keep.model, keep_fp32_wrapper=False).eval()
    mine, theirs = trained.state_dict(), model.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    with torch.no_grad():
        a = trained(**batch, labels=labels).logits.float()
        b = model(**batch, labels=labels).logits.float()
    assert torch.equal(a, b)
    assert torch.equal(trained.get_input_embeddings().weight, model.get_input_embeddings().weight)


# ---- 5. no step past the budget on resume ------------------------------------------------------------
@pytest.mark.slow
def test_resuming_a_finished_run_trains_no_step(tmp_path):
    import torch

    from recalign.t5_finetune import train
    from recalign.t5_finetune.models import load_checkpoint
    from recalign.t5_finetune.testing import make_run, tiny_config

    run = make_run(tmp_path / "run", n_train=32, n_valid=8)
    cfg = tiny_config(max_steps=4, eval_steps=2, save_steps=2, report_to=[])
    out = train(cfg, run)
    first = load_checkpoint(out)[0].state_dict()
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    import shutil

    shutil.rmtree(out)                          # killed after the last checkpoint, before RUN/model
    out = train(cfg, run)
    info = json.loads((out / "recalign_train.json").read_text())
    assert info["global_step"] == 4 and sorted(p.name for p in (run / "checkpoints").iterdir()) == ckpts
    again = load_checkpoint(out)[0].state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_finished_before_at_the_boundaries():
    from recalign.t5_finetune.trainer import finished_before

    assert finished_before({"step": 20}, 20, None) and finished_before({"step": 21}, 20, None)
    assert finished_before({"step": 19}, 20, None) is None
    assert finished_before({"step": 19, "train_seconds": 59.9}, 20, 60.0) is None
    assert finished_before({"step": 19, "train_seconds": 60.0}, 20, 60.0)


# ---- the GPU-less DeepSpeed path fails on an unreachable hub model before compiling anything ----------
def test_hub_model_fails_before_deepspeed_is_set_up(tmp_path, monkeypatch):
    from recalign.errors import RecalignError
    from recalign.t5_finetune import trainer as tr
    from recalign.t5_finetune.testing import make_run, tiny_config

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # single_process_env() sets these in os.environ for a DeepSpeed run: keep them out of later tests
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCH_EXTENSIONS_DIR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(tr, "single_process_env", lambda: [])
    called = []
    monkeypatch.setattr(tr, "training_arguments", lambda *a, **k: called.append(1))
    run = make_run(tmp_path / "run", n_train=8, n_valid=2)
    with pytest.raises(RecalignError, match="cannot load|not found|tokenizer"):
        tr.train(tiny_config(model="no-such-org/no-such-model", deepspeed="zero2", report_to=[]), run)
    assert not called

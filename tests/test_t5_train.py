"""Training on a tiny materialized run: outputs, per-task eval, best model, resume, budget, wandb, CLI."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from recalign.t5_finetune.testing import make_run, tiny_config

pytestmark = pytest.mark.slow


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "logs" / "train.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One uninterrupted tiny run (6 steps, eval + checkpoint every 3)."""
    from recalign.t5_finetune import train

    run = make_run(tmp_path_factory.mktemp("run") / "run")
    out = train(tiny_config(), run)
    return run, out


def test_train_writes_run_directory(trained):
    from recalign.config import from_dict, read_yaml
    from recalign.t5_finetune import TrainConfig

    run, out = trained
    assert out == run / "model"
    info = json.loads((out / "recalign_train.json").read_text())
    assert (info["global_step"], info["max_steps"], info["completed"], info["stopped_by_budget"]) == (6, 6, True, False)
    assert info["precision"] == "fp32" and info["train_examples"] == 6 * 8      # what 6 steps of 8 consume
    assert info["eval_examples"] == {"retrieval": 8, "rating": 8}
    assert info["best_model_checkpoint"] in ("checkpoint-3", "checkpoint-6")
    assert 2_000 < info["num_parameters"] < 3_000_000
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-3", "checkpoint-6"]
    assert (run / "tokenizer" / "tokenizer.json").is_file() and (out / "tokenizer.json").is_file()
    assert from_dict(TrainConfig, read_yaml(run / "train_config.yaml")) == tiny_config()


def test_fine_tune_a_local_checkpoint_directory(trained, tmp_path):
    """A checkpoint directory goes through the pretrained path (as google/flan-t5-base would):
    its own tokenizer and weights are loaded, not a fresh preset, and training continues from them."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from recalign.t5_finetune import train

    run0, out0 = trained
    run = make_run(tmp_path / "run2")
    out = train(tiny_config(model=str(out0), max_steps=2, eval_steps=2, save_steps=2), run)
    info = json.loads((out / "recalign_train.json").read_text())
    assert info["preset"] is False and info["model"] == str(out0) and info["global_step"] == 2
    assert not (run / "tokenizer").exists()                      # no tokenizer trained: the checkpoint's
    assert (out / "tokenizer.json").read_bytes() == (out0 / "tokenizer.json").read_bytes()
    first = next(e["loss"] for e in _events(run) if "loss" in e)
    scratch = next(e["loss"] for e in _events(run0) if "loss" in e)
    assert first < scratch - 1.0                                 # starts from the trained weights
    a = AutoModelForSeq2SeqLM.from_pretrained(out0).shared.weight
    b = AutoModelForSeq2SeqLM.from_pretrained(out).shared.weight
    assert a.shape == b.shape and not torch.equal(a, b)          # and trained them further


def test_per_task_eval_and_loss_goes_down(trained):
    run, _ = trained
    ev = _events(run)
    evals = [e for e in ev if "eval_loss" in e]
    assert [e["step"] for e in evals] == [3, 6]
    per_task = {e["step"]: e for e in ev if "eval_retrieval_loss" in e}
    assert set(per_task) == {3, 6} and any("eval_rating_loss" in e for e in ev)
    first_train_loss = next(e["loss"] for e in ev if "loss" in e)
    assert first_train_loss > 5.0                 # ≈ ln(vocab) at start
    assert evals[-1]["eval_loss"] < first_train_loss - 1.0
    assert [e["event"] for e in ev][0] == "train_begin" and ev[-1]["event"] == "train_end"
    lrs = [e["learning_rate"] for e in ev if "learning_rate" in e]
    assert lrs[0] == 0.0 and max(lrs) == pytest.approx(3e-3) and lrs[-1] < 1e-3   # warm-up then cosine decay


def test_checkpoint_loads_back_with_the_best_valid_loss(trained):
    """RUN/model reproduces the best valid loss the Trainer recorded, and generates text."""
    import torch

    from recalign.t5_finetune import load_checkpoint
    from recalign.t5_finetune.collator import Seq2SeqCollator
    from recalign.t5_finetune.data import load_eval_sets, tokenize

    run, out = trained
    info = json.loads((out / "recalign_train.json").read_text())
    model, tok = load_checkpoint(run)
    assert not model.training
    cfg = tiny_config()
    sets = load_eval_sets(cfg.mixture, run, cfg.eval_max_examples, cfg.seed)
    coll = Seq2SeqCollator(tok, model)
    total = n = 0
    with torch.no_grad():
        for ds in sets.values():
            batch = coll(list(tokenize(ds, tok, cfg.max_source_length, cfg.max_target_length)))
            total += model(**batch).loss.item() * len(ds)
            n += len(ds)
    assert total / n == pytest.approx(info["best_metric"], rel=1e-4)
    gen = model.generate(**tok(["A user watched Heat. What will they watch next?"], return_tensors="pt"),
                         max_new_tokens=5)
    assert gen.shape[0] == 1 and 1 < gen.shape[1] <= 6


def _legs(run: Path) -> list[list[dict]]:
    """The events of each train() call (a leg starts at its train_begin event)."""
    legs: list[list[dict]] = []
    for e in _events(run):
        if e["event"] == "train_begin":
            legs.append([])
        legs[-1].append(e)
    return legs


def test_resume_after_interrupt_reaches_the_same_end(trained, tmp_path):
    """Kill a run right after checkpoint-3 is written; a second call resumes to step 6 and ends
    where the uninterrupted run ended, running only steps 4-6 (a restart from scratch would also
    end at the same loss: training is seeded, so the step counts are what proves the resume)."""
    from recalign.t5_finetune import train
    from recalign.t5_finetune.callbacks import Interrupt
    from recalign.t5_finetune.checkpoints import read_marker

    ref_run, ref_out = trained
    run = make_run(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(), run, callbacks=[Interrupt(3)])
    assert not (run / "model").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-3"]
    out = train(tiny_config(), run)
    info = json.loads((out / "recalign_train.json").read_text())
    ref = json.loads((ref_out / "recalign_train.json").read_text())
    assert (info["resumed_from"], info["global_step"], info["completed"]) == ("checkpoint-3", 6, True)
    first, second = _legs(run)
    assert second[0]["step"] == 3 and second[-1]["steps_this_leg"] == 3      # steps 1-3 not run again
    assert [e["step"] for e in second if "loss" in e] == [4, 5, 6]
    at_ckpt = read_marker(run / "checkpoints" / "checkpoint-3")["train_seconds"]
    assert at_ckpt > 0 and second[0]["train_seconds"] == pytest.approx(at_ckpt, abs=0.05)   # continues from there
    assert info["train_runtime_s"] == pytest.approx(second[-1]["train_seconds"], abs=0.5)
    assert info["train_runtime_s"] > at_ckpt
    assert info["best_metric"] == pytest.approx(ref["best_metric"], rel=1e-4)
    last = [e for e in _events(run) if "eval_loss" in e][-1]["eval_loss"]
    ref_last = [e for e in _events(ref_run) if "eval_loss" in e][-1]["eval_loss"]
    assert last == pytest.approx(ref_last, rel=1e-4)


def test_half_written_checkpoint_is_set_aside_and_the_complete_one_resumed(trained, tmp_path, caplog):
    """kill -9 while saving checkpoint-6 leaves a folder with only config files: resume picks the
    complete checkpoint-3, sets the other aside with a warning, and saves a complete checkpoint-6."""
    import logging
    import shutil

    from recalign.t5_finetune import train
    from recalign.t5_finetune.checkpoints import MARKER, read_marker

    ref_run, _ = trained
    run = make_run(tmp_path / "run")
    shutil.copytree(ref_run / "checkpoints" / "checkpoint-3", run / "checkpoints" / "checkpoint-3")
    shutil.copytree(ref_run / "tokenizer", run / "tokenizer")
    half = run / "checkpoints" / "checkpoint-6"
    half.mkdir()
    for f in ("config.json", "generation_config.json"):
        shutil.copy(ref_run / "checkpoints" / "checkpoint-3" / f, half / f)
    with caplog.at_level(logging.WARNING, logger="recalign.t5_finetune.checkpoints"):
        out = train(tiny_config(), run)
    assert "checkpoint-6 is incomplete" in caplog.text and "incomplete-checkpoint-6" in caplog.text
    info = json.loads((out / "recalign_train.json").read_text())
    assert (info["resumed_from"], info["global_step"]) == ("checkpoint-3", 6)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "checkpoint-3", "checkpoint-6", "incomplete-checkpoint-6"]
    assert sorted(p.name for p in (run / "checkpoints" / "incomplete-checkpoint-6").iterdir()) == [
        "config.json", "generation_config.json"]
    assert (run / "checkpoints" / "checkpoint-6" / MARKER).is_file()
    assert read_marker(run / "checkpoints" / "checkpoint-6")["step"] == 6
    assert [e["step"] for e in _events(run) if "loss" in e] == [4, 5, 6]


def test_time_budget_stops_cleanly(tmp_path):
    from recalign.t5_finetune import load_checkpoint, train

    run = make_run(tmp_path / "run", n_train=16, n_valid=4)
    out = train(tiny_config(time_budget_minutes=1e-6, max_steps=50), run)
    info = json.loads((out / "recalign_train.json").read_text())
    assert info["stopped_by_budget"] is True and info["completed"] is False
    assert info["global_step"] == 1 and info["max_steps"] == 50
    assert (run / "checkpoints" / "checkpoint-1").is_dir()
    load_checkpoint(out)


def test_cli_with_shipped_config_writes_offline_wandb_run(tmp_path, monkeypatch):
    """`recalign train --config configs/train-tiny.yaml` (made tiny by -o) with an offline wandb run."""
    from click.testing import CliRunner

    from recalign.cli import main

    for k in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    run = make_run(tmp_path / "run", n_train=16, n_valid=4)
    shipped = Path(__file__).resolve().parents[1] / "configs" / "train-tiny.yaml"
    o = ["max_steps=2", "eval_steps=2", "save_steps=2", "vocab_size=600", "per_device_train_batch_size=8",
         "mixture.cap=null", "max_source_length=64", "time_budget_minutes=null"]
    res = CliRunner().invoke(main, ["train", "--config", str(shipped), "--run-dir", str(run),
                                    "--report-to", "wandb", *sum((["-o", x] for x in o), [])])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "trained t5-tiny for 2/2 steps" in res.output
    runs = list((run / "wandb").rglob("offline-run-*"))
    assert len(runs) == 1
    (log,) = runs[0].glob("run-*.wandb")         # protobuf records: config, history, summary
    raw = log.read_bytes()
    for key in (b"time_budget_minutes", b"t5-tiny", b"learning_rate", b"eval/retrieval_loss", b"eval/loss",
                b"train/loss"):
        assert key in raw, (key, len(raw))


def test_hub_name_offline_is_a_clear_error(monkeypatch):
    from recalign.errors import RecalignError
    from recalign.t5_finetune import build_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RecalignError, match="local-dir.*HF_HUB_OFFLINE=1") as e:
        build_model("google/flan-t5-nonexistent-xyz", tokenizer=None)
    assert ".." not in str(e.value) and str(e.value).endswith("t5-tiny.")


def test_preset_typo_and_missing_local_dir_fail_immediately(monkeypatch, tmp_path):
    """No Hub lookup: a preset typo suggests the preset, a path-like name says the directory is missing."""
    import re
    import time

    from recalign.errors import RecalignError
    from recalign.t5_finetune import build_model
    from recalign.t5_finetune.models import looks_like_path

    def no_hub(*a, **k):
        raise AssertionError("the Hub must not be tried")

    import transformers

    monkeypatch.setattr(transformers.AutoModelForSeq2SeqLM, "from_pretrained", no_hub)
    t0 = time.perf_counter()
    with pytest.raises(RecalignError, match=r"unknown preset 't5-tinyy'\. Did you mean 't5-tiny'.*"
                                            r"for a Hub model pass its full name, e\.g\. google/flan-t5-base"):
        build_model("t5-tinyy", tokenizer=None)
    missing = tmp_path / "nonexistent" / "dir"
    with pytest.raises(RecalignError, match=re.escape(f"local model directory not found: {missing}") + "$"):
        build_model(str(missing), tokenizer=None)
    for name in ("./nope", "../nope", "~/nope-xyz", "a/b/c"):
        with pytest.raises(RecalignError, match="local model directory not found"):
            build_model(name, tokenizer=None)
    assert time.perf_counter() - t0 < 5
    assert not looks_like_path("google/flan-t5-base") and not looks_like_path("t5-small")
    assert looks_like_path(".hidden/model")


def test_collator_pads_dynamically_or_to_max(tmp_path):
    from recalign.t5_finetune import train_tokenizer
    from recalign.t5_finetune.collator import Seq2SeqCollator

    tok = train_tokenizer(["Toy Story", "Heat", "Matrix, The"] * 5, tmp_path / "tok", vocab_size=400)
    feats = [{"input_ids": tok(s).input_ids, "attention_mask": [1] * len(tok(s).input_ids),
              "labels": tok(t).input_ids, "length": 3} for s, t in [("Heat", "Heat"), ("Toy Story, Heat", "Toy Story")]]
    b = Seq2SeqCollator(tok)(feats)
    longest = max(len(f["input_ids"]) for f in feats)
    assert b["input_ids"].shape == (2, longest) and "length" not in b
    assert (b["labels"] == -100).sum() == abs(len(feats[0]["labels"]) - len(feats[1]["labels"]))
    assert b["input_ids"][0, -1] == tok.pad_token_id
    full = Seq2SeqCollator(tok, pad_to_max=(20, 8))(feats)
    assert full["input_ids"].shape == (2, 20) and full["labels"].shape == (2, 8)


def test_config_errors_name_the_field():
    from recalign.errors import RecalignError

    with pytest.raises(RecalignError, match=r"trainer.lr_scheduler_type.*unknown lr_scheduler_type 'cosin'\. "
                                            r"Did you mean 'cosine'"):
        tiny_config(lr_scheduler="cosin")
    with pytest.raises(RecalignError, match="Did you mean 'learning_rate'"):
        tiny_config(learnig_rate=1.0)
    with pytest.raises(RecalignError, match="multiple of eval_steps"):
        tiny_config(save_steps=5, eval_steps=3)
    assert math.isclose(tiny_config(bf16=False).trainer["learning_rate"], 3e-3)


def test_bf16_auto_follows_the_hardware():
    import torch

    from recalign.t5_finetune.precision import probe_cpu
    from recalign.t5_finetune.trainer import _bf16

    expected = (torch.cuda.is_bf16_supported() if torch.cuda.is_available() else probe_cpu().native_bf16)
    assert _bf16("auto") is bool(expected) and _bf16(False) is False   # each capability: test_machine_independence


def test_malformed_override_example_fits_the_section():
    """`recalign train -o max_steps` (no '='): the example is a real key of TrainConfig, not `train.…`."""
    from recalign.config import apply_overrides, from_dict
    from recalign.errors import RecalignError
    from recalign.t5_finetune import TrainConfig

    with pytest.raises(RecalignError, match=r"'max_steps' is not KEY=VALUE \(e\.g\. model=t5-tiny\)") as e:
        from_dict(TrainConfig, {}, overrides=["max_steps"])
    assert "train." not in str(e.value)
    assert from_dict(TrainConfig, {}, overrides=["model=t5-tiny"]).model == "t5-tiny"  # the example is valid
    with pytest.raises(RecalignError, match=r"e\.g\. topk=\[5\]"):
        apply_overrides({}, ["=3"], example="topk=[5]")


def test_empty_train_splits_load_and_give_a_clear_error(tmp_path):
    """Users with 3 interactions leave every train split empty: it loads back (0 rows, all
    columns) and training says why instead of failing inside datasets."""
    from recalign.data import leave_one_out, load_dataset
    from recalign.errors import RecalignError
    from recalign.materialize import generate, load_task_data
    from recalign.t5_finetune.config import MixtureSpec
    from recalign.t5_finetune.data import load_mixture

    d = tmp_path / "mini"
    d.mkdir()
    rows = "".join(f"{u}\t{i}\t{t}\n" for u in ("1", "2") for t, i in enumerate("abc", 1))
    (d / "mini.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + rows)
    run = tmp_path / "run"
    generate(leave_one_out(load_dataset(d)), ["retrieval", "bpr"], run)
    empty = load_task_data(run, "retrieval", "train")
    assert len(empty) == 0 and {"input", "target", "user", "rating"} <= set(empty.column_names)
    assert len(load_task_data(run, "retrieval", "test")) == 2
    with pytest.raises(RecalignError, match=r"no training examples: the train split of every task \(retrieval, bpr\)"):
        load_mixture(MixtureSpec(tasks=["retrieval", "bpr"]), run)

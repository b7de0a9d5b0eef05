"""Issue 26 items 1, 2 and 14 (last point): a stage whose inputs changed under it is refused with
one line naming what changed, whichever command runs it — never rc 0 on a stale split, text or model."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from recalign.cli import main
from recalign.errors import RecalignError
from recalign.pipeline import RunConfig, Stages
from recalign.run_dir import RunDir

TRAIN = ["model=t5-tiny", "vocab_size=400", "max_steps=2", "eval_steps=2", "save_steps=2", "eval_max_examples=4",
         "per_device_train_batch_size=4", "report_to=[]", "time_budget_minutes=null", "curve={users: 0}"]


def _ok(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output[-3000:]
    return r


def _refused(args, *expected):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1, r.output[-3000:]
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and all(e in last for e in expected), r.output[-3000:]
    return last


@pytest.fixture
def trained(tmp_path, tiny_dir):
    """A finished tiny run: prepared, generated (retrieval), trained 2 steps, evaluated."""
    run = tmp_path / "run"
    cfg = tmp_path / "train.yaml"
    cfg.write_text("\n".join(o.replace("=", ": ", 1) for o in TRAIN) + "\n")
    _ok(["data", "prepare", "-d", str(tiny_dir), "--run-dir", str(run)])
    _ok(["generate", "-d", str(tiny_dir), "--run-dir", str(run), "--tasks", "retrieval", "--no-progress"])
    _ok(["train", "--config", str(cfg), "--run-dir", str(run)])
    _ok(["evaluate", "--run-dir", str(run), "--tasks", "retrieval", "--templates", "seen", "--beam", "2",
         "--no-progress"])
    return run, cfg


def test_evaluate_train_baseline_compare_refuse_a_re_prepared_split(trained, tiny_dir):
    run, cfg = trained
    metrics = (run / "results" / "recalign-t5" / "metrics.json").read_text()
    _ok(["data", "prepare", "-d", str(tiny_dir), "--user-k", "4", "--run-dir", str(run)])   # another filter
    ev = ["evaluate", "--run-dir", str(run), "--tasks", "retrieval", "--templates", "seen", "--beam", "2",
          "--no-progress"]
    line = _refused(ev, f"{run / 'text'} was generated from another split than {run / 'data'} holds now",
                    "recalign generate")
    assert "→" in line
    assert (run / "results" / "recalign-t5" / "metrics.json").read_text() == metrics    # nothing overwritten
    _refused(["train", "--config", str(cfg), "--run-dir", str(run)], "was generated from another split")
    _refused(["baseline", "-m", "Pop", "--run-dir", str(run)], "was generated from another split")
    _refused(["compare", str(run)], "recalign-t5/metrics.json was computed on another split",
             f"than {run / 'data'} holds now")
    # text generated again from the new split: the model was trained from the old text
    _ok(["generate", "-d", str(tiny_dir), "--run-dir", str(run), "--tasks", "retrieval", "--no-progress"])
    _refused(ev, f"{run / 'model'} was trained from other text than {run / 'text'} holds now",
             f"delete {run / 'model'} and {run / 'checkpoints'}")
    # unfinished training from the old text is not resumed either
    _refused(["train", "--config", str(cfg), "--run-dir", str(run)], f"{run / 'checkpoints'} was started from "
             "other inputs (manifest:")
    shutil.rmtree(run / "model")
    shutil.rmtree(run / "checkpoints")
    _ok(["train", "--config", str(cfg), "--run-dir", str(run)])
    _ok(ev)
    new = json.loads((run / "results" / "recalign-t5" / "metrics.json").read_text())
    from recalign.data.fingerprint import split_fingerprint
    assert new["split_fingerprint"] == split_fingerprint(run / "data")


def test_train_refusal_names_the_checkpoints_too(tmp_path):
    """Following the advice of a refused finished train stage must not lead to a second refusal."""
    run = RunDir(tmp_path / "run")
    stage = Stages(run, RunConfig(run_dir=str(run.root)), lambda m: None)

    def finish():
        (run.checkpoints / "checkpoint-2").mkdir(parents=True, exist_ok=True)
        run.model.mkdir(parents=True, exist_ok=True)
        run.train_info.write_text("{}")

    stage("train", run.train_info, finish, run.model, inputs={"train": {"lr": 1}}, resumes=run.checkpoints)
    with pytest.raises(RecalignError) as e:
        stage("train", run.train_info, finish, run.model, inputs={"train": {"lr": 2}}, resumes=run.checkpoints)
    assert f"delete {run.train_info} and {run.checkpoints} to redo this stage" in str(e.value)
    run.train_info.unlink()
    shutil.rmtree(run.checkpoints)                # both deleted, as told: the stage runs
    stage("train", run.train_info, finish, run.model, inputs={"train": {"lr": 2}}, resumes=run.checkpoints)
    assert run.stage_state("train", {"train": {"lr": 2}}, run.train_info) == "done"


def test_embedder_eval_only_refuses_another_split_or_setting(tmp_path, tiny_dir):
    run = RunDir(tmp_path / "run")
    info = {"model": "embed-tiny", "instruction": True, "split_fingerprint": None}
    _ok(["data", "prepare", "-d", str(tiny_dir), "--run-dir", str(run.root)])
    from recalign.data.fingerprint import split_fingerprint
    info["split_fingerprint"] = split_fingerprint(run.data)
    model = run.root / "embed" / "model"
    model.mkdir(parents=True)
    (model / "train_info.json").write_text(json.dumps(info))
    args = ["train-embedder", "--run-dir", str(run.root), "--eval-only"]
    _refused(args + ["-o", "instruction=false"], "trained under another split or setting (instruction: True → False)")
    _ok(["data", "prepare", "-d", str(tiny_dir), "--user-k", "4", "--run-dir", str(run.root)])
    _refused(args, "trained under another split or setting (split_fingerprint:", str(model))
    assert not (run.root / "results").exists() and not (run.root / "embed" / "text").exists()
    shutil.rmtree(model)
    _refused(args, "no trained embedder here")

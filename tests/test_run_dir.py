"""The run directory's owner: one lock per RUN (real processes, real signals), leftovers of a
killed writer cleaned, one-line errors for unwritable directories, stage fingerprints."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recalign.errors import RecalignError
from recalign.pipeline import DataConfig, RunConfig, Stages, load_run_config, prepare_inputs, recorded_source
from recalign.run_dir import RunDir

HOLDER = """
import sys, time
from recalign.atomic_io import atomic_path
from recalign.run_dir import RunDir
run = RunDir(sys.argv[1])
with run.lock("generate"):
    with atomic_path(run.task_split("retrieval", "train"), directory=True) as tmp:
        (tmp / "half.arrow").write_text("half-written")
        print("locked", flush=True)
        time.sleep(60)
"""


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recalign.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_second_writer_fails_fast_and_a_killed_writer_leaves_nothing(tmp_path, tiny_dir):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.time()
        r = _cli("data", "prepare", "-d", str(tiny_dir), "--run-dir", str(run))
        assert r.returncode == 1 and time.time() - t0 < 30
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and "in use by `recalign generate` (pid" in err[0] and str(holder.pid) in err[0], err
        assert not RunDir(run).has_split()                      # nothing was written by the refused command
        leftovers = list((run / "text" / "retrieval").glob(".train.*.tmp"))
        assert len(leftovers) == 1                              # the holder is mid-write
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert list((run / "text" / "retrieval").glob(".train.*.tmp"))   # SIGKILL: no cleanup ran
    r = _cli("data", "prepare", "-d", str(tiny_dir), "--run-dir", str(run))
    assert r.returncode == 0, r.stderr
    assert RunDir(run).has_split()
    assert not list((run / "text" / "retrieval").glob(".train.*.tmp"))  # cleaned by the next writer
    assert not (run / "text" / "retrieval" / "train").exists()            # the killed write never landed


def test_unwritable_run_dir_is_one_line(tmp_path, tiny_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = _cli("data", "prepare", "-d", str(tiny_dir), "--run-dir", str(blocker / "run"))
    err = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(err) == 1 and "cannot write the run directory" in err[0], r.stderr


def test_run_refuses_data_prepared_otherwise_before_writing_its_config(tmp_path, tiny_dir):
    run = tmp_path / "run"
    assert _cli("data", "prepare", "-d", str(tiny_dir), "--run-dir", str(run), "-o", "min_interactions=4"
                ).returncode == 0
    r = _cli("run", "--run-dir", str(run), "-o", f"data.dataset={tiny_dir}", "--report-to", "none")
    err = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(err) == 1, r.stderr
    assert "[prepare]" in err[0] and "min_interactions: 4 → 3" in err[0], err[0]
    assert not (run / "run_config.yaml").exists()


def test_prepare_stage_matches_the_recorded_source(tmp_path, tiny_dir):
    run = RunDir(tmp_path / "run")
    run.ensure_split(tiny_dir, min_interactions=4)
    assert recorded_source(run) == prepare_inputs(DataConfig(dataset=str(tiny_dir), min_interactions=4))
    assert recorded_source(run) != prepare_inputs(DataConfig(dataset=str(tiny_dir)))


def test_stage_runs_once_per_inputs_and_names_what_changed(tmp_path):
    run = RunDir(tmp_path / "run")
    out = run.metrics("M")
    calls = []

    def work():
        calls.append(1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"n": len(calls)}))

    log: list[str] = []
    stage = Stages(run, RunConfig(run_dir=str(run.root)), log.append)
    stage("baseline-M", out, work, out.parent, inputs={"data": "abc", "overrides": {"epochs": 1}})
    stage("baseline-M", out, work, out.parent, inputs={"data": "abc", "overrides": {"epochs": 1}})
    assert len(calls) == 1 and log[-1].startswith("[baseline-M] already done")
    assert (run.root / "run_config.yaml").is_file() and json.loads(run.timings.read_text())["baseline-M"] >= 0
    with pytest.raises(RecalignError, match=r"made from other inputs \(overrides.epochs: 1 → 2\)"):
        stage("baseline-M", out, work, out.parent, inputs={"data": "abc", "overrides": {"epochs": 2}})
    out.write_text("{}")   # another command rewrote the output
    with pytest.raises(RecalignError, match="rewritten since this stage made it"):
        stage("baseline-M", out, work, out.parent, inputs={"data": "abc", "overrides": {"epochs": 1}})
    out.unlink()           # deleting the output redoes the stage
    stage("baseline-M", out, work, out.parent, inputs={"data": "abc", "overrides": {"epochs": 2}})
    assert len(calls) == 2


def test_report_to_none_turns_off_every_wandb_use():
    from recalign.pipeline import train_config

    cfg = load_run_config("configs/ml100k-cpu.yaml", report_to=[])
    assert cfg.report_to == [] and list(train_config(cfg).report_to or []) in ([], ["none"])
    shipped = load_run_config("configs/ml100k-cpu.yaml")
    assert shipped.report_to == ["wandb"] and "wandb" in train_config(shipped).report_to


def test_paths_have_one_spelling():
    run = RunDir("R")
    assert run.manifest_path == Path("R/text/manifest.json") and run.train_info == Path("R/model/recalign_train.json")
    assert run.metrics("BPR") == Path("R/results/BPR/metrics.json") and run.split_meta == Path("R/data/split.json")


def test_unfinished_training_from_other_inputs_is_not_resumed(tmp_path):
    run = RunDir(tmp_path / "run")
    stage = Stages(run, RunConfig(run_dir=str(run.root)), lambda m: None)

    def killed():
        (run.checkpoints / "checkpoint-2").mkdir(parents=True)
        raise KeyboardInterrupt

    def finish():
        run.model.mkdir(parents=True)
        run.train_info.write_text("{}")

    with pytest.raises(KeyboardInterrupt):
        stage("train", run.train_info, killed, run.model, inputs={"train": {"lr": 1}}, resumes=run.checkpoints)
    with pytest.raises(RecalignError, match=r"checkpoints was started from other inputs \(train.lr: 1 → 2\)"):
        stage("train", run.train_info, finish, run.model, inputs={"train": {"lr": 2}}, resumes=run.checkpoints)
    assert not run.train_info.exists()
    stage("train", run.train_info, finish, run.model, inputs={"train": {"lr": 1}}, resumes=run.checkpoints)
    assert run.stage_state("train", {"train": {"lr": 1}}, run.train_info) == "done"

"""`recalign run` end to end on ml-100k with a tiny budget: every stage, resumability, the table."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from recalign.cli import main

pytestmark = pytest.mark.slow

OVERRIDES = ["generate.tasks=[retrieval,ranking,rating,mim,mlm,bpr]",
             "generate.max_train_examples={retrieval: 600, ranking: 300, rating: 300, mim: 300, mlm: 300, bpr: 300}",
             "train.max_steps=8", "train.eval_steps=4", "train.save_steps=4", "train.eval_max_examples=8",
             "train.per_device_train_batch_size=8", "train.report_to=[]", "train.time_budget_minutes=null",
             "train.vocab_size=2000", "train.mixture.total=2000", "train.curve.users=10",
             "evaluate.max_users=12", "evaluate.beam=10", "evaluate.batch_size=12",
             "baselines.models=[Pop,BPR]", "baselines.overrides={BPR: {epochs: 1}}"]


def test_run_end_to_end_and_resume(tmp_path):
    run = tmp_path / "run"
    args = ["run", "-c", "configs/ml100k-cpu.yaml", "--run-dir", str(run), "--ablation"]
    for o in OVERRIDES:
        args += ["-o", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output[-3000:]
    for name in ("recalign-t5", "recalign-t5-rec-only", "Pop", "BPR", "UserItemBias"):
        assert (run / "results" / name / "metrics.json").is_file(), name
    report = (run / "report.md").read_text()
    assert "recalign-t5-rec-only" in report and "| Pop" in report and "943" in report
    assert (run / "report.png").stat().st_size > 1000
    assert "PARTIAL: 12 of 943 users" in report                 # evaluate.max_users rows are marked
    assert list(run.glob("wandb/offline-run-*"))                 # the comparison went to wandb (offline)
    timings = json.loads((run / "timings.json").read_text())
    assert {"prepare", "generate", "train", "train-rec-only", "evaluate", "baseline-Pop"} <= set(timings)
    t5 = json.loads((run / "results" / "recalign-t5" / "metrics.json").read_text())
    assert t5["retrieval"]["users"] == 12 and 0.0 <= t5["retrieval"]["recall@10"] <= 1.0
    assert "retrieval_unseen" in t5
    pop = json.loads((run / "results" / "Pop" / "metrics.json").read_text())
    assert pop["retrieval"]["users"] == 943 and pop["retrieval"]["recall@20"] > 0.05
    # rec-only model trained without auxiliary tasks
    info = json.loads((run / "ablation" / "rec-only" / "model" / "recalign_train.json").read_text())
    assert info["config"]["mixture"]["tasks"] == ["retrieval", "ranking", "rating"]
    assert (run / "stages" / "train.json").is_file() and (run / "stages" / "evaluate.json").is_file()
    # resumable: a second run does no work again
    r2 = CliRunner().invoke(main, args)
    assert r2.exit_code == 0, r2.output[-3000:]
    assert r2.output.count("already done") >= 8
    # a finished stage made from other settings is refused, naming what changed; nothing is rewritten
    config = (run / "run_config.yaml").read_text()
    for override, stage, change in (("evaluate.beam=5", "[evaluate]", "evaluate.beam: 10 → 5"),
                                    ("generate.seed=1", "[generate]", "settings.seed: 0 → 1"),
                                    ("train.learning_rate=0.01", "[train]", "train.")):
        r3 = CliRunner().invoke(main, args + ["-o", override])
        assert r3.exit_code == 1 and stage in r3.output and change in r3.output, (override, r3.output[-2000:])
        assert r3.output.strip().splitlines()[-1].startswith("Error: "), r3.output[-2000:]
    assert (run / "run_config.yaml").read_text() == config
    # the multi-GPU recipe: `recalign train` with the run config, then `run` takes that model as its train
    shutil.rmtree(run / "model")
    targs = ["train", "--config", "configs/ml100k-cpu.yaml", "--run-dir", str(run)]
    for o in OVERRIDES:
        targs += ["-o", o[len("train."):]] if o.startswith("train.") else []
    r4 = CliRunner().invoke(main, targs)
    assert r4.exit_code == 0, r4.output[-3000:]
    r5 = CliRunner().invoke(main, args)
    assert "[train] already done" in r5.output, r5.output[-3000:]
    assert r5.exit_code == 1 and "[evaluate]" in r5.output and "model:" in r5.output   # results of the old model

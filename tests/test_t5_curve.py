"""Learning curves: the real retrieval evaluator on a tiny prepared run, points written while
training (clock paused while evaluating), dropped after a resume's checkpoint, and the plot."""
from __future__ import annotations

import json
import time

import pytest

from recalign.eval.curves import curve_evaluator, curve_users, plot_curves
from recalign.t5_finetune.curve import read_curve
from recalign.t5_finetune.testing import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The conftest's tiny dataset prepared and generated (retrieval only) into a run directory."""
    from conftest import write_tiny

    from recalign.data import prepare
    from recalign.materialize import generate

    d = tmp_path_factory.mktemp("curve")
    run = d / "run"
    split = prepare(write_tiny(d / "tiny"), run)
    generate(split, ["retrieval"], run)
    return run


def test_curve_points_while_training(tiny_run, monkeypatch):
    from recalign.t5_finetune import train

    for k in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")

    fn = curve_evaluator(tiny_run, users=2, seed=0)
    calls = []

    def slow_fn(model, tok):
        calls.append(model.training)
        time.sleep(0.3)                            # curve time must not count as training time
        return fn(model, tok)

    cfg = tiny_config(max_steps=4, eval_steps=2, save_steps=2, mixture={"tasks": []},
                      curve={"users": 2, "every_steps": 2}, per_device_train_batch_size=4, report_to=["wandb"])
    out = train(cfg, tiny_run, evaluate_fn=slow_fn)
    pts = read_curve(tiny_run / "logs" / "curve.jsonl")
    assert [p["step"] for p in pts] == [2, 4] and calls == [False, False]
    assert [p["examples_seen"] for p in pts] == [8, 16]
    assert all(p["users"] == 2 and p["eval_seconds"] >= 0.3 for p in pts)
    # 8 items, beam 20: every unmasked item is ranked, so the target is always in the top 10
    assert all(p["recall@10"] == 1.0 and 0 < p["ndcg@10"] <= 1.0 for p in pts)
    assert 0 < pts[0]["train_minutes"] < pts[1]["train_minutes"]
    info = json.loads((out / "recalign_train.json").read_text())
    assert info["curve_eval_s"] >= 0.6
    assert info["train_runtime_s"] < info["train_runtime_this_leg_s"] - 0.5   # curve time excluded
    (log,) = (tiny_run / "wandb").rglob("run-*.wandb")                        # the points went to wandb too
    assert b"curve/ndcg@10" in log.read_bytes() and b"curve/examples_seen" in log.read_bytes()


def test_curve_evaluator_is_fixed_and_seeded(tiny_run):
    from recalign.t5_finetune import build_model, train_tokenizer
    from recalign.run_dir import RunDir

    titles = [it.title for it in RunDir(tiny_run).split().items.values()]
    tok = train_tokenizer(titles * 5, tiny_run / "tok", vocab_size=400)
    model = build_model("t5-tiny", tok).eval()
    fn = curve_evaluator(tiny_run, users=2, seed=0, beam=3)
    a, b = fn(model, tok), fn(model, tok)
    assert a == b and a["users"] == 2 and 0 <= a["recall@10"] <= 1
    rows = [{"user": u} for u in ["u3", "u1", "u2", "u1"]]
    assert [r["user"] for r in curve_users(rows, 5)] == ["u1", "u2", "u3"]
    assert curve_users(rows, 2, seed=1) == curve_users(rows, 2, seed=1)
    assert curve_evaluator(tiny_run, users=0) is None
    assert curve_evaluator(tiny_run.parent / "nothing", users=5) is None


def test_resume_drops_points_after_the_checkpoint(tmp_path):
    from transformers import TrainerControl, TrainerState

    from recalign.t5_finetune.callbacks import TrainClock
    from recalign.t5_finetune.curve import LearningCurve

    path = tmp_path / "curve.jsonl"
    path.write_text("".join(json.dumps({"step": s, "ndcg@10": s / 100}) + "\n" for s in (2, 4, 6)))
    cb = LearningCurve(lambda m, t: {}, path, TrainClock(), every_steps=2)
    cb.on_train_begin(None, TrainerState(global_step=4, max_steps=10), TrainerControl())
    assert [p["step"] for p in read_curve(path)] == [2, 4]


def test_plot_curves(tmp_path):
    pts = [{"step": s, "train_minutes": s / 10, "examples_seen": 32 * s, "ndcg@10": 0.01 * s, "users": 50}
           for s in (1, 2, 3)]
    out = plot_curves({"recalign-t5": pts, "recalign-t5-rec-only": pts[:2]}, {"SASRec": 0.05}, tmp_path / "c.png")
    assert out == tmp_path / "c.png" and out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 5000
    assert plot_curves({"x": [{"step": 1}]}, {}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()

"""The learning-rate schedule paced by a time budget."""
from __future__ import annotations

import json
import math

from recalign.t5_finetune import train
from recalign.t5_finetune.testing import make_run, tiny_config
from recalign.t5_finetune.trainer import budget_lr_lambda


def test_budget_lambda_values():
    ticks = iter([0.0, 5.0, 10.0, 50.0, 100.0, 500.0])
    f = budget_lr_lambda(10_000, 100.0, 0.1, "cosine", clock=ticks.__next__)
    assert f(0) == 1e-3                                 # start of warm-up
    assert math.isclose(f(1), 0.5)                      # 5 s of a 10 s warm-up
    assert math.isclose(f(2), 1.0)                      # warm-up done
    assert math.isclose(f(3), 0.5 * (1 + math.cos(math.pi * 40 / 90)))
    assert f(4) == 0.0 and f(5) == 0.0                  # budget used up: fully decayed
    # steps can be further along than time: progress is the max of the two
    g = budget_lr_lambda(100, 1e9, 0.0, "linear", clock=iter([0.0, 0.0]).__next__)
    assert math.isclose(g(50), 0.5)
    # an integer warm-up counts steps
    h = budget_lr_lambda(100, 1e9, 4, "constant_with_warmup", clock=iter([0.0, 0.0, 0.0]).__next__)
    assert (h(0), h(2), h(8)) == (0.25, 0.5, 1.0)


def test_budget_run_ends_with_decayed_lr(tmp_path):
    run = make_run(tmp_path / "run")
    # max_steps far beyond what 3 seconds allow: a step schedule would barely have warmed up
    train(tiny_config(time_budget_minutes=0.05, max_steps=100_000, warmup_steps=0.05, eval_steps=10_000,
                      save_steps=10_000, logging_steps=1), run)
    info = json.loads((run / "model" / "recalign_train.json").read_text())
    assert info["stopped_by_budget"] and info["global_step"] < 100_000
    lrs = [r["learning_rate"] for r in map(json.loads, (run / "logs" / "train.jsonl").open())
           if "learning_rate" in r]
    peak = 3e-3
    assert max(lrs) > 0.5 * peak          # warmed up fully
    assert lrs[-1] < 0.1 * peak           # and decayed by the end of the budget


def test_budget_progress_bar_counts_budget_seconds_not_steps():
    """Under a time budget the bar's total is the budget (s), capped, with the step beside it;
    a resumed run's bar starts where its training clock stood."""
    from transformers import TrainerControl, TrainerState

    from recalign.t5_finetune.callbacks import BudgetProgress

    elapsed = iter([12.0, 30.5, 31.0, 400.0])
    p = BudgetProgress(120, elapsed.__next__)
    st = TrainerState(max_steps=100000)
    p.on_train_begin(None, st, TrainerControl())
    assert p.training_bar.total == 120 and p.training_bar.n == 12
    st.global_step = 7
    p.on_step_end(None, st, TrainerControl())
    assert p.training_bar.n == 30 and "step 7" in str(p.training_bar)
    st.global_step = 8
    p.on_step_end(None, st, TrainerControl())
    assert p.training_bar.n == 31
    st.global_step = 9
    p.on_step_end(None, st, TrainerControl())
    assert p.training_bar.n == 120                    # never past the budget
    p.on_train_end(None, st, TrainerControl())
    assert p.training_bar is None

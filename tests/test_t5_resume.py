"""A real kill: SIGKILL a `recalign train` process after its first checkpoints, resume, and check
that the resumed leg starts at the checkpoint, the time budget and the LR schedule continue
(no second budget, no second warm-up), and the reported training time is the budget's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from recalign.t5_finetune.checkpoints import MARKER
from recalign.t5_finetune.testing import make_run, tiny_config

pytestmark = pytest.mark.slow

BUDGET_S = 10.0
KILL_AFTER_S = 4.0      # training seconds recorded in a checkpoint before the kill


def _recalign() -> str:
    exe = Path(sys.executable).with_name("recalign")
    return str(exe) if exe.is_file() else "recalign"


def _markers(ckpts: Path) -> dict[int, dict]:
    out = {}
    for m in ckpts.glob(f"checkpoint-*/{MARKER}"):
        try:
            rec = json.loads(m.read_text())
        except ValueError:          # being replaced: read it next time
            continue
        out[rec["step"]] = rec
    return out


def test_sigkill_mid_run_then_resume_continues_budget_and_schedule(tmp_path):
    from recalign.t5_finetune import train

    run = make_run(tmp_path / "run", n_train=64, n_valid=8)
    over = dict(time_budget_minutes=BUDGET_S / 60, max_steps=100_000, warmup_steps=0.05, eval_steps=20,
                save_steps=20, save_total_limit=2, logging_steps=1, eval_max_examples=4, curve={"users": 0})
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump({**tiny_config().__dict__, "mixture": tiny_config().mixture.__dict__,
                                        "curve": {"users": 0}, **over}))
    env = {**os.environ, "WANDB_MODE": "disabled", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen([_recalign(), "train", "--config", str(cfg_path), "--run-dir", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            done = _markers(run / "checkpoints")
            if any(m["train_seconds"] >= KILL_AFTER_S for m in done.values()):
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint after 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model").exists()
    done = _markers(run / "checkpoints")
    step0 = max(done)
    t0 = done[step0]["train_seconds"]
    assert t0 >= KILL_AFTER_S
    first_leg = [json.loads(line) for line in (run / "logs" / "train.jsonl").read_text().splitlines()]
    lr_at_ckpt = next(e["learning_rate"] for e in first_leg if e.get("step") == step0 and "learning_rate" in e)

    out = train(tiny_config(**over), run)       # the resume (same config)
    info = json.loads((out / "recalign_train.json").read_text())
    events = [json.loads(line) for line in (run / "logs" / "train.jsonl").read_text().splitlines()]
    begins = [i for i, e in enumerate(events) if e["event"] == "train_begin"]
    leg = events[begins[-1]:]
    assert len(begins) == 2 and info["resumed_from"] == f"checkpoint-{step0}"
    # the resumed leg starts at the checkpoint: earlier steps are not run again
    assert leg[0]["step"] == step0 and leg[0]["train_seconds"] == pytest.approx(t0, abs=0.1)
    logged = [e["step"] for e in leg if "loss" in e]
    assert logged[0] == step0 + 1 and logged == sorted(set(logged))
    assert leg[-1]["steps_this_leg"] == info["global_step"] - step0
    # the budget continues: the run trained about BUDGET_S in all, the resumed leg only what was left
    assert info["stopped_by_budget"] is True
    assert BUDGET_S <= info["train_runtime_s"] < BUDGET_S + 2.5
    this_leg = leg[-1]["train_seconds"] - leg[0]["train_seconds"]
    assert this_leg < BUDGET_S - t0 + 2.5 <= BUDGET_S - 1.5      # not a second full budget
    # the LR continues on the time-paced cosine: no second warm-up from ~0, only decay
    lrs = [e["learning_rate"] for e in leg if "learning_rate" in e]
    assert 0.8 * lr_at_ckpt < lrs[0] <= lr_at_ckpt * 1.001
    assert all(b <= a * 1.001 for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.5 * lrs[0]

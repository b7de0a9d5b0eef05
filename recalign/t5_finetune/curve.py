"""The learning curve: the model measured while it trains, points in ``RUN/logs/curve.jsonl``.

``LearningCurve(evaluate_fn, path, ...)`` calls ``evaluate_fn(model, tokenizer) -> dict`` (built
by the caller, e.g. ``recalign.eval.curves.curve_evaluator``: valid NDCG@10 / Recall@10 of a fixed,
seeded subset of users with the real retrieval decoder; t5_finetune does not import eval) every
``every_steps`` steps or ``every_seconds`` seconds of training, and once more when training stops.
Each point is one JSON line::

    {"step": 400, "examples_seen": 12800, "train_minutes": 3.2, "ndcg@10": 0.031, "recall@10": 0.06,
     "users": 100, "eval_seconds": 2.1}

The clock is paused while it evaluates (the curve costs no training time and no budget). A resumed
run first drops the points after its checkpoint (the killed leg's steps are trained again).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

from transformers import TrainerCallback

from ..atomic_io import write_jsonl
from .callbacks import TrainClock

log = logging.getLogger(__name__)
EvaluateFn = Callable[..., dict]


def read_curve(path: str | Path) -> list[dict]:
    """The points of a ``curve.jsonl`` ([] when absent)."""
    p = Path(path)
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


class LearningCurve(TrainerCallback):
    """Append a curve point every ``every_steps`` steps or ``every_seconds`` of training time
    (whichever is set; both: whichever comes first), and at the last step."""

    def __init__(self, evaluate_fn: EvaluateFn, path: str | Path, clock: TrainClock, *,
                 every_steps: int | None = None, every_seconds: float | None = None) -> None:
        if not every_steps and not every_seconds:
            raise ValueError("set every_steps or every_seconds")
        self.evaluate_fn, self.path, self.clock = evaluate_fn, Path(path), clock
        self.every_steps, self.every_seconds = every_steps, every_seconds
        self.last_step = 0
        self.last_seconds = 0.0
        self.eval_seconds = 0.0

    def on_train_begin(self, args, state, control, **kw):
        self.last_step, self.last_seconds = state.global_step, self.clock.elapsed()
        if state.is_world_process_zero and self.path.is_file():
            kept = [p for p in read_curve(self.path) if p["step"] <= state.global_step]
            write_jsonl(self.path, kept)

    def _due(self, state, control) -> bool:
        if state.global_step <= self.last_step:
            return False
        if control.should_training_stop or state.global_step >= state.max_steps:
            return True
        if self.every_steps and state.global_step - self.last_step >= self.every_steps:
            return True
        return bool(self.every_seconds and self.clock.elapsed() - self.last_seconds >= self.every_seconds)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
        if not state.is_world_process_zero or not self._due(state, control):
            return
        self.last_step, self.last_seconds = state.global_step, self.clock.elapsed()
        with self.clock.paused():
            t0 = time.perf_counter()
            was_training = model.training
            model.eval()
            try:
                metrics = self.evaluate_fn(model, processing_class)
            finally:
                model.train(was_training)
            dt = time.perf_counter() - t0
        self.eval_seconds += dt
        per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        point = {"step": state.global_step, "examples_seen": state.global_step * per_step,
                 "train_minutes": round(self.last_seconds / 60.0, 4), **metrics, "eval_seconds": round(dt, 3)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(point, default=float) + "\n")
        self._to_wandb(point)

    @staticmethod
    def _to_wandb(point: dict) -> None:
        try:
            import wandb   # lazy: optional integration
        except ImportError:  # pragma: no cover
            return
        if wandb.run is not None:
            wandb.log({f"curve/{k}": v for k, v in point.items() if isinstance(v, (int, float))})

"""Trainer callbacks: JSON-lines log, time budget (and its progress bar), config to wandb, a test hook."""
from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback


class JsonlLogger(TrainerCallback):
    """Append every log / eval event to ``RUN/logs/train.jsonl`` (one JSON object a line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _write(self, state, record: dict) -> None:
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"time": round(time.time(), 3), "step": state.global_step,
                                "epoch": state.epoch, **record}, default=float) + "\n")

    def on_train_begin(self, args, state, control, **kw):
        self._write(state, {"event": "train_begin", "max_steps": state.max_steps})

    def on_log(self, args, state, control, logs=None, **kw):
        self._write(state, {"event": "log", **(logs or {})})

    def on_save(self, args, state, control, **kw):
        self._write(state, {"event": "save", "checkpoint": f"checkpoint-{state.global_step}"})

    def on_train_end(self, args, state, control, **kw):
        self._write(state, {"event": "train_end", "best_metric": state.best_metric,
                            "best_model_checkpoint": state.best_model_checkpoint})


class BudgetProgress(ProgressCallback):
    """The training bar in *seconds of the time budget*, with the step count beside it.

    Under a budget ``max_steps`` is only a ceiling, so the default bar ("4% 3804/100000,
    5:49:51 left") misleads; this one ends when the budget does. Evaluation bars and the
    log lines are the Trainer's own.
    """

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.clock = clock
        self.start = 0.0
        self.shown = 0

    def on_train_begin(self, args, state, control, **kw):
        from tqdm.auto import tqdm

        self.start, self.shown = self.clock(), 0
        if state.is_world_process_zero:
            self.training_bar = tqdm(total=int(round(self.seconds)), unit="s", desc="train (time budget)",
                                     dynamic_ncols=True,
                                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s{postfix}")

    def on_step_end(self, args, state, control, **kw):
        if state.is_world_process_zero and self.training_bar is not None:
            now = int(min(self.seconds, self.clock() - self.start))
            if now > self.shown:
                self.training_bar.update(now - self.shown)
                self.shown = now
            self.training_bar.set_postfix_str(f"step {state.global_step}", refresh=False)


class TimeBudget(TrainerCallback):
    """Stop cleanly after ``minutes`` of training: evaluate, save, and remember why."""

    def __init__(self, minutes: float | None) -> None:
        self.seconds = None if minutes is None else minutes * 60.0
        self.start: float | None = None
        self.stopped = False

    def on_train_begin(self, args, state, control, **kw):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kw):
        if self.seconds is None or self.start is None or state.global_step >= state.max_steps:
            return
        if time.monotonic() - self.start >= self.seconds:
            self.stopped = True
            control.should_training_stop = True
            control.should_save = True
            if args.eval_strategy != "no":
                control.should_evaluate = True


class WandbConfig(TrainerCallback):
    """Put the resolved recalign config into the wandb run (after WandbCallback started it)."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def on_train_begin(self, args, state, control, **kw):
        try:
            import wandb
        except ImportError:  # pragma: no cover
            return
        if state.is_world_process_zero and wandb.run is not None:
            wandb.run.config.update({"recalign": self.config}, allow_val_change=True)


class Interrupt(TrainerCallback):
    """Raise ``KeyboardInterrupt`` right after checkpoint ``step`` is saved (tests use it to
    simulate a killed run)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kw):
        if state.global_step == self.step:
            raise KeyboardInterrupt(f"interrupted after saving checkpoint-{self.step}")

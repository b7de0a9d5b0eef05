"""Trainer callbacks: JSON-lines log, the training clock and time budget (and its progress bar),
config to wandb, a test hook."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback


class JsonlLogger(TrainerCallback):
    """Append every log / eval event to ``RUN/logs/train.jsonl`` (one JSON object a line)."""

    def __init__(self, path: str | Path, clock: "TrainClock | None" = None) -> None:
        self.path = Path(path)
        self.clock = clock
        self.first_step = 0

    def _write(self, state, record: dict) -> None:
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"time": round(time.time(), 3), "step": state.global_step,
                                "epoch": state.epoch, **record}, default=float) + "\n")

    def on_train_begin(self, args, state, control, **kw):
        self.first_step = state.global_step          # > 0 when this leg resumes a checkpoint
        self._write(state, {"event": "train_begin", "max_steps": state.max_steps,
                            "train_seconds": self.clock.elapsed() if self.clock else None})

    def on_log(self, args, state, control, logs=None, **kw):
        self._write(state, {"event": "log", **(logs or {})})

    def on_save(self, args, state, control, **kw):
        self._write(state, {"event": "save", "checkpoint": f"checkpoint-{state.global_step}"})

    def on_train_end(self, args, state, control, **kw):
        self._write(state, {"event": "train_end", "best_metric": state.best_metric,
                            "best_model_checkpoint": state.best_model_checkpoint,
                            "steps_this_leg": state.global_step - self.first_step,
                            "train_seconds": self.clock.elapsed() if self.clock else None})


class TrainClock:
    """Seconds of training, continued across resumes (``elapsed`` restored from the checkpoint)
    and paused while the learning curve evaluates. The time budget, the budget-paced LR schedule,
    the progress bar and the reported training time all read this one clock.

    >>> ticks = iter([100.0, 110.0, 112.0, 130.0, 150.0])
    >>> c = TrainClock(elapsed=60.0, now=ticks.__next__)
    >>> c.elapsed()           # not started: what the checkpoint recorded
    60.0
    >>> c.start()             # at 100
    >>> with c.paused():      # 110 .. 112 not counted
    ...     pass
    >>> c.elapsed(), c.paused_s   # at 130: 60 + 30 - 2
    (88.0, 2.0)
    """

    def __init__(self, elapsed: float = 0.0, now: Callable[[], float] = time.monotonic) -> None:
        self.before = float(elapsed)
        self.now = now
        self.started: float | None = None
        self.paused_s = 0.0

    def start(self) -> None:
        self.started = self.now()

    def elapsed(self) -> float:
        if self.started is None:
            return self.before
        return self.before + self.now() - self.started - self.paused_s

    @contextmanager
    def paused(self) -> Iterator[None]:
        t = self.now()
        try:
            yield
        finally:
            self.paused_s += self.now() - t


class BudgetProgress(ProgressCallback):
    """The training bar in *seconds of the time budget*, with the step count beside it.

    Under a budget ``max_steps`` is only a ceiling, so the default bar ("4% 3804/100000,
    5:49:51 left") misleads; this one ends when the budget does (and a resumed run starts
    where the budget stood). Evaluation bars and the log lines are the Trainer's own.
    """

    def __init__(self, seconds: float, elapsed: Callable[[], float]) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.elapsed = elapsed
        self.shown = 0

    def on_train_begin(self, args, state, control, **kw):
        from tqdm.auto import tqdm   # lazy: only with a budget

        if state.is_world_process_zero:
            self.shown = int(min(self.seconds, self.elapsed()))
            self.training_bar = tqdm(total=int(round(self.seconds)), initial=self.shown, unit="s",
                                     desc="train (time budget)", dynamic_ncols=True,
                                     bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s{postfix}")

    def on_step_end(self, args, state, control, **kw):
        if state.is_world_process_zero and self.training_bar is not None:
            now = int(min(self.seconds, self.elapsed()))
            if now > self.shown:
                self.training_bar.update(now - self.shown)
                self.shown = now
            self.training_bar.set_postfix_str(f"step {state.global_step}", refresh=False)


class CoarseProgress(TrainerCallback):
    """Plain progress lines for a log file (no terminal): at most one every ``every_s`` seconds,
    e.g. ``[train] step 600/3000 (20%), 68 s, 8.8 steps/s, loss 5.1234``, and one at the end.
    Replaces the Trainer's bar and its per-log dict printing when output is redirected."""

    def __init__(self, every_s: float = 30.0, elapsed: Callable[[], float] | None = None,
                 write: Callable[[str], None] | None = None) -> None:
        self.every_s = float(every_s)
        self.elapsed = elapsed
        self.write = write or (lambda line: print(line, flush=True))
        self.t0 = self.last = 0.0
        self.step0 = 0
        self.loss: float | None = None

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = self.last = time.monotonic()
        self.step0 = state.global_step

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def _line(self, state) -> str:
        dt = time.monotonic() - self.t0
        rate = (state.global_step - self.step0) / dt if dt > 0 else 0.0
        pct = f" ({100 * state.global_step / state.max_steps:.0f}%)" if state.max_steps > 0 else ""
        secs = self.elapsed() if self.elapsed else dt
        loss = f", loss {self.loss:.4f}" if self.loss is not None else ""
        return f"[train] step {state.global_step}/{state.max_steps}{pct}, {secs:.0f} s, {rate:.2f} steps/s{loss}"

    def on_step_end(self, args, state, control, **kw):
        if state.is_world_process_zero and time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            self.write(self._line(state))

    def on_train_end(self, args, state, control, **kw):
        if state.is_world_process_zero:
            self.write(self._line(state))


class TimeBudget(TrainerCallback):
    """Start the clock; stop cleanly after ``minutes`` of training time (counted across
    resumes): evaluate, save, and remember why."""

    def __init__(self, minutes: float | None, clock: TrainClock) -> None:
        self.seconds = None if minutes is None else minutes * 60.0
        self.clock = clock
        self.stopped = False

    def on_train_begin(self, args, state, control, **kw):
        self.clock.start()

    def on_step_end(self, args, state, control, **kw):
        if self.seconds is None or state.global_step >= state.max_steps:
            return
        if self.clock.elapsed() >= self.seconds:
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

"""``TrainConfig``: every knob of ``recalign train``, loadable from YAML.

>>> from recalign.config import from_dict
>>> cfg = from_dict(TrainConfig, {"model": "t5-tiny", "mixture": {"tasks": ["retrieval"], "cap": 1000}})
>>> cfg.mixture.cap, cfg.lr_scheduler
(1000, 'cosine')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import RecalignError


def _h(text: str, **kw):
    return field(metadata={"help": text}, **kw)


@dataclass
class MixtureSpec:
    """Fields of ``recalign.generators.mixture.MixtureConfig`` (kept here so a config loads
    without the generators installed)."""

    tasks: list = _h("Tasks to mix (materialized under RUN/text/<task>/).", default_factory=list)
    strategy: str = _h("proportional | rates | temperature", default="proportional")
    rates: dict = _h("Per-task rates for strategy=rates.", default_factory=dict)
    cap: Optional[int] = _h("Examples-proportional cap per task (None = no cap).", default=None)
    temperature: float = _h("Temperature for strategy=temperature.", default=1.0)
    total: Optional[int] = _h("Total training examples drawn from the mixture (None = the mixture's size).",
                              default=None)


@dataclass
class TrainConfig:
    model: str = _h("Preset (t5-tiny, t5-mini, t5-small-scratch) or HF name / local path.", default="t5-tiny")
    vocab_size: int = _h("Vocabulary of the tokenizer trained for a preset.", default=8000)
    mixture: MixtureSpec = _h("Task mixture.", default_factory=MixtureSpec)
    max_steps: int = _h("Optimizer steps (-1: use num_train_epochs).", default=-1)
    num_train_epochs: float = _h("Epochs over the mixture when max_steps is -1.", default=1.0)
    per_device_train_batch_size: int = _h("Batch size per device.", default=32)
    per_device_eval_batch_size: int = _h("Eval batch size per device.", default=64)
    gradient_accumulation_steps: int = _h("Micro-batches per optimizer step.", default=1)
    learning_rate: float = _h("Peak learning rate (AdamW).", default=1e-3)
    weight_decay: float = _h("AdamW weight decay.", default=0.0)
    lr_scheduler: str = _h("cosine | linear | constant_with_warmup", default="cosine")
    warmup_steps: float = _h("Warm-up steps (int) or ratio of total steps (float < 1).", default=0.05)
    max_grad_norm: float = _h("Gradient clipping.", default=1.0)
    max_source_length: int = _h("Inputs are truncated to this many tokens.", default=256)
    max_target_length: int = _h("Targets are truncated to this many tokens.", default=64)
    eval_steps: int = _h("Evaluate on the valid split (per task) every N steps.", default=200)
    save_steps: int = _h("Checkpoint every N steps (a multiple of eval_steps).", default=200)
    save_total_limit: Optional[int] = _h("Checkpoints kept (the best is always kept).", default=2)
    eval_max_examples: Optional[int] = _h("Valid examples per task used in evaluation (None = all).", default=200)
    load_best_model_at_end: bool = _h("Save the checkpoint with the lowest valid loss as RUN/model.", default=True)
    bf16: Union[bool, str] = _h('"auto": bf16 where the hardware supports it, else fp32 (never fp16).',
                                default="auto")
    group_by_length: bool = _h("Batch examples of similar length together (less padding).", default=True)
    logging_steps: int = _h("Log loss and learning rate every N steps.", default=20)
    seed: int = _h("Seed for model init, mixture and data order.", default=0)
    deepspeed: Optional[str] = _h("zero2 | zero3 | path to a DeepSpeed JSON (None = off).", default=None)
    report_to: list = _h("Integrations: wandb, or none. JSON-lines logs are always written.",
                         default_factory=list)
    wandb_project: str = _h("wandb project name.", default="recalign")
    time_budget_minutes: Optional[float] = _h("Stop cleanly (save, mark stopped_by_budget) after this "
                                              "many minutes of training.", default=None)
    schedule_by_time: bool = _h("With time_budget_minutes: warm-up and decay follow the fraction of the "
                                "budget used (or of max_steps, whichever is further), so the schedule "
                                "completes whatever the machine's speed.", default=True)
    dataloader_num_workers: int = _h("DataLoader worker processes.", default=0)

    def __post_init__(self) -> None:
        if self.lr_scheduler not in ("cosine", "linear", "constant_with_warmup"):
            raise RecalignError(f"lr_scheduler must be cosine, linear or constant_with_warmup, got "
                                f"{self.lr_scheduler!r}", field="lr_scheduler")
        if self.bf16 not in ("auto", True, False):
            raise RecalignError(f'bf16 must be "auto", true or false, got {self.bf16!r}', field="bf16")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise RecalignError("set max_steps > 0 or num_train_epochs > 0", field="max_steps")
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        self.report_to = [r for r in self.report_to if r and r != "none"]
        if self.save_steps % self.eval_steps and self.load_best_model_at_end:
            raise RecalignError(f"save_steps ({self.save_steps}) must be a multiple of eval_steps "
                                f"({self.eval_steps}) with load_best_model_at_end", field="save_steps")

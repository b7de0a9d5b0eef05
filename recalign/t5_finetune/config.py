"""``TrainConfig``: recalign's own training settings, typed, plus a ``trainer:`` mapping handed
unchanged to ``transformers.Seq2SeqTrainingArguments`` (so every Trainer option works).

recalign's settings: the model, its tokenizer, the task mixture, sequence lengths, the time
budget and its schedule, the learning curve, and the few options recalign gives its own
meaning (``seed`` also seeds the mixture; ``bf16: auto``; ``deepspeed: zero2``; ``report_to``).
Everything else is a Trainer option under ``trainer:``, over recalign's defaults
(``DEFAULT_TRAINER``). The flat spellings of the common ones (``max_steps``,
``learning_rate``, ``lr_scheduler``, ``group_by_length`` …, see ``FLAT_TRAINER_KEYS``)
are shorthands for ``trainer.<key>`` and win over it (so ``-o train.max_steps=5`` works).

>>> from recalign.config import from_dict
>>> cfg = from_dict(TrainConfig, {"model": "t5-tiny", "max_steps": 50,
...                               "trainer": {"optim": "adafactor", "activation_checkpointing": True}})
>>> cfg.trainer["max_steps"], cfg.trainer["optim"], cfg.trainer["lr_scheduler_type"]
(50, 'adafactor', 'cosine')
>>> from_dict(TrainConfig, {"trainer": {"gradient_checkpoint": True}})
Traceback (most recent call last):
...
recalign.errors.RecalignError: field 'trainer.gradient_checkpoint': not a Seq2SeqTrainingArguments option. Did you mean 'gradient_checkpointing'?
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import RecalignError, nearest, shown


def _h(text: str, **kw):
    return field(metadata={"help": text}, **kw)


#: recalign's defaults for ``Seq2SeqTrainingArguments`` (a config's ``trainer:`` mapping goes over them).
DEFAULT_TRAINER: dict = {
    "max_steps": -1, "num_train_epochs": 1.0,
    "per_device_train_batch_size": 32, "per_device_eval_batch_size": 64, "gradient_accumulation_steps": 1,
    "learning_rate": 1e-3, "weight_decay": 0.0, "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,                      # < 1: a ratio of the steps (or of the time budget)
    "max_grad_norm": 1.0,
    "eval_steps": 200, "save_steps": 200, "save_total_limit": 2,
    "load_best_model_at_end": True, "metric_for_best_model": "eval_loss", "greater_is_better": False,
    "train_sampling_strategy": "group_by_length", "logging_steps": 20, "logging_first_step": True,
    "dataloader_num_workers": 0,
}
#: flat (pre-``trainer:``) spellings → the ``Seq2SeqTrainingArguments`` option they set.
FLAT_TRAINER_KEYS: dict = {**{k: k for k in (
    "max_steps", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
    "gradient_accumulation_steps", "learning_rate", "weight_decay", "warmup_steps", "max_grad_norm",
    "eval_steps", "save_steps", "save_total_limit", "load_best_model_at_end", "logging_steps",
    "dataloader_num_workers")}, "lr_scheduler": "lr_scheduler_type", "group_by_length": "train_sampling_strategy"}
#: Trainer options recalign sets itself (each from the setting named here).
OWNED_BY_RECALIGN: dict = {
    "output_dir": "the run directory (RUN/checkpoints)", "seed": "seed", "bf16": "bf16", "deepspeed": "deepspeed",
    "report_to": "report_to", "run_name": "the run directory's name",
    "remove_unused_columns": "the collator (always false)"}
#: type, lower bound and the words of the error of every option in DEFAULT_TRAINER (``_check_trainer``).
TRAINER_VALUES: dict = {
    "max_steps": (int, -1, "an integer > 0 (or -1: train num_train_epochs)"),
    "num_train_epochs": (float, 0, "a number >= 0"),
    "per_device_train_batch_size": (int, 1, "an integer >= 1"),
    "per_device_eval_batch_size": (int, 1, "an integer >= 1"),
    "gradient_accumulation_steps": (int, 1, "an integer >= 1"),
    "learning_rate": (float, 0, "a number > 0"),
    "weight_decay": (float, 0, "a number >= 0"),
    "warmup_steps": (float, 0, "a number >= 0 (< 1: a ratio of the steps)"),
    "max_grad_norm": (float, 0, "a number >= 0"),
    "eval_steps": (float, 0, "a number > 0"),
    "save_steps": (float, 0, "a number > 0"),
    "save_total_limit": (int, 1, "an integer >= 1, or null"),
    "logging_steps": (float, 0, "a number > 0"),
    "dataloader_num_workers": (int, 0, "an integer >= 0"),
    "load_best_model_at_end": (bool, None, "true or false"),
    "greater_is_better": (bool, None, "true or false"),
    "logging_first_step": (bool, None, "true or false"),
}
MIN_VOCAB = 256 + 3 + 100                 # a preset's tokenizer: bytes, specials, sentinels (t5_finetune/tokenizer.py)
POSITIVE_TRAINER = ("learning_rate", "eval_steps", "save_steps", "logging_steps")
NULLABLE_TRAINER = ("save_total_limit", "greater_is_better")
#: schedules ``schedule_by_time`` can pace by the budget.
BUDGET_SCHEDULES = ("cosine", "linear", "constant_with_warmup")


def _flat_value(key: str, value):
    if key == "group_by_length" and isinstance(value, bool):
        return "group_by_length" if value else "random"
    return value


def trainer_option_names() -> set[str]:
    """Every ``Seq2SeqTrainingArguments`` field (imports transformers: call only when needed)."""
    from transformers import Seq2SeqTrainingArguments   # lazy: transformers takes seconds to import

    return {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments) if f.init}


@dataclass
class MixtureSpec:
    """Fields of ``recalign.t5_finetune.mixture.MixtureConfig`` plus ``total``."""

    tasks: list = _h("Tasks to mix ([] = every task in RUN/text/manifest.json).", default_factory=list)
    strategy: str = _h("proportional | rates | temperature", default="proportional")
    rates: dict = _h("Per-task rates for strategy=rates.", default_factory=dict)
    cap: Optional[int] = _h("Examples-proportional cap per task (None = no cap).", default=None)
    temperature: float = _h("Temperature for strategy=temperature.", default=1.0)
    total: Optional[int] = _h("Total training examples drawn from the mixture (None = the mixture's size).",
                              default=None)


@dataclass
class CurveSpec:
    """The learning curve: valid NDCG@10 / Recall@10 of a fixed, seeded subset of users, measured
    with the real retrieval decoder while training (RUN/logs/curve.jsonl). Its evaluation time is
    not counted in the training time (nor in the budget)."""

    users: int = _h("Valid users evaluated per point (0 = no curve).", default=100)
    every_minutes: Optional[float] = _h("A point every N training minutes (None: budget/6 with a time "
                                        "budget, else every_steps).", default=None)
    every_steps: Optional[int] = _h("A point every N steps (None: the trainer's eval_steps).", default=None)
    beam: int = _h("Beam width of the retrieval decoder (ranks the top `beam` items).", default=20)
    seed: int = _h("Seed of the user subset.", default=0)

    def __post_init__(self) -> None:
        if self.users < 0:
            raise RecalignError(f"curve.users must be >= 0, got {self.users}", field="curve.users")
        if self.every_minutes is not None and self.every_minutes <= 0:
            raise RecalignError("curve.every_minutes must be > 0", field="curve.every_minutes")
        if self.every_steps is not None and self.every_steps < 1:
            raise RecalignError("curve.every_steps must be >= 1", field="curve.every_steps")


@dataclass
class TrainConfig:
    model: str = _h("Preset (t5-tiny, t5-mini, t5-small-scratch) or HF name / local path.", default="t5-tiny")
    vocab_size: int = _h("Vocabulary of the tokenizer trained for a preset.", default=8000)
    dropout: float = _h("dropout_rate of a preset built from scratch (a checkpoint keeps its own).",
                        default=0.1)
    embedding_lr_scale: float = _h("Learning-rate multiplier of the input (and tied output) embedding table: "
                                   "T5's rows start at N(0, 1), so at the body's rate the item and word "
                                   "vectors barely move in a short run (RESULTS.md, issue 10).", default=1.0)
    encoder_positions: int = _h("Presets only: learned embeddings of each source token's distance from the "
                                "last one, added to the encoder input (T5 has relative positions only; "
                                "0 = plain T5). The number of distances learned; farther ones share the last.",
                                default=0)
    encoder_positions_over: str = _h("What encoder_positions count back from the end: 'tokens' (every source "
                                     "token) or 'items' (atomic item tokens only: 0 = the newest item, the "
                                     "same for every template; needs atomic item ids).", default="tokens")
    mixture: MixtureSpec = _h("Task mixture.", default_factory=MixtureSpec)
    max_source_length: int = _h("Inputs are truncated to this many tokens.", default=256)
    max_target_length: int = _h("Targets are truncated to this many tokens.", default=64)
    eval_max_examples: Optional[int] = _h("Valid examples per task used in evaluation (None = all).", default=200)
    time_budget_minutes: Optional[float] = _h("Stop cleanly (save, mark stopped_by_budget) after this many "
                                              "minutes of training, counted across resumes.", default=None)
    schedule_by_time: bool = _h("With time_budget_minutes: warm-up and decay follow the fraction of the "
                                "budget used (or of max_steps, whichever is further), so the schedule "
                                "completes whatever the machine's speed.", default=True)
    seed: int = _h("Seed for model init, mixture and data order.", default=0)
    bf16: Union[bool, str] = _h('"auto": bf16 where the hardware supports it, else fp32 (never fp16).',
                                default="auto")
    deepspeed: Optional[str] = _h("zero2 | zero3 | path to a DeepSpeed JSON (None = off).", default=None)
    report_to: list = _h("Integrations: wandb, or none. JSON-lines logs are always written.",
                         default_factory=list)
    wandb_project: str = _h("wandb project name.", default="recalign")
    curve: CurveSpec = _h("Learning curve during training.", default_factory=CurveSpec)
    trainer: dict = _h("Seq2SeqTrainingArguments options, handed over unchanged (over DEFAULT_TRAINER), "
                       "e.g. {activation_checkpointing: true, optim: adafactor}.", default_factory=dict)

    @classmethod
    def normalize_keys(cls, data: dict, where: str = "") -> dict:
        """Move flat Trainer keys (``max_steps: 5``) into ``trainer:``; an unknown key is one clear
        line with the nearest name (called by ``recalign.config.from_dict`` before the fields)."""
        own = {f.name for f in dataclasses.fields(cls)}
        out = {k: v for k, v in data.items() if k in own}
        trainer = out.get("trainer") or {}
        if not isinstance(trainer, dict):
            return out                         # refused in __post_init__ with the field named
        trainer = dict(trainer)
        for k, v in data.items():
            if k in own:
                continue
            if k in FLAT_TRAINER_KEYS:
                trainer[FLAT_TRAINER_KEYS[k]] = _flat_value(k, v)
                continue
            if k in trainer_option_names():
                hint = f" It is a Trainer option: set trainer.{k}."
            else:
                hint = nearest(k, [*own, *FLAT_TRAINER_KEYS], n=1)
            raise RecalignError(f"unknown key {k!r}.{hint}", field=f"{where}{k}")
        if trainer or "trainer" in out:
            out["trainer"] = trainer
        return out

    def __post_init__(self) -> None:
        if self.trainer is None:
            self.trainer = {}
        if not isinstance(self.trainer, dict):
            raise RecalignError(f"trainer must be a mapping of Seq2SeqTrainingArguments options, got "
                                f"{self.trainer!r}", field="trainer")
        self.trainer = {**DEFAULT_TRAINER, **self.trainer}
        self._check_trainer()
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < MIN_VOCAB:
            raise RecalignError(f"expected an integer >= {MIN_VOCAB} (256 bytes + 3 specials + 100 sentinels), "
                                f"got {shown(self.vocab_size)}", field="vocab_size")
        if isinstance(self.max_source_length, bool) or not isinstance(self.max_source_length, int) \
                or self.max_source_length < 1 or isinstance(self.max_target_length, bool) \
                or not isinstance(self.max_target_length, int) or self.max_target_length < 1:
            raise RecalignError("max_source_length and max_target_length must be integers >= 1, got "
                                f"{shown(self.max_source_length)} and {shown(self.max_target_length)}",
                                field="max_source_length")
        if self.time_budget_minutes is not None and not (isinstance(self.time_budget_minutes, (int, float))
                                                         and not isinstance(self.time_budget_minutes, bool)
                                                         and self.time_budget_minutes > 0):
            raise RecalignError(f"expected minutes > 0, or null, got {shown(self.time_budget_minutes)}",
                                field="time_budget_minutes")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise RecalignError(f"dropout must be in [0, 1), got {self.dropout!r}", field="dropout")
        if not float(self.embedding_lr_scale) > 0.0:
            raise RecalignError(f"embedding_lr_scale must be > 0, got {self.embedding_lr_scale!r}",
                                field="embedding_lr_scale")
        if isinstance(self.encoder_positions, bool) or int(self.encoder_positions) < 0:
            raise RecalignError(f"encoder_positions must be an integer >= 0, got {self.encoder_positions!r}",
                                field="encoder_positions")
        if self.encoder_positions_over not in ("tokens", "items"):
            raise RecalignError(f"encoder_positions_over must be 'tokens' or 'items', got "
                                f"{self.encoder_positions_over!r}", field="encoder_positions_over")
        if self.bf16 not in ("auto", True, False):
            raise RecalignError(f'bf16 must be "auto", true or false, got {self.bf16!r}', field="bf16")
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        self.report_to = [r for r in self.report_to if r and r != "none"]

    def _check_trainer(self) -> None:
        t = self.trainer
        for k in t:
            if k in OWNED_BY_RECALIGN:
                raise RecalignError(f"trainer.{k} is set by recalign from {OWNED_BY_RECALIGN[k]}"
                                    + (f": set `{k}` instead" if OWNED_BY_RECALIGN[k] == k else ""),
                                    field=f"trainer.{k}")
        new = set(t) - set(DEFAULT_TRAINER)
        if new:
            names = trainer_option_names()
            for k in sorted(new - names):
                raise RecalignError(f"not a Seq2SeqTrainingArguments option.{nearest(k, names, n=1)}",
                                    field=f"trainer.{k}")
        sched = t["lr_scheduler_type"]
        if sched not in BUDGET_SCHEDULES:
            from transformers.trainer_utils import SchedulerType   # lazy: transformers is heavy

            known = [s.value for s in SchedulerType]
            if sched not in known:
                raise RecalignError(f"unknown lr_scheduler_type {sched!r}.{nearest(str(sched), known, n=1)}",
                                    field="trainer.lr_scheduler_type")
        if self.time_budget_minutes and self.schedule_by_time and sched not in BUDGET_SCHEDULES:
            raise RecalignError(f"lr_scheduler_type {t['lr_scheduler_type']!r} cannot follow a time budget "
                                f"(schedule_by_time): use {', '.join(BUDGET_SCHEDULES)}, or schedule_by_time: "
                                "false", field="trainer.lr_scheduler_type")
        for k, (kind, low, expected) in TRAINER_VALUES.items():   # checked before any work, YAML booleans too
            v = t.get(k)
            if v is None and k in NULLABLE_TRAINER:
                continue
            ok = isinstance(v, (int, float) if kind is float else kind) and not isinstance(v, bool) \
                if kind is not bool else isinstance(v, bool)
            if ok and kind is not bool:
                ok = math.isfinite(v) and (v >= low if low is not None else True) and \
                    (k not in POSITIVE_TRAINER or v > 0)
            if ok and k == "max_steps":
                ok = v == -1 or v > 0
            if not ok:
                raise RecalignError(f"expected {expected}, got {shown(v)}", field=f"trainer.{k}")
        if (t["max_steps"] or 0) <= 0 and (t["num_train_epochs"] or 0) <= 0:
            raise RecalignError("set max_steps > 0 or num_train_epochs > 0", field="trainer.max_steps")
        if t.get("load_best_model_at_end") and t.get("eval_steps") and t.get("save_steps") \
                and t["save_steps"] % t["eval_steps"]:
            raise RecalignError(f"save_steps ({t['save_steps']}) must be a multiple of eval_steps "
                                f"({t['eval_steps']}) with load_best_model_at_end", field="trainer.save_steps")

    def warmup(self) -> float | int:
        """``trainer.warmup_steps`` as the budget schedule reads it: a ratio (< 1) or a step count."""
        w = self.trainer["warmup_steps"]
        return w if 0 <= w < 1 else int(w)

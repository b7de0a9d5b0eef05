"""GenerateConfig: the run-time settings of generation (seqio style: passed when
data is made, not baked into the tasks). Loadable with ``recalign.config.from_dict``.

>>> from recalign.config import from_dict
>>> from_dict(GenerateConfig, {"history_len": 10}, overrides=["train_per_user={ranking: 5}"]).train_per_user
{'ranking': 5}
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GenerateConfig:
    seed: int = field(default=0, metadata={"help": "Seed for negatives, masks, spans and template choice."})
    history_len: int = field(default=20, metadata={"help": "Most recent titles shown as history (all tasks)."})
    num_candidates: int = field(default=20, metadata={"help": "Ranking: candidates per example (target + N-1 negatives)."})
    mim_mask_prob: float = field(default=0.15, metadata={"help": "MIM: probability that a history item is masked."})
    mim_max_masks: int = field(default=3, metadata={"help": "MIM: at most this many masks per example (at least 1)."})
    mim_mask_token: str = field(default="[MASK]", metadata={"help": "MIM: the text that replaces a masked title."})
    noise_density: float = field(default=0.15, metadata={"help": "MLM: fraction of word tokens corrupted (T5: 0.15)."})
    mean_span_length: float = field(default=3.0, metadata={"help": "MLM: mean corrupted span length (T5: 3)."})
    text_sep: str = field(default="; ", metadata={"help": "MLM: separator between titles in the history text."})
    aux_stride: int = field(default=5, metadata={"help": "MIM/MLM train windows end every N train items (newest first)."})
    train_per_user: dict[str, int] = field(default_factory=dict, metadata={
        "help": "Per task: at most N train examples per user (the most recent positions); absent = all."})
    max_train_examples: dict[str, int] = field(default_factory=dict, metadata={
        "help": "Per task: cap on train examples (a seeded random subset, order kept); absent = all."})
    progress: bool = field(default=True, metadata={"help": "Show tqdm progress bars."})

    def __post_init__(self) -> None:
        if self.history_len < 1:
            raise ValueError("history_len must be >= 1")
        if self.num_candidates < 2:
            raise ValueError("num_candidates must be >= 2")
        if not 0 < self.noise_density < 1:
            raise ValueError("noise_density must be in (0, 1)")
        if self.mean_span_length < 1:
            raise ValueError("mean_span_length must be >= 1")
        if self.aux_stride < 1 or self.mim_max_masks < 1:
            raise ValueError("aux_stride and mim_max_masks must be >= 1")

"""QueryConfig: the run-time settings of the query tasks' generation (loadable with
``recalign.config.from_dict``, the ``embed.query`` section of a run config)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import RecalignError


@dataclass
class QueryConfig:
    seed: int = field(default=0, metadata={"help": "Seed for positions, attribute samples, negatives, templates."})
    history_len: int = field(default=10, metadata={"help": "Most recent titles shown in a user history query."})
    num_negatives: int = field(default=7, metadata={"help": "True negatives per query (paper: 7)."})
    train_per_user: int = field(default=3, metadata={
        "help": "User tasks (UH2I, US2I, UQ2I): train queries per user (the newest train positions)."})
    train_per_item: int = field(default=1, metadata={
        "help": "Attribute tasks and I2I: train queries per train item (each with its own attribute sample)."})
    eval_items: int = field(default=200, metadata={
        "help": "Attribute tasks and I2I: evaluation queries (a seeded sample of items, own attribute sample)."})
    eval_users: int = field(default=0, metadata={"help": "User tasks: evaluate at most N users (0 = every user)."})
    max_conditions: int = field(default=3, metadata={"help": "SA2I/AS2I/VC2I: at most N sampled conditions."})
    writer: str = field(default="rule", metadata={
        "help": "Text writer of US2I/AS2I/NM2I: rule (offline), http (RECALIGN_LLM_URL/_KEY/_MODEL), local:<path>."})
    writer_cache: str = field(default="", metadata={"help": "LLM writer cache directory (default RUN/embed/llm_cache)."})
    writer_dry_run: bool = field(default=False, metadata={"help": "Print the LLM prompts; write with rules instead."})
    i2i_window: int = field(default=3, metadata={"help": "I2I: items within N positions in a train history co-occur."})

    def __post_init__(self) -> None:
        for k in ("history_len", "num_negatives", "train_per_user", "train_per_item", "max_conditions", "i2i_window"):
            if getattr(self, k) < 1:
                raise RecalignError(f"must be >= 1, got {getattr(self, k)}", field=k)
        if self.eval_items < 0 or self.eval_users < 0:
            raise RecalignError("eval_items and eval_users must be >= 0", field="eval_items")

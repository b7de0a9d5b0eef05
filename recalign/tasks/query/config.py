"""QueryConfig: the run-time settings of the query tasks' generation (loadable with
``recalign.config.from_dict``, the ``embed.query`` section of a run config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import RecalignError

MAX_NEGATIVES = 1000  # per query; the data build checks the catalogue size too (< the number of items)


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
    writer_timeout_s: float = field(default=30.0, metadata={
        "help": "LLM writer: deadline of one call in seconds (connect, headers and body together)."})
    writer_run_timeout_s: float = field(default=21600.0, metadata={
        "help": "LLM writer: deadline of one generation's calls, waits and retries together, in seconds."})
    writer_retries: int = field(default=3, metadata={"help": "LLM writer: retries of a failed call (then one-line error)."})
    writer_max_chars: int = field(default=400, metadata={
        "help": "LLM writer: longest usable answer (characters); longer ones are written by the rules instead."})
    i2i_window: int = field(default=3, metadata={"help": "I2I: items within N positions in a train history co-occur."})

    def __post_init__(self) -> None:
        for k in ("history_len", "num_negatives", "train_per_user", "train_per_item", "max_conditions", "i2i_window"):
            if getattr(self, k) < 1:
                raise RecalignError(f"must be >= 1, got {getattr(self, k)}", field=k)
        if self.eval_items < 0 or self.eval_users < 0:
            raise RecalignError("eval_items and eval_users must be >= 0", field="eval_items")
        if self.num_negatives > MAX_NEGATIVES:
            raise RecalignError(f"{self.num_negatives} negatives per query is over the limit of {MAX_NEGATIVES} "
                                f"(each training query embeds 2 + num_negatives texts per step; the paper uses 7)",
                                field="query.num_negatives")
        for k in ("writer_timeout_s", "writer_run_timeout_s"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 7 * 86400:
                raise RecalignError(f"must be a number of seconds > 0 and <= 604800, got {v!r}", field=f"query.{k}")
        if isinstance(self.writer_retries, bool) or not isinstance(self.writer_retries, int) \
                or not 0 <= self.writer_retries <= 10:
            raise RecalignError(f"must be an integer from 0 to 10, got {self.writer_retries!r}",
                                field="query.writer_retries")
        if isinstance(self.writer_max_chars, bool) or not isinstance(self.writer_max_chars, int) \
                or not 1 <= self.writer_max_chars <= 10000:
            raise RecalignError(f"must be an integer from 1 to 10000, got {self.writer_max_chars!r}",
                                field="query.writer_max_chars")
        if not isinstance(self.writer, str) or not (self.writer in ("rule", "http") or self.writer.startswith("local:")):
            raise RecalignError(f"unknown writer {self.writer!r} (known: rule, http, local:<model path>)",
                                field="query.writer")
        local = self.writer[len("local:"):] if self.writer.startswith("local:") else None
        if local is not None and not self.writer_dry_run and (
                not local.strip() or local.startswith(("/", ".", "~")) and not Path(local).expanduser().is_dir()):
            raise RecalignError(f"no model directory {local!r} for the local writer (local:<path to a transformers "
                                "text-generation model>)", field="query.writer")

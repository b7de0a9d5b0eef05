"""EmbedConfig: the settings of ``recalign train-embedder`` (the ``embed`` section of a run
config; ``configs/embed-*.yaml``), loaded with ``recalign.config.from_dict``.

>>> from recalign.config import from_dict
>>> from_dict(EmbedConfig, {"temperature": 0.05}, overrides=["query.eval_items=50"]).query.eval_items
50
"""
from __future__ import annotations

from typing import Union

from dataclasses import dataclass, field

from ..errors import RecalignError
from ..tasks.query import QueryConfig


@dataclass
class EmbedConfig:
    model: str = field(default="embed-tiny", metadata={
        "help": "Encoder: an offline preset (embed-tiny: a small T5 encoder + a tokenizer trained on the run's "
                "text), any HF encoder checkpoint (path or hub name), or a saved sentence-transformers model."})
    tasks: list[str] = field(default_factory=list, metadata={"help": "Query tasks (empty = all ten)."})
    temperature: float = field(default=0.01, metadata={"help": "Contrastive softmax temperature (paper: 0.01)."})
    in_batch_negatives: bool = field(default=False, metadata={
        "help": "Also use other queries' positives/negatives as negatives (off: 1 positive + hard negatives only)."})
    batch_size: int = field(default=32, metadata={"help": "Queries per training batch."})
    max_steps: int = field(default=300, metadata={"help": "Training steps (-1 = epochs)."})
    epochs: float = field(default=1.0, metadata={"help": "Epochs when max_steps is -1."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate (preset from scratch: 1e-3; "
                                                                 "a pretrained checkpoint: ~2e-5)."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Linear warm-up share of the steps."})
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per query/item text."})
    max_train_per_task: Union[int, dict] = field(default=0, metadata={
        "help": "Cap on train queries per task (0 = all): one integer for every task, or a mapping task → cap "
                "with `*` for the tasks it does not name, e.g. {uh2i: 0, '*': 1300} (the task mixture)."})
    vocab_size: int = field(default=4000, metadata={"help": "Preset: tokenizer vocabulary trained on the run's text."})
    instruction: bool = field(default=True, metadata={
        "help": "Prefix queries with 'Instruct: {task description}\\nQuery: ' (E5-mistral); items get none."})
    faiss: bool = field(default=False, metadata={"help": "Retrieve with a FAISS inner-product index (if installed)."})
    encode_batch_size: int = field(default=128, metadata={"help": "Texts per encoding batch at evaluation."})
    seed: int = field(default=0, metadata={"help": "Seed of model init, data order and sampling."})
    threads: int = field(default=0, metadata={"help": "torch threads (0 = torch's default)."})
    query: QueryConfig = field(default_factory=QueryConfig, metadata={"help": "Query task generation."})
    # issue 22: a pretrained start, result names, several arms in one run, bf16 on CPU
    name: str = field(default="", metadata={
        "help": "Result name (RUN/results/<name>; empty = embed-<model>: embed-tiny, embed-minilm, …); the "
                "zero-shot row adds -zero-shot."})
    arms: list[dict] = field(default_factory=list, metadata={
        "help": "More embedders trained and evaluated in the same run and table: each a mapping with a `name` "
                "and any EmbedConfig keys that differ from this section (not tasks/query/arms: the query data is "
                "shared); `zero_shot: true` evaluates its starting model only. Models: RUN/embed/arms/<name>/."})
    bf16: Union[bool, str] = field(default=False, metadata={
        "help": "bfloat16 autocast for training and encoding (CPUs with AVX512-BF16 or a GPU: ~2x encoding); "
                "auto = where the hardware has native bf16 (recalign.t5_finetune.precision), else fp32."})

    def __post_init__(self) -> None:
        if self.bf16 not in ("auto", True, False):
            raise RecalignError(f'bf16 must be "auto", true or false, got {self.bf16!r}', field="bf16")
        if not self.temperature > 0:
            raise RecalignError(f"must be > 0, got {self.temperature}", field="temperature")
        if self.batch_size < 1 or self.max_seq_length < 8:
            raise RecalignError("batch_size must be >= 1 and max_seq_length >= 8", field="batch_size")
        check_values(self)
        arm_configs(self)   # every arm is checked when the section is loaded


ARM_ONLY = {"name", "zero_shot"}          # arm keys that are not EmbedConfig fields (name is one too)
ARM_FIXED = {"tasks", "query", "arms"}    # shared by every arm of a run


def arm_configs(cfg: EmbedConfig) -> list[tuple[EmbedConfig, bool]]:
    """(config, zero_shot_only) of each of ``cfg.arms``: this section with the arm's keys on top.

    >>> a = EmbedConfig(model="minilm", arms=[{"name": "embed-scratch", "model": "embed-tiny"},
    ...                                       {"name": "embed-minilm-noinst", "instruction": False, "zero_shot": True}])
    >>> [(c.name, c.model, c.instruction, z) for c, z in arm_configs(a)]
    [('embed-scratch', 'embed-tiny', True, False), ('embed-minilm-noinst', 'minilm', False, True)]
    """
    import dataclasses

    from ..config import from_dict

    base = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in ARM_FIXED | {"name"}}
    out, seen = [], {cfg.name} if cfg.name else set()
    for i, arm in enumerate(cfg.arms):
        where = f"arms[{i}]"
        if not isinstance(arm, dict) or not str(arm.get("name") or "").strip():
            raise RecalignError("each arm is a mapping with a `name`", field=where)
        if set(arm) & ARM_FIXED:
            raise RecalignError(f"an arm cannot set {sorted(set(arm) & ARM_FIXED)} (the query data is shared)",
                                field=where)
        if arm["name"] in seen:
            raise RecalignError(f"two arms named {arm['name']!r}", field=where)
        seen.add(arm["name"])
        keys = {k: v for k, v in arm.items() if k != "zero_shot"}
        c = from_dict(EmbedConfig, {**base, **keys}, where=f"{where}.")
        c = dataclasses.replace(c, query=cfg.query, tasks=list(cfg.tasks))
        if arm.get("zero_shot") and c.model.startswith("embed-"):
            raise RecalignError(f"a zero-shot arm needs a pretrained or saved model, not the preset {c.model!r}",
                                field=where)
        out.append((c, bool(arm.get("zero_shot", False))))
    return out


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    import math

    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: (field, accepts, what the error says was expected): checked when the section loads, before any work.
_VALUES = (
    ("max_steps", lambda v: _int(v) and (v == -1 or v >= 1), "an integer >= 1 (or -1: train `epochs`)"),
    ("epochs", lambda v: _num(v) and v > 0, "a number > 0"),
    ("learning_rate", lambda v: _num(v) and v > 0, "a number > 0"),
    ("warmup_ratio", lambda v: _num(v) and 0 <= v < 1, "a number in [0, 1)"),
    ("vocab_size", lambda v: _int(v) and v >= 359, "an integer >= 359 (256 bytes + 3 specials + 100 sentinels)"),
    ("encode_batch_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    ("threads", lambda v: _int(v) and v >= 0, "an integer >= 0 (0 = torch's default)"),
    ("seed", _int, "an integer"),
)


def check_caps(caps) -> None:
    """``max_train_per_task``: an integer >= 0, or a mapping of known query tasks (and ``*``) to one."""
    from ..errors import shown
    from ..tasks.registry import QUERY_TASKS

    if _int(caps):
        if caps < 0:
            raise RecalignError(f"expected an integer >= 0 (0 = all), got {caps}", field="max_train_per_task")
        return
    if not isinstance(caps, dict):
        raise RecalignError(f"expected an integer >= 0 or a mapping task → cap, got {shown(caps)}",
                            field="max_train_per_task")
    known = set(QUERY_TASKS.names())
    for k, v in caps.items():
        if k != "*" and k not in known:
            raise RecalignError(f"unknown query task {k!r} (known: {', '.join(sorted(known))}, or * for the rest)",
                                field=f"max_train_per_task.{k}")
        if not (_int(v) and v >= 0):
            raise RecalignError(f"expected an integer >= 0 (0 = all), got {shown(v)}", field=f"max_train_per_task.{k}")


def task_cap(cfg: EmbedConfig, task: str) -> int:
    """The cap on ``task``'s train queries (0 = all).

    >>> task_cap(EmbedConfig(max_train_per_task=500), "uh2i")
    500
    >>> c = EmbedConfig(max_train_per_task={"uh2i": 0, "*": 1300})
    >>> task_cap(c, "uh2i"), task_cap(c, "fa2i")
    (0, 1300)
    """
    caps = cfg.max_train_per_task
    return caps if _int(caps) else int(caps.get(task, caps.get("*", 0)))


def check_values(cfg: EmbedConfig) -> None:
    """Every value of the section, and a ``local:<path>`` query writer's path (before any LLM call)."""
    from ..errors import shown

    for name, ok, expected in _VALUES:
        v = getattr(cfg, name)
        if not ok(v):
            raise RecalignError(f"expected {expected}, got {shown(v)}", field=name)
    check_caps(cfg.max_train_per_task)
    writer = getattr(cfg.query, "writer", "rule")
    if isinstance(writer, str) and writer.startswith("local:"):
        from pathlib import Path

        p = Path(writer.split(":", 1)[1]).expanduser()
        if not p.is_dir():
            raise RecalignError(f"local:<path> needs a model directory; {str(p)!r} is not one", field="query.writer")
    elif writer not in ("rule", "http"):
        raise RecalignError(f"expected rule, http or local:<model directory>, got {shown(writer)}",
                            field="query.writer")

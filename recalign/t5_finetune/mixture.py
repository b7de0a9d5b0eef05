"""Mixtures of materialized tasks (seqio / FLAN style: materialize each task, then mix).

Strategies for the rate r_t of task t with n_t examples:

- ``rates``: the explicit ``rates[t]``;
- ``proportional``: r_t = min(n_t, cap) (examples-proportional with an optional cap);
- ``temperature``: r_t = min(n_t, cap) ** (1 / temperature) (T=1 is proportional,
  large T tends to uniform).

The mixture has ``total`` examples (default: sum of min(n_t, cap), or of n_t for
``rates``), split by rate with the largest-remainder rule; a task asked for more than
it has is repeated (whole passes, then a random subset). The result is shuffled and
keeps every column, so ``_task`` and ``_template_id`` still tell examples apart.

>>> mixture_counts({"a": 900, "b": 100}, MixtureConfig(["a", "b"], cap=300))
{'a': 300, 'b': 100}
>>> mixture_counts({"a": 900, "b": 100}, MixtureConfig(["a", "b"], "rates", rates={"a": 1, "b": 1}), total=10)
{'a': 5, 'b': 5}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import datasets
import numpy as np

from ..errors import RecalignError, nearest

STRATEGIES = ("rates", "proportional", "temperature")


@dataclass
class MixtureConfig:
    tasks: list[str]
    strategy: str = field(default="proportional", metadata={"help": "rates | proportional | temperature"})
    rates: dict[str, float] = field(default_factory=dict, metadata={"help": "strategy=rates: task → rate."})
    cap: int | None = field(default=None, metadata={"help": "Cap on examples counted per task (proportional/temperature)."})
    temperature: float = field(default=1.0, metadata={"help": "strategy=temperature: T in n ** (1/T)."})

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise RecalignError(f"unknown mixture strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})."
                                f"{nearest(self.strategy, STRATEGIES)}", field="strategy")
        if self.temperature <= 0:
            raise RecalignError("temperature must be > 0", field="temperature")
        if self.cap is not None and self.cap < 1:
            raise RecalignError("cap must be >= 1", field="cap")


def _rates(sizes: dict[str, int], cfg: MixtureConfig) -> dict[str, float]:
    if cfg.strategy == "rates":
        missing = [t for t in cfg.tasks if t not in cfg.rates]
        if missing:
            raise RecalignError(f"strategy 'rates' needs a rate for every task; missing: {missing}", field="rates")
        return {t: float(cfg.rates[t]) for t in cfg.tasks}
    capped = {t: min(sizes[t], cfg.cap) if cfg.cap else sizes[t] for t in cfg.tasks}
    if cfg.strategy == "proportional":
        return {t: float(n) for t, n in capped.items()}
    return {t: float(n) ** (1.0 / cfg.temperature) if n else 0.0 for t, n in capped.items()}


def mixture_counts(sizes: dict[str, int], cfg: MixtureConfig, total: int | None = None) -> dict[str, int]:
    """How many examples each task contributes (largest-remainder rounding)."""
    for t in cfg.tasks:
        if t not in sizes:
            raise RecalignError(f"no data for task {t!r} (have: {', '.join(sizes)}).{nearest(t, sizes)}")
    rates = _rates(sizes, cfg)
    z = sum(rates.values())
    if z <= 0:
        raise RecalignError("all mixture rates are zero")
    if total is None:
        if cfg.strategy == "rates":
            total = sum(sizes[t] for t in cfg.tasks)
        else:
            total = sum(min(sizes[t], cfg.cap) if cfg.cap else sizes[t] for t in cfg.tasks)
    exact = {t: total * r / z for t, r in rates.items()}
    counts = {t: math.floor(x) for t, x in exact.items()}
    left = total - sum(counts.values())
    for t in sorted(exact, key=lambda t: (-(exact[t] - counts[t]), cfg.tasks.index(t)))[:left]:
        counts[t] += 1
    return counts


def mix(data: dict[str, datasets.Dataset], cfg: MixtureConfig, seed: int = 0,
        total: int | None = None, max_total: int | None = None) -> datasets.Dataset:
    """Sample each task by its mixture count, concatenate, shuffle (seeded).

    ``max_total`` caps the size (e.g. what ``max_steps`` × batch can consume): the counts are
    drawn for ``min(total, max_total)``. Rows are gathered with one Arrow ``take`` per task and one
    for the shuffle, so no index mapping is flattened afterwards."""
    import pyarrow as pa
    from datasets.fingerprint import generate_random_fingerprint
    from datasets.table import InMemoryTable

    sizes = {t: len(d) for t, d in data.items()}
    if max_total is not None:
        full = sum(mixture_counts(sizes, cfg, total).values())
        total = min(full, int(max_total))
    counts = mixture_counts(sizes, cfg, total)
    rng = np.random.default_rng(seed)
    parts = []
    for t in cfg.tasks:
        n, k = len(data[t]), counts[t]
        if k == 0:
            continue
        if n == 0:
            raise RecalignError(f"task {t!r} has no examples but the mixture asks for {k}")
        reps, rest = divmod(k, n)
        idx = np.concatenate([np.tile(np.arange(n), reps), np.sort(rng.choice(n, size=rest, replace=False))])
        ds = data[t] if data[t]._indices is None else data[t].flatten_indices()
        parts.append(ds.data.table.take(pa.array(idx, type=pa.int64())))
    if not parts:
        raise RecalignError("the mixture is empty")
    table = pa.concat_tables(parts, promote_options="default")
    table = table.take(pa.array(rng.permutation(len(table)), type=pa.int64())).combine_chunks()
    return datasets.Dataset(InMemoryTable(table), fingerprint=generate_random_fingerprint())

"""Which seq2seq models one run trains: the paper's ablation arms × seeded repeats.

Every arm trains on the recommendation tasks plus some auxiliary tasks, under the same
budget, on the same materialized text:

- ``""`` (the main model): rec + every auxiliary task of ``generate.tasks``;
- ``rec-only``: the recommendation tasks alone;
- ``rec+mim`` / ``rec+mlm`` / ``rec+bpr``: rec + that one auxiliary task.

``ablation``: ``false`` (none), ``true`` (rec-only, as before), ``"full"`` (rec-only and each
auxiliary task alone), or a list / comma string of arm names. ``seeds: N`` (N > 1) repeats
every arm with training seeds ``train.seed + 0 … N-1``; result names then end in ``-seed<i>``
(``baseline_runs`` does the same for the RecBole baselines, ``baselines.seeds``).
Seed 0 of the main arm trains in the run directory itself (``RUN/model``), every other model
in ``RUN/ablation/<arm>[-seed<i>]``.

>>> [(v.suffix, v.subdir, v.tasks, v.seed_offset) for v in plan(["retrieval", "mim", "mlm"], "rec-only", 2)]
... # doctest: +NORMALIZE_WHITESPACE
[('-seed0', None, ['retrieval', 'mim', 'mlm'], 0), ('-seed1', 'seed1', ['retrieval', 'mim', 'mlm'], 1),
 ('-rec-only-seed0', 'rec-only-seed0', ['retrieval'], 0), ('-rec-only-seed1', 'rec-only-seed1', ['retrieval'], 1)]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .baselines.table import COMMON
from .errors import RecalignError, nearest
from .tasks import TASKS


def full_arms() -> tuple[str, ...]:
    """``'full'``: rec-only and rec + each auxiliary task of the registry alone."""
    return ("rec-only", *(f"rec+{t}" for t in TASKS.aux_names()))


@dataclass(frozen=True)
class Variant:
    """One model to train: result-name suffix, ``RUN/ablation/<subdir>`` (None: RUN itself),
    its mixture's tasks and its seed offset (added to ``train.seed``)."""

    suffix: str
    subdir: str | None
    tasks: list[str]
    seed_offset: int


def arms(ablation: Any) -> list[str]:
    """The ablation arms a config value asks for (beside the main model).

    >>> arms(True), arms("full"), arms("rec+bpr, rec-only"), arms(False)
    (['rec-only'], ['rec-only', 'rec+mim', 'rec+mlm', 'rec+bpr'], ['rec+bpr', 'rec-only'], [])
    """
    if ablation is None or ablation is False or ablation in ("", "none", "false"):
        return []
    if ablation is True or ablation == "true":
        return ["rec-only"]
    if ablation == "full":
        return list(full_arms())
    names = [x.strip() for x in ablation.split(",")] if isinstance(ablation, str) else list(ablation)
    out = []
    for a in names:
        if not isinstance(a, str) or a not in full_arms():
            raise RecalignError(f"unknown ablation arm {a!r}: use true, false, 'full' or arms from "
                                f"{', '.join(full_arms())}.{nearest(str(a), full_arms())}", field="ablation")
        if a not in out:
            out.append(a)
    return out


def plan(tasks: Sequence[str], ablation: Any = False, seeds: int = 1) -> list[Variant]:
    """Every model the run trains, main arm first (see the module docstring)."""
    tasks = list(tasks)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise RecalignError(f"seeds must be a positive integer, got {seeds!r}", field="seeds")
    rec = [t for t in tasks if t in TASKS.rec_names()]
    wanted = arms(ablation)
    if wanted and rec == tasks:
        raise RecalignError(f"ablation needs auxiliary tasks ({', '.join(TASKS.aux_names())}) in generate.tasks",
                            field="ablation")
    todo: list[tuple[str, list[str]]] = [("", tasks)]
    for a in wanted:
        extra = [] if a == "rec-only" else [a.split("+", 1)[1]]
        missing = [t for t in extra if t not in tasks]
        if missing:
            raise RecalignError(f"ablation arm {a} needs {missing[0]} in generate.tasks", field="ablation")
        todo.append((a, rec + extra))
    out = []
    for arm, arm_tasks in todo:
        for s in range(seeds):
            seed = f"seed{s}" if seeds > 1 else ""
            name = "-".join(x for x in (arm, seed) if x)
            subdir = None if (arm == "" and s == 0) else name
            out.append(Variant(f"-{name}" if name else "", subdir, arm_tasks, s))
    return out


def baseline_runs(model: str, overrides: dict | None, seeds: int = 1) -> list[tuple[str, dict | None]]:
    """(result name, RecBole overrides) per run of a baseline: itself once, or ``<Model>-seed<i>``
    with RecBole's ``seed`` = the configured seed + i.

    >>> baseline_runs("BPR", {"epochs": 5}, 2)
    [('BPR-seed0', {'epochs': 5, 'seed': 2020}), ('BPR-seed1', {'epochs': 5, 'seed': 2021})]
    """
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise RecalignError(f"baseline seeds must be a positive integer, got {seeds!r}", field="baselines.seeds")
    if seeds == 1:
        return [(model, overrides)]
    base = int((overrides or {}).get("seed", COMMON["seed"]))
    return [(f"{model}-seed{i}", {**(overrides or {}), "seed": base + i}) for i in range(seeds)]

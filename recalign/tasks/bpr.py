"""BPR as text: history + two titles in random order, one the user took next and one
never interacted with → the preferred (taken) title.

Auxiliary task, train items only in every split: train has one example per train
position; valid/test have one per user, the newest train position, with their own
seeded negative and order.

>>> # [Toy Story] + (Babe, Heat) → Heat
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .base import ITEM_TEXT, SAMPLE_HISTORY, Meta, Task
from .items import ItemWriter
from .sampling import NegativeSampler, Position, iter_users, next_item_positions, np_rng, task_rng

NAME = "bpr"


def _positions(split: Split, which: str, cfg: GenerateConfig, users) -> Iterable[Position]:
    if which == "train":
        yield from next_item_positions(split, "train", cfg, NAME, users)
        return
    w = ItemWriter.for_split(split, cfg)
    for u in iter_users(split, users, f"{NAME}/{which}", cfg.progress):
        items, rs = split.train_items(u), split.train_ratings(u)
        if len(items) >= 2:
            lo = max(0, len(items) - 1 - cfg.history_len)
            h = items[lo:-1]
            yield Position(u, h, [w.input[i] for i in h], rs[lo:-1], items[-1], w.target[items[-1]], rs[-1])


@dataclass
class BprExample:
    """History + two titles in random order (one the user took next, one never
    interacted with) → the preferred title."""

    history: list[str]
    item_a: str
    item_b: str
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "BprExample":
        return cls(list(SAMPLE_HISTORY), "Babe", "The Matrix", "The Matrix")



def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[BprExample, Meta]]:
    title = ItemWriter.for_split(split, cfg).input  # the pair is written like the history
    rnd = task_rng(cfg.seed, NAME, which)
    neg = NegativeSampler(split, np_rng(cfg.seed, NAME, which))
    rows, dom = [], get_domain(cfg.domain)
    for p in _positions(split, which, cfg, users):
        n = neg.sample(p.user, 1)
        if not n:
            continue
        pair = [p.target, n[0]] if rnd.random() < 0.5 else [n[0], p.target]
        rating = float(p.rating) if p.rating is not None else math.nan
        rows.append((BprExample(p.history_titles, title[pair[0]], title[pair[1]], p.target_title, dom),
                     Meta(p.user, p.target, pair, list(p.history), rating)))
    return rows


TASK = Task(NAME, BprExample, build, "history + (taken, never taken) → the taken title", auxiliary=True,
            answer=ITEM_TEXT)

"""BPR as text: history + two titles in random order, one the user took next and one
never interacted with → the preferred (taken) title.

Auxiliary task, train items only in every split: train has one example per train
position; valid/test have one per user, the newest train position, with their own
seeded negative and order.

>>> # [Toy Story] + (Babe, Heat) → Heat
"""
from __future__ import annotations

import math
from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .examples import BprExample, Meta
from .sampling import NegativeSampler, Position, iter_users, next_item_positions, task_rng

NAME = "bpr"


def _positions(split: Split, which: str, cfg: GenerateConfig, users) -> Iterable[Position]:
    if which == "train":
        yield from next_item_positions(split, "train", cfg, NAME, users)
        return
    for u in iter_users(split, users, f"{NAME}/{which}", cfg.progress):
        items, rs = split.train_items(u), split.train_ratings(u)
        if len(items) >= 2:
            lo = max(0, len(items) - 1 - cfg.history_len)
            yield Position(u, items[lo:-1], rs[lo:-1], items[-1], rs[-1])


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[BprExample, Meta]]:
    title = {i: it.title for i, it in split.items.items()}
    rnd = task_rng(cfg.seed, NAME, which)
    neg = NegativeSampler(split)
    rows = []
    for p in _positions(split, which, cfg, users):
        n = neg.sample(p.user, 1, rnd)
        if not n:
            continue
        pair = [p.target, n[0]] if rnd.random() < 0.5 else [n[0], p.target]
        h = list(p.history)
        rating = float(p.rating) if p.rating is not None else math.nan
        rows.append((BprExample([title[i] for i in h], title[pair[0]], title[pair[1]], title[p.target]),
                     Meta(p.user, p.target, pair, h, rating)))
    return rows

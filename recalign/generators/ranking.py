"""Ranking: history + a shuffled candidate list (the target plus N-1 negatives drawn
uniformly from items the user never interacted with) → the target title.

Positions are those of retrieval (train: sliding windows; valid/test: the held-out
item). Users who touched nearly every item get fewer candidates.

>>> # [Toy Story, Heat] + candidates [Babe, Alien, Fargo] → Alien
"""
from __future__ import annotations

from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .examples import Meta, RankingExample
from .sampling import NegativeSampler, next_item_positions, task_rng

NAME = "ranking"


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RankingExample, Meta]]:
    title = {i: it.title for i, it in split.items.items()}
    rnd = task_rng(cfg.seed, NAME, which)
    neg = NegativeSampler(split)
    rows = []
    for p in next_item_positions(split, which, cfg, NAME, users):
        cands = neg.sample(p.user, cfg.num_candidates - 1, rnd)
        cands.insert(rnd.randrange(len(cands) + 1), p.target)
        h = list(p.history)
        rows.append((RankingExample([title[i] for i in h], [title[i] for i in cands], title[p.target]),
                     Meta(p.user, p.target, cands, h, p.rating)))
    return rows

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
from .sampling import NegativeSampler, next_item_positions, np_rng, task_rng, titles

NAME = "ranking"


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RankingExample, Meta]]:
    title = titles(split)
    rnd = task_rng(cfg.seed, NAME, which)
    neg = NegativeSampler(split, np_rng(cfg.seed, NAME, which))
    rows = []
    for p in next_item_positions(split, which, cfg, NAME, users):
        cands = neg.sample(p.user, cfg.num_candidates - 1)
        cands.insert(rnd.randrange(len(cands) + 1), p.target)
        rows.append((RankingExample(p.history_titles, [title[i] for i in cands], p.target_title),
                     Meta(p.user, p.target, cands, list(p.history), p.rating)))
    return rows

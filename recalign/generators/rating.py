"""Rating: the history with the user's ratings + one item → its rating as text.

Positions are those of retrieval; examples whose target has no rating (NaN) are skipped.

>>> # [Toy Story (5), Heat (3)] + Alien → "4"
"""
from __future__ import annotations

import math
from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .examples import Meta, RatingExample
from .sampling import fmt_rating, next_item_positions

NAME = "rating"


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RatingExample, Meta]]:
    title = {i: it.title for i, it in split.items.items()}
    rows = []
    for p in next_item_positions(split, which, cfg, NAME, users):
        if p.rating is None or math.isnan(p.rating):
            continue
        h = list(p.history)
        rows.append((RatingExample([title[i] for i in h], [fmt_rating(r) for r in p.history_ratings],
                                   title[p.target], fmt_rating(p.rating)),
                     Meta(p.user, p.target, [], h, float(p.rating))))
    return rows

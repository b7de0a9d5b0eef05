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


class _RatingText(dict):
    """Memoized ``fmt_rating``: ratings repeat, formatting them once is enough."""

    def __missing__(self, r: float) -> str:
        v = self[r] = fmt_rating(r)
        return v


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RatingExample, Meta]]:
    fmt = _RatingText()
    rows = []
    for p in next_item_positions(split, which, cfg, NAME, users):
        if p.rating is None or math.isnan(p.rating):
            continue
        rows.append((RatingExample(p.history_titles, [fmt[r] for r in p.history_ratings],
                                   p.target_title, fmt_rating(p.rating)),
                     Meta(p.user, p.target, [], list(p.history), float(p.rating))))
    return rows

"""Retrieval (sequential recommendation): the user's most recent titles → the next title.

train: one example per position of the train sequence (sliding window);
valid: train history → valid item; test: train + valid history → test item.

>>> # train Toy Story, Heat, Alien  →  [Toy Story] → Heat,  [Toy Story, Heat] → Alien
"""
from __future__ import annotations

from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .examples import Meta, RetrievalExample
from .sampling import next_item_positions

NAME = "retrieval"


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RetrievalExample, Meta]]:
    return [(RetrievalExample(p.history_titles, p.target_title), Meta(p.user, p.target, [], list(p.history), p.rating))
            for p in next_item_positions(split, which, cfg, NAME, users)]

"""Example records: one small typed record per task. Their fields are the only
variables a template of that task may use (titles and text only: no user or item ids).

Each builder yields ``(example, Meta)`` pairs; ``Meta`` carries the ids the
evaluation needs and never reaches a template.

>>> vars(RetrievalExample(history=["Toy Story", "Heat"], target="Alien"))
{'history': ['Toy Story', 'Heat'], 'target': 'Alien'}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

_H = ["Toy Story", "Heat", "Alien", "Fargo"]


class Meta(NamedTuple):
    """Ids behind one example (materialized as columns, never rendered)."""

    user: str
    target_item: str          # "" if none
    candidates: list[str]     # ranking candidates / bpr pair in display order; [] if none
    history: list[str]        # item ids the input was built from, in order
    rating: float             # the user's rating of target_item; NaN if none


@dataclass
class RetrievalExample:
    """Most recent titles → the next title."""

    history: list[str]
    target: str

    @classmethod
    def sample(cls) -> "RetrievalExample":
        return cls(list(_H), "The Matrix")


@dataclass
class RankingExample:
    """History + shuffled candidates (target + sampled negatives) → the target title."""

    history: list[str]
    candidates: list[str]
    target: str

    @classmethod
    def sample(cls) -> "RankingExample":
        return cls(list(_H), ["Babe", "The Matrix", "Hamlet"], "The Matrix")


@dataclass
class RatingExample:
    """History with the user's ratings (``ratings[i]`` rates ``history[i]``, as text)
    + an item → its rating as text, e.g. ``"4"``."""

    history: list[str]
    ratings: list[str]
    item: str
    target: str

    @classmethod
    def sample(cls) -> "RatingExample":
        return cls(list(_H), ["5", "3", "4", "1"], "The Matrix", "5")


@dataclass
class MimExample:
    """History with some titles replaced by ``mask_token`` → the masked titles
    (``masked``, in order; ``target`` = them joined by ``"; "``)."""

    history: list[str]
    mask_token: str
    masked: list[str]
    num_masked: int
    target: str

    @classmethod
    def sample(cls) -> "MimExample":
        return cls(["Toy Story", "[MASK]", "Alien", "Fargo"], "[MASK]", ["Heat"], 1, "Heat")


@dataclass
class MlmExample:
    """T5 span corruption over the history text: ``corrupted`` has ``<extra_id_k>``
    sentinels where spans were dropped; ``target`` lists each sentinel and its span,
    ending with a final sentinel."""

    corrupted: str
    target: str

    @classmethod
    def sample(cls) -> "MlmExample":
        return cls("Toy Story; <extra_id_0> Alien; Fargo", "<extra_id_0> Heat; <extra_id_1>")


@dataclass
class BprExample:
    """History + two titles in random order (one the user took next, one never
    interacted with) → the preferred title."""

    history: list[str]
    item_a: str
    item_b: str
    target: str

    @classmethod
    def sample(cls) -> "BprExample":
        return cls(list(_H), "Babe", "The Matrix", "The Matrix")

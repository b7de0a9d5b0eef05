"""The Example records of the ten query tasks: their fields are the only variables a
template of the task may use (titles and text, never ids); ``target`` is the positive
item's title (every template's target renders exactly that)."""
from __future__ import annotations

from dataclasses import dataclass

from ..base import SAMPLE_HISTORY


@dataclass
class UH2IExample:
    """User history → next item."""

    history: list[str]
    target: str

    @classmethod
    def sample(cls) -> "UH2IExample":
        return cls(list(SAMPLE_HISTORY), "The Matrix")


@dataclass
class I2IExample:
    """An item → a related item (co-occurring in train histories)."""

    item: str
    target: str

    @classmethod
    def sample(cls) -> "I2IExample":
        return cls("Heat", "Casino")


@dataclass
class US2IExample:
    """A summary of the user's tastes → an item."""

    summary: str
    target: str

    @classmethod
    def sample(cls) -> "US2IExample":
        return cls("Someone who mostly enjoys comedy and drama, mostly from the 1990s.", "Fargo")


@dataclass
class FA2IExample:
    """All attributes (shuffled; no title or description) → the item."""

    attributes: list[str]
    target: str

    @classmethod
    def sample(cls) -> "FA2IExample":
        return cls(["genre: Crime", "year: 1996", "genre: Drama"], "Fargo")


@dataclass
class SA2IExample:
    """A few sampled attributes → the item."""

    attributes: list[str]
    target: str

    @classmethod
    def sample(cls) -> "SA2IExample":
        return cls(["genre: Crime"], "Fargo")


@dataclass
class AS2IExample:
    """A short description written from sampled attributes → the item."""

    description: str
    target: str

    @classmethod
    def sample(cls) -> "AS2IExample":
        return cls("a crime, from 1996", "Fargo")


@dataclass
class NM2IExample:
    """A misspelt name → the item."""

    name: str
    target: str

    @classmethod
    def sample(cls) -> "NM2IExample":
        return cls("Fagro", "Fargo")


@dataclass
class VC2IExample:
    """Vague conditions ("released after 1990", "under $10", "a comedy") → an item meeting them."""

    conditions: list[str]
    target: str

    @classmethod
    def sample(cls) -> "VC2IExample":
        return cls(["released after 1990", "a crime"], "Fargo")


@dataclass
class NA2IExample:
    """Wanted and unwanted attributes ("a drama that is not a romance") → an item."""

    wanted: list[str]
    unwanted: list[str]
    target: str

    @classmethod
    def sample(cls) -> "NA2IExample":
        return cls(["drama"], ["romance"], "Fargo")


@dataclass
class UQ2IExample:
    """User history plus an explicit condition → the next item."""

    history: list[str]
    condition: str
    target: str

    @classmethod
    def sample(cls) -> "UQ2IExample":
        return cls(list(SAMPLE_HISTORY), "a crime", "Fargo")


__all__ = ["UH2IExample", "I2IExample", "US2IExample", "FA2IExample", "SA2IExample", "AS2IExample",
           "NM2IExample", "VC2IExample", "NA2IExample", "UQ2IExample"]

"""The Split: leave-one-out by time, per user.

Per user (interactions in chronological order, ties in the source file's row
order): the last item is **test**, the one before is **valid**, the rest **train**.
Users with fewer than 3 interactions cannot be split this way: they are dropped
and counted (``Split.dropped_users``).

What each split may see (the leakage rule):

- train examples: built from ``train_items(u)`` only;
- valid examples: history = ``history(u, "valid")`` = train items, target = valid item;
- test examples: history = ``history(u, "test")`` = train + valid items, target = test item.

>>> # sequence a b c d e  →  train a b c,  valid d (history a b c),  test e (history a b c d)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


from ..errors import RecalignError
from .dataset import Dataset, Item

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class UserSequence:
    """One user's whole chronological sequence."""

    user: str
    items: tuple[str, ...]
    ratings: tuple[float, ...]
    timestamps: tuple[float, ...]


@dataclass
class Split:
    dataset: Dataset
    sequences: dict[str, UserSequence]     # users in order of first appearance
    dropped_users: int = 0
    dropped_interactions: int = 0
    notes: list[str] = field(default_factory=list)
    dropped_repeats: int = 0    # repeated user-item interactions the reader dropped (Dataset.first_interactions)

    @property
    def items(self) -> dict[str, Item]:
        return self.dataset.items

    @property
    def users(self) -> list[str]:
        return list(self.sequences)

    def train_items(self, user: str) -> tuple[str, ...]:
        return self.sequences[user].items[:-2]

    def train_ratings(self, user: str) -> tuple[float, ...]:
        return self.sequences[user].ratings[:-2]

    def target(self, user: str, split: str) -> str:
        """The held-out item of ``split`` ('valid' or 'test')."""
        return self.sequences[user].items[{"valid": -2, "test": -1}[split]]

    def target_rating(self, user: str, split: str) -> float:
        return self.sequences[user].ratings[{"valid": -2, "test": -1}[split]]

    def history(self, user: str, split: str) -> tuple[str, ...]:
        """Items an example of ``split`` may use as input: valid → train, test → train+valid."""
        seq = self.sequences[user].items
        if split == "valid":
            return seq[:-2]
        if split == "test":
            return seq[:-1]
        raise ValueError(f"history() is for 'valid' or 'test', got {split!r}")

    def history_ratings(self, user: str, split: str) -> tuple[float, ...]:
        r = self.sequences[user].ratings
        return r[:-2] if split == "valid" else r[:-1]

    def rows(self, split: str) -> Iterator[tuple[str, str, float, float]]:
        """``(user, item, rating, timestamp)`` rows of one split, chronological per user."""
        for u, s in self.sequences.items():
            sl = {"train": slice(None, -2), "valid": slice(-2, -1), "test": slice(-1, None)}[split]
            yield from zip([u] * len(s.items[sl]), s.items[sl], s.ratings[sl], s.timestamps[sl])

    def train_item_set(self) -> set[str]:
        return {i for s in self.sequences.values() for i in s.items[:-2]}

    def boundary_ties(self) -> int:
        """Users whose valid and test items share a timestamp (the tie rule decides them)."""
        return sum(1 for s in self.sequences.values() if s.timestamps[-1] == s.timestamps[-2])


def leave_one_out(ds: Dataset, min_interactions: int = 3) -> Split:
    """Split ``ds`` by time: last → test, second-last → valid, rest → train."""
    if min_interactions < 3:
        raise RecalignError("min_interactions must be at least 3 (train, valid and test need one each)",
                            field="min_interactions")
    seqs: dict[str, UserSequence] = {}
    dropped = dropped_rows = 0
    for user, idx in ds.sequences():
        if len(idx) < min_interactions:
            dropped += 1
            dropped_rows += len(idx)
            continue
        seqs[user] = UserSequence(user, tuple(ds.item_ids[idx].tolist()), tuple(ds.ratings[idx].tolist()),
                                  tuple(ds.timestamps[idx].tolist()))
    if not seqs:
        raise RecalignError(f"no user of dataset {ds.name!r} has {min_interactions} or more interactions: "
                            "nothing to split")
    split = Split(ds, seqs, dropped, dropped_rows, list(ds.notes), ds.dropped_repeats)
    if dropped:
        split.notes.append(f"dropped {dropped} user(s) with fewer than {min_interactions} interactions "
                           f"({dropped_rows} interactions)")
    return split

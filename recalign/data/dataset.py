"""The in-memory Dataset: items with text, and interactions in a stable chronological order.

Every source (RecBole atomic files, Amazon reviews, the embedded ml-100k) ends here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


@dataclass(frozen=True)
class Item:
    """One item: ``title`` is unique within its Dataset (see ``titles.disambiguate``);
    ``raw_title`` is the source's text; ``fields`` holds whatever else the source has
    (genres, year, brand, category, description, price), all as strings."""

    id: str
    title: str
    raw_title: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    """Items plus interactions ``(user, item, timestamp, rating)``.

    Interactions are kept sorted by timestamp with ties in the source file's row
    order (a stable sort), so "the last item of a user" is well defined.
    """

    name: str
    items: dict[str, Item]
    users: np.ndarray          # str, one per interaction
    item_ids: np.ndarray       # str
    timestamps: np.ndarray     # float64
    ratings: np.ndarray        # float64 (NaN where the source has none)
    notes: list[str] = field(default_factory=list)  # what filtering/cleaning did, for reports

    def __post_init__(self) -> None:
        order = np.argsort(self.timestamps, kind="stable")
        if not np.all(order == np.arange(len(order))):
            self.users, self.item_ids = self.users[order], self.item_ids[order]
            self.timestamps, self.ratings = self.timestamps[order], self.ratings[order]

    def __len__(self) -> int:
        return len(self.users)

    @property
    def num_users(self) -> int:
        return len(np.unique(self.users)) if len(self.users) else 0

    @property
    def num_items(self) -> int:
        """Items that occur in at least one interaction."""
        return len(np.unique(self.item_ids)) if len(self.item_ids) else 0

    def sequences(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(user, row indices in chronological order)`` per user, users sorted
        by their first appearance in time."""
        if not len(self.users):
            return
        codes, first = np.unique(self.users, return_index=True)
        # group rows by user while keeping chronological order inside each group
        inv = np.searchsorted(codes, self.users)
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(len(codes) + 1))
        for u in np.argsort(first, kind="stable"):
            yield str(codes[u]), order[bounds[u]:bounds[u + 1]]

    def subset(self, mask: np.ndarray, note: str | None = None) -> "Dataset":
        """A new Dataset with the interactions where ``mask`` is true (items kept
        only if they still occur)."""
        keep_items = set(np.unique(self.item_ids[mask]).tolist())
        ds = Dataset(self.name, {k: v for k, v in self.items.items() if k in keep_items},
                     self.users[mask], self.item_ids[mask], self.timestamps[mask],
                     self.ratings[mask], list(self.notes))
        if note:
            ds.notes.append(note)
        return ds

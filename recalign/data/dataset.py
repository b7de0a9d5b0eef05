"""The in-memory Dataset: items with text, and interactions in a stable chronological order.

Every source (RecBole atomic files, Amazon reviews, the embedded ml-100k) ends here.

Repeated interactions (the rule every reader applies, ``Dataset.first_interactions``): a
user's *first* interaction with an item is kept and every later one with the same item is
dropped — an exact duplicate row (same user, item and time; file order decides which is
first) as well as a re-interaction at a later time. So an item occurs at most once in a
user's sequence: a target is never in its own history, valid and test are different items,
and a masked history never hides the held-out item.
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
    dropped_repeats: int = 0   # rows removed by first_interactions()

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

    def first_interactions(self) -> "Dataset":
        """Keep each user's first interaction with each item (in time; ties: file order),
        dropping exact duplicates and later repeats, with a note counting both kinds.

        >>> import numpy as np
        >>> ds = Dataset("d", {}, np.array(["u", "u", "u", "u"], dtype=object),
        ...              np.array(["a", "b", "a", "a"], dtype=object), np.array([1.0, 2.0, 1.0, 3.0]),
        ...              np.full(4, np.nan)).first_interactions()
        >>> list(ds.item_ids), ds.dropped_repeats
        (['a', 'b'], 2)
        >>> print(ds.notes[0][:93])
        dropped 2 repeated interaction(s) of a user with the same item (1 exact duplicate(s), 1 later
        """
        if not len(self.users):
            return self
        _, u = np.unique(self.users, return_inverse=True)
        _, i = np.unique(self.item_ids, return_inverse=True)
        key = u.astype(np.int64) * (int(i.max()) + 1) + i
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)  # first: earliest row
        keep = np.zeros(len(key), dtype=bool)
        keep[first] = True
        n = int((~keep).sum())
        if not n:
            return self
        exact = int((self.timestamps[~keep] == self.timestamps[first[inv[~keep]]]).sum())
        ds = self.subset(keep, note=f"dropped {n} repeated interaction(s) of a user with the same item "
                                    f"({exact} exact duplicate(s), {n - exact} later repeat(s)): each user's "
                                    "first interaction with an item is kept")
        ds.dropped_repeats = self.dropped_repeats + n
        return ds

    def subset(self, mask: np.ndarray, note: str | None = None) -> "Dataset":
        """A new Dataset with the interactions where ``mask`` is true (items kept
        only if they still occur)."""
        keep_items = set(np.unique(self.item_ids[mask]).tolist())
        ds = Dataset(self.name, {k: v for k, v in self.items.items() if k in keep_items},
                     self.users[mask], self.item_ids[mask], self.timestamps[mask],
                     self.ratings[mask], list(self.notes), self.dropped_repeats)
        if note:
            ds.notes.append(note)
        return ds

"""What every builder shares: seeded RNGs, the leakage-safe positions and windows,
and uniform negative sampling over items a user never interacted with.

Leakage rule (DESIGN.md): train examples come from ``Split.train_items(u)`` only;
valid/test examples of the recommendation tasks see ``Split.history(u, split)``
(valid: train; test: train + valid). Auxiliary tasks use train items in every split.

>>> # train a b c d, history_len 2  →  positions: [a]→b, [a b]→c, [b c]→d
"""
from __future__ import annotations

import random
import zlib
from typing import Iterable, Iterator, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from ..progress import bars
from ..data import Split
from .config import GenerateConfig
from .items import ItemWriter


def task_rng(seed: int, task: str, which: str, purpose: str = "build") -> random.Random:
    """An RNG that depends only on (seed, task, split, purpose), not on the order tasks run in."""
    return random.Random(f"{seed}/{task}/{which}/{purpose}")


def iter_users(split: Split, users: Iterable[str] | None, desc: str, progress: bool) -> Iterator[str]:
    us = list(split.sequences) if users is None else list(users)
    return iter(tqdm(us, desc=desc, unit="user", leave=False, disable=not bars(progress) or len(us) < 2000))


class Position(NamedTuple):
    """One (history → next item) position: ids, and their texts under the run's item rule
    (``history_titles``: input form; ``target_title``: target form; see ``tasks.items``)."""

    user: str
    history: tuple[str, ...]
    history_titles: list[str]
    history_ratings: tuple[float, ...]
    target: str
    target_title: str
    rating: float


def next_item_positions(split: Split, which: str, cfg: GenerateConfig, task: str,
                        users: Iterable[str] | None = None) -> Iterator[Position]:
    """(history → next item) positions. train: every position of the train sequence
    with at least one item before it (sliding window of ``history_len``), newest
    ``train_per_user[task]`` only if set; valid/test: one per user, the held-out item."""
    L = cfg.history_len
    cap = cfg.train_per_user.get(task)
    w = ItemWriter.for_split(split, cfg)  # history in the run's input form, target in its target form
    text, ttext = w.input, w.target
    for u in iter_users(split, users, f"{task}/{which}", cfg.progress):
        if which == "train":
            items, rs = split.train_items(u), split.train_ratings(u)
            tl = [text[i] for i in items]
            start = 1 if not cap else max(1, len(items) - cap)
            for t in range(start, len(items)):
                lo = t - L if t > L else 0
                yield Position(u, items[lo:t], tl[lo:t], rs[lo:t], items[t], ttext[items[t]], rs[t])
        else:
            h, hr = split.history(u, which)[-L:], split.history_ratings(u, which)[-L:]
            if h:
                tgt = split.target(u, which)
                yield Position(u, h, [text[i] for i in h], hr, tgt, ttext[tgt], split.target_rating(u, which))


def titles(split: Split) -> dict[str, str]:
    """Item id → unique title."""
    return {i: it.title for i, it in split.items.items()}


def train_windows(split: Split, which: str, cfg: GenerateConfig, task: str, min_len: int = 2,
                  users: Iterable[str] | None = None) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Windows of train items for the auxiliary tasks (every split: train items only).
    train: windows ending every ``aux_stride`` items from the newest; valid/test: the
    newest window per user."""
    L, stride = cfg.history_len, cfg.aux_stride
    cap = cfg.train_per_user.get(task)
    for u in iter_users(split, users, f"{task}/{which}", cfg.progress):
        items = split.train_items(u)
        ends = range(len(items), min_len - 1, -stride) if which == "train" else [len(items)]
        out = [(u, items[max(0, e - L):e]) for e in ends if e >= min_len]
        if cap:
            out = out[:cap]
        yield from reversed(out)  # chronological


class NegativeSampler:
    """Uniform negatives from the items a user never interacted with (whole sequence,
    valid and test included), drawn in vectorized chunks per user.

    >>> # sampler = NegativeSampler(split, np_rng(0, "ranking", "train"))
    >>> # sampler.sample("u1", 3) → three distinct ids u1 never touched
    """

    FIRST_CHUNK, MAX_CHUNK = 4, 256

    def __init__(self, split: Split, rng: np.random.Generator) -> None:
        self.split, self.rng = split, rng
        self.ids = np.array(list(split.items), dtype=object)
        self.index = {i: n for n, i in enumerate(self.ids.tolist())}
        self._buf: dict[tuple[str, int], list[list[str]]] = {}
        self._chunk = self.FIRST_CHUNK
        self._seen: tuple[str | None, np.ndarray] = (None, np.zeros(0, dtype=np.int64))

    def seen_index(self, user: str) -> np.ndarray:
        return np.unique(np.fromiter((self.index[i] for i in self.split.sequences[user].items), dtype=np.int64))

    def sample(self, user: str, k: int) -> list[str]:
        """``k`` distinct negatives (fewer if the user has touched nearly everything)."""
        buf = self._buf.get((user, k))
        if buf is None:  # users come one after the other: keep one buffer, grow its chunks
            self._buf.clear()
            self._chunk = self.FIRST_CHUNK
            buf = self._buf[(user, k)] = []
        if not buf:
            buf.extend(self._draw(user, k, self._chunk))
            self._chunk = min(self._chunk * 4, self.MAX_CHUNK)
        return buf.pop()

    def _draw(self, user: str, k: int, m: int) -> list[list[str]]:
        rng, n = self.rng, len(self.ids)
        if k <= 0:
            return [[] for _ in range(m)]
        if self._seen[0] != user:
            self._seen = (user, self.seen_index(user))
        seen = self._seen[1]
        sparse = len(seen) * 50 < n and n - len(seen) > 4 * k
        if sparse:  # the whole catalogue; rows that hit a seen item are redrawn
            pool, size = None, n
        else:
            mask = np.ones(n, dtype=bool)
            mask[seen] = False
            pool = np.flatnonzero(mask)
            size = len(pool)
            if size <= k:
                return [self.ids[rng.permutation(pool)].tolist() for _ in range(m)]
        idx = rng.integers(0, size, size=(m, k))
        todo = np.arange(m)
        for _ in range(50):  # rejection: redraw rows with a repeat (or a seen item)
            s = np.sort(idx[todo], axis=1)
            bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if sparse:
                bad |= np.isin(s, seen).any(axis=1)
            todo = todo[bad]
            if not len(todo):
                break
            idx[todo] = rng.integers(0, size, size=(len(todo), k))
        else:
            for r in todo:
                idx[r] = rng.choice(size if pool is not None else self._allowed(seen), size=k, replace=False)
        out = self.ids[idx if pool is None else pool[idx]]
        return out.tolist()[::-1]  # popped from the end: first drawn row first

    def _allowed(self, seen: np.ndarray) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        mask[seen] = False
        return np.flatnonzero(mask)


def np_rng(seed: int, task: str, which: str, purpose: str = "negatives") -> np.random.Generator:
    """A NumPy RNG keyed like ``task_rng``."""
    key = [seed, zlib.crc32(task.encode()), zlib.crc32(which.encode()), zlib.crc32(purpose.encode())]
    return np.random.default_rng(key)


def cap_rows(rows: list, cap: int | None, rnd: random.Random) -> list:
    """A seeded random subset of at most ``cap`` rows, original order kept."""
    if not cap or len(rows) <= cap:
        return rows
    keep = sorted(rnd.sample(range(len(rows)), cap))
    return [rows[i] for i in keep]

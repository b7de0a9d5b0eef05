"""What every builder shares: seeded RNGs, the leakage-safe positions and windows,
and uniform negative sampling over items a user never interacted with.

Leakage rule (DESIGN.md): train examples come from ``Split.train_items(u)`` only;
valid/test examples of the recommendation tasks see ``Split.history(u, split)``
(valid: train; test: train + valid). Auxiliary tasks use train items in every split.

>>> # train a b c d, history_len 2  →  positions: [a]→b, [a b]→c, [b c]→d
"""
from __future__ import annotations

import math
import random
from typing import Iterable, Iterator, NamedTuple

from tqdm.auto import tqdm

from ..data import Split
from .config import GenerateConfig


def task_rng(seed: int, task: str, which: str, purpose: str = "build") -> random.Random:
    """An RNG that depends only on (seed, task, split, purpose), not on the order tasks run in."""
    return random.Random(f"{seed}/{task}/{which}/{purpose}")


def fmt_rating(r: float) -> str:
    """``4.0`` → ``"4"``, ``3.5`` → ``"3.5"``, NaN → ``"?"``."""
    return "?" if r is None or math.isnan(r) else f"{r:g}"


def iter_users(split: Split, users: Iterable[str] | None, desc: str, progress: bool) -> Iterator[str]:
    us = list(split.sequences) if users is None else list(users)
    return iter(tqdm(us, desc=desc, unit="user", leave=False, disable=not progress or len(us) < 2000))


class Position(NamedTuple):
    user: str
    history: tuple[str, ...]
    history_ratings: tuple[float, ...]
    target: str
    rating: float


def next_item_positions(split: Split, which: str, cfg: GenerateConfig, task: str,
                        users: Iterable[str] | None = None) -> Iterator[Position]:
    """(history → next item) positions. train: every position of the train sequence
    with at least one item before it (sliding window of ``history_len``), newest
    ``train_per_user[task]`` only if set; valid/test: one per user, the held-out item."""
    L = cfg.history_len
    cap = cfg.train_per_user.get(task)
    for u in iter_users(split, users, f"{task}/{which}", cfg.progress):
        if which == "train":
            items, rs = split.train_items(u), split.train_ratings(u)
            start = 1 if not cap else max(1, len(items) - cap)
            for t in range(start, len(items)):
                lo = max(0, t - L)
                yield Position(u, items[lo:t], rs[lo:t], items[t], rs[t])
        else:
            h, hr = split.history(u, which), split.history_ratings(u, which)
            if h:
                yield Position(u, h[-L:], hr[-L:], split.target(u, which), split.target_rating(u, which))


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
    valid and test included).

    >>> # sampler.sample("u1", 3, rnd) → three distinct ids u1 never touched
    """

    def __init__(self, split: Split) -> None:
        self.split = split
        self.item_ids = list(split.items)
        self._seen: dict[str, set[str]] = {}

    def seen(self, user: str) -> set[str]:
        s = self._seen.get(user)
        if s is None:
            s = self._seen[user] = set(self.split.sequences[user].items)
        return s

    def sample(self, user: str, k: int, rnd: random.Random) -> list[str]:
        """``k`` distinct negatives (fewer if the user has touched nearly everything)."""
        seen, ids, n = self.seen(user), self.item_ids, len(self.item_ids)
        avail = n - len(seen)
        if avail <= 2 * k or avail < n // 2:  # dense user: draw from the explicit pool
            pool = [i for i in ids if i not in seen]
            return rnd.sample(pool, min(k, len(pool)))
        out: list[str] = []
        chosen: set[str] = set()
        randbelow = rnd.randrange
        while len(out) < k:
            i = ids[randbelow(n)]
            if i not in seen and i not in chosen:
                chosen.add(i)
                out.append(i)
        return out


def cap_rows(rows: list, cap: int | None, rnd: random.Random) -> list:
    """A seeded random subset of at most ``cap`` rows, original order kept."""
    if not cap or len(rows) <= cap:
        return rows
    keep = sorted(rnd.sample(range(len(rows)), cap))
    return [rows[i] for i in keep]

"""One metric implementation for every model: the Ranking, top-K with masking, and the metrics.

The **Ranking** is what every predictor (fine-tuned seq2seq or RecBole baseline) ends in::

    Ranking(users=["u1"], ranked=[["i7", "i3", "i9"]], targets=["i3"])

``ranking_metrics`` turns it into Recall@K (== HR@K: one held-out target per user),
NDCG@K and MRR@K. With the target at 1-based rank ``r``:

- recall@K = 1 if r <= K else 0
- ndcg@K   = 1 / log2(r + 1) if r <= K else 0   (ideal DCG is 1: one relevant item)
- mrr@K    = 1 / r if r <= K else 0

averaged over users. A target absent from the list counts 0 for every K.

>>> r = Ranking(["u1", "u2"], [["a", "b"], ["c", "d"]], ["b", "x"])
>>> m = ranking_metrics(r, ks=(1, 2))
>>> m["recall@1"], m["recall@2"], round(m["ndcg@2"], 4), m["mrr@2"], m["users"]
(0.0, 0.5, 0.3155, 0.25, 2)

**Masking** (the one rule for all models): items in the user's input history are
never ranked (`topk_from_scores` drops them). A target that is itself in the history
therefore can never be hit; that is counted, not hidden (``targets_in_history``).

**Tie rule** (full-sort scores): items with equal scores are ordered by their
position in ``item_ids`` (the catalogue order), first position first — a stable sort
on descending score. Deterministic, and the same for every model.

>>> topk_from_scores(np.array([[0.5, 0.9, 0.5, 0.9]]), ["a", "b", "c", "d"], [{"d"}], k=3)
[['b', 'a', 'c']]
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..atomic_io import write_jsonl
from ..errors import RecalignError

DEFAULT_KS = (5, 10, 20)
TIE_RULE = "equal scores are ordered by catalogue position (stable sort on descending score)"
MASKING_RULE = "input history items never ranked"


@dataclass
class Ranking:
    """Per evaluated user: ordered item ids (best first, at least max K long or the
    full ranking) and the held-out target."""

    users: list[str]
    ranked: list[list[str]]
    targets: list[str]

    def __post_init__(self) -> None:
        if not (len(self.users) == len(self.ranked) == len(self.targets)):
            raise RecalignError(f"Ranking needs as many users ({len(self.users)}), ranked lists "
                                f"({len(self.ranked)}) and targets ({len(self.targets)})")

    def __len__(self) -> int:
        return len(self.users)


def target_ranks(r: Ranking) -> list[int | None]:
    """1-based rank of each user's target in their list, None when absent."""
    out: list[int | None] = []
    for ranked, t in zip(r.ranked, r.targets):
        try:
            out.append(ranked.index(t) + 1)
        except ValueError:
            out.append(None)
    return out


def ranking_metrics(r: Ranking, ks: Iterable[int] = DEFAULT_KS) -> dict[str, float]:
    """``recall@K``, ``ndcg@K``, ``mrr@K`` for each K, and ``users``.

    Lists must hold at least max K items (or be the full ranking): a shorter list
    simply cannot hit below its end.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise RecalignError(f"K values must be positive integers, got {ks}")
    n = len(r)
    if n == 0:
        raise RecalignError("empty Ranking: no user to evaluate")
    ranks = target_ranks(r)
    out: dict[str, float] = {}
    for k in ks:
        hit = [rk is not None and rk <= k for rk in ranks]
        out[f"recall@{k}"] = sum(hit) / n
        out[f"ndcg@{k}"] = sum(1.0 / math.log2(rk + 1) for rk, h in zip(ranks, hit) if h) / n
        out[f"mrr@{k}"] = sum(1.0 / rk for rk, h in zip(ranks, hit) if h) / n
    out["users"] = n
    return out


def topk_from_scores(scores, item_ids: Sequence[str], exclude: Sequence[Iterable[str]], k: int,
                     chunk: int = 1024) -> list[list[str]]:
    """Full-sort scores (users × items) → each user's top-``k`` item ids, best first.

    ``exclude[u]`` are the items of user ``u``'s input history: never ranked (the one
    masking rule). Ties: see the module docstring (catalogue order). A row with fewer
    than ``k`` rankable items returns them all. NaN scores are an error.
    """
    try:
        import torch

        if isinstance(scores, torch.Tensor):
            scores = scores.detach().float().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(item_ids):
        raise RecalignError(f"scores must be (users, {len(item_ids)} items), got shape {scores.shape}")
    if len(exclude) != scores.shape[0]:
        raise RecalignError(f"exclude has {len(exclude)} rows for {scores.shape[0]} score rows")
    if np.isnan(scores).any():
        raise RecalignError("scores contain NaN: the model diverged or a score is undefined")
    pos = {it: j for j, it in enumerate(item_ids)}
    ids = np.asarray(item_ids, dtype=object)
    out: list[list[str]] = []
    for s in range(0, scores.shape[0], chunk):
        block = scores[s:s + chunk]
        allowed = np.ones(block.shape, dtype=bool)
        for row, ex in enumerate(exclude[s:s + chunk]):
            cols = [pos[i] for i in ex if i in pos]
            allowed[row, cols] = False
        # stable sort on (-score): ties keep catalogue order; excluded items pushed last
        key = np.where(allowed, -block, np.inf)
        order = np.argsort(key, axis=1, kind="stable")
        n_ok = allowed.sum(axis=1)
        for row in range(block.shape[0]):
            out.append(ids[order[row, :min(k, n_ok[row])]].tolist())
    return out


def rating_metrics(pred, true) -> dict:
    """RMSE and MAE of predicted ratings; ``n`` pairs.

    >>> rating_metrics([3.0, 4.0], [4.0, 4.0])
    {'rmse': 0.7071067811865476, 'mae': 0.5, 'n': 2}
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1:
        raise RecalignError(f"pred and true must be 1-D of equal length, got {p.shape} and {t.shape}")
    if len(p) == 0:
        raise RecalignError("no rating pair to evaluate")
    err = p - t
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))), "n": int(len(p))}


def candidate_metrics(r: Ranking, n_candidates: int | None = None, ks: Iterable[int] = (1, 5, 10)) -> dict:
    """The ranking task's own numbers over its sampled candidate lists (labelled, never the
    headline): ``hr@K``, ``ndcg@K`` and ``candidates`` (list length)."""
    m = ranking_metrics(r, ks)
    out = {}
    for k in sorted(set(ks)):
        out[f"hr@{k}"] = m[f"recall@{k}"]
        out[f"ndcg@{k}"] = m[f"ndcg@{k}"]
    out["candidates"] = n_candidates if n_candidates is not None else max((len(x) for x in r.ranked), default=0)
    out["users"] = m["users"]
    return out


def split_fingerprint(split_or_dir) -> str:
    """A short hash identifying a split: every (split, user, item) row in order.

    Accepts a Split or a prepared directory (``RUN`` or ``RUN/data``); both give the
    same value for the same split. Two results are comparable only when their
    fingerprints are equal.
    """
    split = split_or_dir
    if isinstance(split_or_dir, (str, Path)):
        from ..data import load_split

        split = load_split(split_or_dir)
    h = hashlib.sha256()
    for s in ("train", "valid", "test"):
        for u, i, _r, _t in split.rows(s):
            h.update(f"{s}\t{u}\t{i}\n".encode())
    return h.hexdigest()[:16]


def write_ranking_jsonl(path: str | Path, r: Ranking, k: int | None = None) -> Path:
    """Per-user top-K lines ``{"user", "target", "rank", "ranked"}``, written atomically."""
    return write_jsonl(path, ({"user": u, "target": t, "rank": rk, "ranked": lst[:k] if k else lst}
                              for u, lst, t, rk in zip(r.users, r.ranked, r.targets, target_ranks(r))))

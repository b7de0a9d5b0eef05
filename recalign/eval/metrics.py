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

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..atomic_io import write_jsonl
from ..data.fingerprint import split_fingerprint  # noqa: F401 — re-exported (moved to data/)
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


@dataclass
class PerUser:
    """One row per evaluated user: ``users`` and, per metric column, one value per user
    (NaN = no value for this user, e.g. an unparsable rating). A section's headline number
    is the mean of its column (RMSE: the root of the mean of ``sq_err``), so the bootstrap
    in ``eval.significance`` resamples these rows."""

    users: list[str]
    columns: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        self.users = [str(u) for u in self.users]
        self.columns = {k: np.asarray(v, dtype=np.float64) for k, v in self.columns.items()}
        for k, v in self.columns.items():
            if v.shape != (len(self.users),):
                raise RecalignError(f"per-user column {k!r} has shape {v.shape} for {len(self.users)} users")
        if len(set(self.users)) != len(self.users):
            raise RecalignError("per-user rows name a user twice: one row per user")

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


def per_user_ranking(r: Ranking, ks: Iterable[int] = DEFAULT_KS) -> PerUser:
    """One row per user: ``recall@K``, ``ndcg@K``, ``mrr@K`` of that user's list (the
    values ``ranking_metrics`` averages).

    >>> per_user_ranking(Ranking(["u1", "u2"], [["a", "b"], ["c"]], ["b", "x"]), ks=(2,)).columns["ndcg@2"]
    array([0.63092975, 0.        ])
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise RecalignError(f"K values must be positive integers, got {ks}")
    if len(r) == 0:
        raise RecalignError("empty Ranking: no user to evaluate")
    rk = np.array([x if x is not None else 0 for x in target_ranks(r)], dtype=np.float64)
    found = rk > 0
    cols: dict[str, np.ndarray] = {}
    for k in ks:
        hit = found & (rk <= k)
        safe = np.where(hit, rk, 1.0)
        cols[f"recall@{k}"] = hit.astype(np.float64)
        cols[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(safe + 1.0), 0.0)
        cols[f"mrr@{k}"] = np.where(hit, 1.0 / safe, 0.0)
    return PerUser(list(r.users), cols)


def ranking_metrics(r: Ranking, ks: Iterable[int] = DEFAULT_KS, per_user: bool = False) -> dict:
    """``recall@K``, ``ndcg@K``, ``mrr@K`` for each K, and ``users``.

    Lists must hold at least max K items (or be the full ranking): a shorter list
    simply cannot hit below its end. ``per_user=True`` adds ``"per_user"``: the
    ``PerUser`` rows these means come from (``report.write_result`` writes them to
    ``per_user/<section>.jsonl`` beside metrics.json, for the bootstrap intervals).
    """
    pu = per_user_ranking(r, ks)
    out: dict = {k: float(v.mean()) for k, v in pu.columns.items()}
    out["users"] = len(r)
    if per_user:
        out["per_user"] = pu
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


def per_user_rating(users: Sequence[str], preds: dict[str, Sequence], true,
                    scale: tuple[float, float] | None = None) -> PerUser:
    """One row per user: ``sq_err<suffix>`` and ``abs_err<suffix>`` for each ``{suffix: predictions}``
    (``""`` = the headline ``rmse``/``mae``; ``"_expected"`` = ``rmse_expected`` …). A None/NaN
    prediction (unparsable answer) gives NaN (no value for that user); an all-None column is
    left out. ``scale=(lo, hi)`` clips predictions first.

    >>> per_user_rating(["u", "v"], {"": [3.0, None]}, [4.0, 4.0]).columns["sq_err"]
    array([ 1., nan])
    """
    t = np.asarray(true, dtype=np.float64)
    cols = {}
    for suffix, pred in preds.items():
        p = np.array([np.nan if x is None else x for x in pred], dtype=np.float64)
        if p.shape != t.shape or p.shape != (len(users),):
            raise RecalignError(f"users, pred and true must have equal length, got {len(users)}, {p.shape}, "
                                f"{t.shape}")
        if np.isnan(p).all():
            continue
        if scale is not None:
            p = np.clip(p, *scale)
        err = p - t
        cols[f"sq_err{suffix}"], cols[f"abs_err{suffix}"] = err ** 2, np.abs(err)
    return PerUser(list(users), cols)


def rating_metrics(pred, true, users: Sequence[str] | None = None) -> dict:
    """RMSE and MAE of predicted ratings; ``n`` pairs. With ``users`` (one per pair) the
    result also holds ``"per_user"`` (``sq_err``/``abs_err`` rows, see ``per_user_rating``).

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
    out: dict = {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))), "n": int(len(p))}
    if users is not None:
        out["per_user"] = per_user_rating(users, {"": p}, t)
    return out


def candidate_metrics(r: Ranking, n_candidates: int | None = None, ks: Iterable[int] = (1, 5, 10),
                      per_user: bool = False) -> dict:
    """The ranking task's own numbers over its sampled candidate lists (labelled, never the
    headline): ``hr@K``, ``ndcg@K`` and ``candidates`` (list length); ``per_user=True`` adds
    the ``hr@K``/``ndcg@K`` rows as ``"per_user"``."""
    pu = per_user_ranking(r, ks)
    cols = {}
    for k in sorted(set(ks)):
        cols[f"hr@{k}"] = pu.columns[f"recall@{k}"]
        cols[f"ndcg@{k}"] = pu.columns[f"ndcg@{k}"]
    out: dict = {k: float(v.mean()) for k, v in cols.items()}
    out["candidates"] = n_candidates if n_candidates is not None else max((len(x) for x in r.ranked), default=0)
    out["users"] = len(r)
    if per_user:
        out["per_user"] = PerUser(pu.users, cols)
    return out


PER_USER_DIR = "per_user"


def write_per_user(path: str | Path, pu: PerUser) -> Path:
    """``{"user": .., <column>: value, ...}`` per line, written atomically (NaN → null)."""
    names = list(pu.columns)
    return write_jsonl(path, ({"user": u, **{c: (None if math.isnan(v := float(pu.columns[c][i])) else v)
                                              for c in names}} for i, u in enumerate(pu.users)))


def read_per_user(path: str | Path) -> PerUser:
    """The rows ``write_per_user`` wrote; a bad line is one error naming file and line."""
    users: list[str] = []
    cols: dict[str, list[float]] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                users.append(str(row.pop("user")))
                if len(users) == 1:
                    cols = {k: [] for k in row}
                if set(row) != set(cols):
                    raise KeyError(f"columns {sorted(row)} differ from the first line's {sorted(cols)}")
                for k, v in row.items():
                    cols[k].append(np.nan if v is None else float(v))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise RecalignError(f"bad per-user row: {e}", path=path, line=n) from None
    return PerUser(users, cols)


def write_ranking_jsonl(path: str | Path, r: Ranking, k: int | None = None) -> Path:
    """Per-user top-K lines ``{"user", "target", "rank", "ranked"}``, written atomically."""
    return write_jsonl(path, ({"user": u, "target": t, "rank": rk, "ranked": lst[:k] if k else lst}
                              for u, lst, t, rk in zip(r.users, r.ranked, r.targets, target_ranks(r))))

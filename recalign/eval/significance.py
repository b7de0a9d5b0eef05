"""How sure is a number: bootstrap intervals over users and paired tests between models.

Every headline metric is a mean over users (RMSE: the root of the mean squared error),
so the unit that is resampled is the **user** (``metrics.PerUser`` rows):

- **interval**: the percentile interval (default 95%) of a bootstrap over users:
  ``n_resamples`` resamples of the n users with replacement, seeded, the metric
  recomputed on each;
- **difference** between two models on the *same* users (paired by user id): the
  observed difference, its percentile interval from the *same* resamples applied
  to both models (a paired bootstrap), and a **p-value from a two-sided paired
  sign-flip permutation test**: under "no difference" each user's difference is as
  likely positive as negative, so its sign is flipped at random ``n_resamples`` times
  and ``p = (1 + #{|flipped mean| >= |observed mean|}) / (1 + n_resamples)``. For RMSE
  the test is on the per-user squared errors (RMSE is monotone in their mean).
  Significant means ``p < alpha`` (0.05).

Resamples are drawn as multinomial counts (one row of n counts per resample), so every
model's resampled metrics are one matrix product: 943 users × 1000 resamples × 10
models take milliseconds.

>>> from recalign.eval.metrics import PerUser
>>> a = PerUser(["u1", "u2", "u3"], {"recall@10": [1.0, 0.0, 1.0]})
>>> d = paired_difference(a, a, ["recall@10"])["recall@10"]
>>> (d.value, d.low, d.high, d.p, d.significant)
(0.0, 0.0, 0.0, 1.0, False)
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import RecalignError
from .metrics import PerUser

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95
ALPHA = 0.05
INTERVAL_METHOD = "percentile interval of a bootstrap over users (resampled with replacement)"
TEST_METHOD = ("two-sided paired sign-flip permutation test on per-user differences "
               "(RMSE: on squared errors); p = (1 + #|flipped mean| >= |observed|) / (1 + resamples)")


@dataclass(frozen=True)
class Estimate:
    """A metric and its interval over ``users``."""

    value: float
    low: float
    high: float
    users: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """``a − b`` on the users both have a value for; interval, p-value, significant at ``ALPHA``."""

    value: float
    low: float
    high: float
    p: float
    significant: bool
    users: int

    def as_dict(self) -> dict:
        return asdict(self)


def column_for(metric: str) -> tuple[str, bool]:
    """The per-user column a metric averages and whether its root is taken.

    >>> column_for("rmse_expected"), column_for("mae"), column_for("ndcg@10")
    (('sq_err_expected', True), ('abs_err', False), ('ndcg@10', False))
    """
    if metric.startswith("rmse"):
        return "sq_err" + metric[4:], True
    if metric.startswith("mae"):
        return "abs_err" + metric[3:], False
    return metric, False


def has_metric(pu: PerUser, metric: str) -> bool:
    return column_for(metric)[0] in pu.columns


def metric_value(pu: PerUser, metric: str) -> float:
    """The metric recomputed from the per-user rows (NaN rows ignored)."""
    col, root = column_for(metric)
    v = _column(pu, metric)
    ok = ~np.isnan(v)
    if not ok.any():
        return float("nan")
    m = float(v[ok].mean())
    return float(np.sqrt(m)) if root else m


def _column(pu: PerUser, metric: str) -> np.ndarray:
    col, _ = column_for(metric)
    if col not in pu.columns:
        raise RecalignError(f"no per-user column {col!r} for metric {metric!r} (have: {', '.join(pu.columns)})")
    return pu.columns[col]


@functools.lru_cache(maxsize=8)
def resample_counts(n: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(n_resamples, n) counts: how often each user is drawn in each bootstrap resample (rows sum to n).
    The same (n, n_resamples, seed) always gives the same matrix: models are resampled identically."""
    if n < 1 or n_resamples < 1:
        raise RecalignError(f"bootstrap needs at least one user and one resample, got {n} and {n_resamples}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    flat = (idx + (np.arange(n_resamples) * n)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)
    counts.flags.writeable = False
    return counts


@functools.lru_cache(maxsize=8)
def sign_flips(n: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(n_resamples, n) random ±1 signs for the permutation test (a stream apart from the bootstrap's)."""
    rng = np.random.default_rng([seed, 1])
    s = rng.integers(0, 2, size=(n_resamples, n)).astype(np.float64) * 2.0 - 1.0
    s.flags.writeable = False
    return s


def _resampled(counts: np.ndarray, v: np.ndarray, root: bool) -> np.ndarray:
    """The metric on every resample: mean over the drawn users that have a value."""
    ok = ~np.isnan(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        if ok.all():
            m = counts @ v / v.shape[0]
        else:
            m = (counts @ np.where(ok, v, 0.0)) / (counts @ ok.astype(np.float64))
    return np.sqrt(m) if root else m


def _percentiles(x: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.nanpercentile(x, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def intervals(pu: PerUser, metrics: Iterable[str], *, n_resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED, level: float = LEVEL) -> dict[str, Estimate]:
    """Each metric (those ``pu`` has a column for) with its bootstrap percentile interval.

    >>> e = intervals(PerUser(["a", "b"], {"ndcg@10": [0.5, 0.5]}), ["ndcg@10"])["ndcg@10"]
    >>> (e.value, e.low, e.high, e.users)
    (0.5, 0.5, 0.5, 2)
    """
    pu = _sorted(pu)
    counts = resample_counts(len(pu), n_resamples, seed)
    out = {}
    for metric in metrics:
        if not has_metric(pu, metric):
            continue
        v = _column(pu, metric)
        ok = v[~np.isnan(v)]
        value = metric_value(pu, metric)
        if len(ok) and np.ptp(ok) == 0:          # a constant: every resample gives exactly it
            lo = hi = value
        else:
            lo, hi = _percentiles(_resampled(counts, v, column_for(metric)[1]), level)
        out[metric] = Estimate(value, lo, hi, int(len(ok)))
    return out


def _sorted(pu: PerUser) -> PerUser:
    order = np.argsort(np.asarray(pu.users, dtype=object), kind="stable")
    return PerUser([pu.users[i] for i in order], {k: v[order] for k, v in pu.columns.items()})


def same_users(a: PerUser, b: PerUser) -> bool:
    return len(a) == len(b) and set(a.users) == set(b.users)


def check_paired(a: PerUser, b: PerUser, names: Sequence[str] = ("a", "b")) -> None:
    """Raise (one line) unless both were evaluated on exactly the same users."""
    if not same_users(a, b):
        only_a, only_b = len(set(a.users) - set(b.users)), len(set(b.users) - set(a.users))
        raise RecalignError(f"cannot pair {names[0]} ({len(a)} users) with {names[1]} ({len(b)} users): "
                            f"{only_a} users only in {names[0]}, {only_b} only in {names[1]}")


def paired_difference(a: PerUser, b: PerUser, metrics: Iterable[str], *, n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED, level: float = LEVEL, alpha: float = ALPHA,
                      names: Sequence[str] = ("a", "b")) -> dict[str, Difference]:
    """``a − b`` for each metric both have: paired bootstrap interval and sign-flip p-value.
    Users must be the same set (paired by user id); users without a value in either
    model (NaN, e.g. an unparsable rating) are left out of that metric's pair."""
    check_paired(a, b, names)
    a, b = _sorted(a), _sorted(b)
    out = {}
    for metric in metrics:
        if not (has_metric(a, metric) and has_metric(b, metric)):
            continue
        va, vb = _column(a, metric), _column(b, metric)
        ok = ~(np.isnan(va) | np.isnan(vb))
        n = int(ok.sum())
        if n == 0:
            continue
        va, vb = va[ok], vb[ok]
        root = column_for(metric)[1]
        sa, sb = (np.sqrt(va.mean()), np.sqrt(vb.mean())) if root else (va.mean(), vb.mean())
        value = float(sa - sb)
        counts = resample_counts(n, n_resamples, seed)
        lo, hi = _percentiles(_resampled(counts, va, root) - _resampled(counts, vb, root), level)
        d = va - vb
        observed = abs(d.mean())
        flipped = np.abs(sign_flips(n, n_resamples, seed) @ d / n)
        p = float((1 + np.count_nonzero(flipped >= observed - 1e-12 * max(1.0, observed))) / (1 + n_resamples))
        out[metric] = Difference(value, lo, hi, p, p < alpha, n)
    return out


def seed_summary(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; 0 for one run) and count of per-seed values.

    >>> seed_summary([0.03, 0.04, 0.05])
    (0.04, 0.01, 3)
    """
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(round(v.mean(), 12)), float(round(v.std(ddof=1), 12)) if len(v) > 1 else 0.0, int(len(v))

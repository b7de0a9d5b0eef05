"""The rating reference: r̂(u, i) = μ + b_u + b_i, fitted on train ratings only.

Biases are regularized least squares solved by alternating closed-form updates
(``b_i = Σ(r - μ - b_u) / (λ_i + n_i)``, then ``b_u`` likewise); λ is picked on the
valid ratings from a small grid; the test ratings are then predicted. Unknown users or
items get a bias of 0.

>>> m = BiasModel(reg_user=0, reg_item=0, iters=20).fit([("u", "a", 5.0), ("u", "b", 3.0), ("v", "a", 4.0)])
>>> round(m.predict("v", "b"), 2)
2.0
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..data import Split, load_split, split_stats
from ..data.fingerprint import split_fingerprint
from ..eval.metrics import candidate_metrics, per_user_rating, rating_metrics
from ..eval.report import PROTOCOL, write_result
from .scoring import ranking_task_candidates, read_candidates, score_candidates


class BiasModel:
    def __init__(self, reg_user: float = 10.0, reg_item: float = 10.0, iters: int = 10):
        self.reg_user, self.reg_item, self.iters = reg_user, reg_item, iters

    def fit(self, rows) -> "BiasModel":
        rows = [(u, i, r) for u, i, r in rows if r == r]  # drop NaN ratings
        us = sorted({u for u, _, _ in rows})
        its = sorted({i for _, i, _ in rows})
        self.uix = {u: k for k, u in enumerate(us)}
        self.iix = {i: k for k, i in enumerate(its)}
        u = np.array([self.uix[x[0]] for x in rows])
        i = np.array([self.iix[x[1]] for x in rows])
        r = np.array([x[2] for x in rows], dtype=np.float64)
        self.mu = float(r.mean())
        self.bu, self.bi = np.zeros(len(us)), np.zeros(len(its))
        nu, ni = np.bincount(u, minlength=len(us)), np.bincount(i, minlength=len(its))
        for _ in range(self.iters):
            self.bi = np.bincount(i, r - self.mu - self.bu[u], len(its)) / (self.reg_item + ni)
            self.bu = np.bincount(u, r - self.mu - self.bi[i], len(us)) / (self.reg_user + nu)
        return self

    def predict(self, user: str, item: str) -> float:
        bu = self.bu[self.uix[user]] if user in self.uix else 0.0
        bi = self.bi[self.iix[item]] if item in self.iix else 0.0
        return float(self.mu + bu + bi)

    def item_scores(self, items: list[str]) -> np.ndarray:
        return np.array([self.bi[self.iix[i]] if i in self.iix else -np.inf for i in items])


def _pairs(split: Split, which: str):
    return [(u, split.target(u, which), split.target_rating(u, which)) for u in split.users
            if split.target_rating(u, which) == split.target_rating(u, which)]


def run_bias_baseline(run_dir: str | Path, name: str = "UserItemBias", grid=(0.0, 1.0, 5.0, 10.0, 25.0),
                      candidates: str | Path | None = None) -> dict:
    """Fit on train, choose λ on valid, write ``RUN/results/<name>/metrics.json`` with rating
    metrics (predictions clipped to the observed rating range). With ``candidates``, the
    ranking task's lists are also ranked by item bias (a popularity-like reference)."""
    t0 = time.perf_counter()
    split = load_split(run_dir)
    train = [(u, i, r) for u, i, r, _ in split.rows("train")]
    lo, hi = min(r for _, _, r in train), max(r for _, _, r in train)
    valid, test = _pairs(split, "valid"), _pairs(split, "test")

    def score(m, pairs):
        return rating_metrics([min(hi, max(lo, m.predict(u, i))) for u, i, _ in pairs], [r for _, _, r in pairs],
                              users=[u for u, _, _ in pairs])

    best = min(grid, key=lambda lam: score(BiasModel(lam, lam).fit(train), valid)["rmse"])
    model = BiasModel(best, best).fit(train)
    # its one prediction, mu + b_u + b_i, is its expected rating: E[r] columns = its own, so the fine-tuned
    # model's RMSE E[r] is paired with it user by user
    pred = np.array([min(hi, max(lo, model.predict(u, i))) for u, i, _ in test])
    true, users = [r for _, _, r in test], [u for u, _, _ in test]
    rating = rating_metrics(pred, true)
    rating.update(rmse_expected=rating["rmse"], mae_expected=rating["mae"],
                  per_user=per_user_rating(users, {"": pred, "_expected": pred}, true))
    result = {"kind": "baseline", "split": "test", "split_fingerprint": split_fingerprint(split),
              "dataset": split_stats(split), "protocol": dict(PROTOCOL),
              "rating": rating, "valid_rating": score(model, valid),
              "training": {"epochs": model.iters, "best_epoch": model.iters - 1, "converged": True,
                           "stopped_by": "closed_form", "wall_time_s": round(time.perf_counter() - t0, 2)},
              "config": {"reg": best, "grid": list(grid), "clip": [lo, hi]},
              "notes": ["rating baseline mu + b_u + b_i fitted on train; reg chosen on valid RMSE; its prediction is "
                        "its expected rating (RMSE E[r] = RMSE)"]}
    cand = read_candidates(candidates) if candidates is not None else ranking_task_candidates(run_dir)
    if cand:
        items, users = list(split.items), split.users
        s = np.tile(model.item_scores(items), (len(users), 1))
        cr = score_candidates(users, s, items, cand)
        if len(cr):
            result["ranking"] = candidate_metrics(cr, per_user=True)
    write_result(run_dir, name, result)
    return {"model": name, **result}

"""Ranking: history + a shuffled candidate list (the target plus N-1 negatives drawn
uniformly from items the user never interacted with) → the target title.

Positions are those of retrieval (train: sliding windows; valid/test: the held-out
item). Users who touched nearly every item get fewer candidates. Answer: exactly the
item's text. Evaluation: each stored candidate list scored by log-likelihood; HR@1, HR@5,
NDCG@5 by the raw sum of log-probs (``hr@1`` …) and by the per-token mean (``*_lennorm``).

>>> # [Toy Story, Heat] + candidates [Babe, Alien, Fargo] → Alien
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..data import Split
from ..errors import RecalignError
from .base import ITEM_TEXT, SAMPLE_HISTORY, Meta, Task
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .evaluation import EvalContext, by_template, per_second, rank_by_score
from .items import ItemWriter
from .sampling import NegativeSampler, next_item_positions, np_rng, task_rng

NAME = "ranking"


@dataclass
class RankingExample:
    """History + shuffled candidates (target + sampled negatives) → the target title."""

    history: list[str]
    candidates: list[str]
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "RankingExample":
        return cls(list(SAMPLE_HISTORY), ["Babe", "The Matrix", "Hamlet"], "The Matrix")


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RankingExample, Meta]]:
    title = ItemWriter.for_split(split, cfg).input  # candidates are written like the history
    rnd = task_rng(cfg.seed, NAME, which)
    neg = NegativeSampler(split, np_rng(cfg.seed, NAME, which))
    rows, dom = [], get_domain(cfg.domain)
    for p in next_item_positions(split, which, cfg, NAME, users):
        cands = neg.sample(p.user, cfg.num_candidates - 1)
        cands.insert(rnd.randrange(len(cands) + 1), p.target)
        rows.append((RankingExample(p.history_titles, [title[i] for i in cands], p.target_title, dom),
                     Meta(p.user, p.target, cands, list(p.history), p.rating)))
    return rows


def evaluate(ctx: EvalContext, rows: list[dict]) -> dict:
    """Score each example's candidates; HR@1/HR@5/NDCG@5 (raw and length-normalized)."""
    M = ctx.metrics
    items = ctx.split.items
    users = [str(r["user"]) for r in rows]
    targets = [str(r["target_item"]) for r in rows]
    cands = [[str(c) for c in r["candidates"]] for r in rows]
    unknown = {c for cs in cands for c in cs if c not in items}
    if unknown:
        raise RecalignError(f"ranking candidates name unknown items {sorted(unknown)[:5]}: data and split differ",
                            path=f"text/ranking/{ctx.data_split}")
    t0 = time.perf_counter()
    sc = ctx.score_candidates(rows, cands, desc="ranking")
    wall = time.perf_counter() - t0
    raw = [rank_by_score(c, s.logp) for c, s in zip(cands, sc)]
    norm = [rank_by_score(c, s.normalized) for c, s in zip(cands, sc)]
    n_c = max((len(c) for c in cands), default=0)
    m_raw = M.candidate_metrics(M.Ranking(users, raw, targets), n_c, ks=(1, 5), per_user=True)
    m_norm = M.candidate_metrics(M.Ranking(users, norm, targets), n_c, ks=(1, 5))
    m = {k: m_raw[k] for k in ("hr@1", "hr@5", "ndcg@5", "per_user")}
    m.update({f"{k}_lennorm": m_norm[k] for k in ("hr@1", "hr@5", "ndcg@5")})
    m["by_template"] = by_template(rows, lambda ix: M.candidate_metrics(
        M.Ranking([users[i] for i in ix], [raw[i] for i in ix], [targets[i] for i in ix]), n_c, ks=(1, 5)),
        ["hr@1", "ndcg@5"])
    m.update(candidates=n_c, users=m_raw["users"],
             scores="hr@K/ndcg@5: sum of token log-probs (raw); *_lennorm: mean log-prob per token",
             wall_s=round(wall, 2), users_per_s=per_second(len(rows), wall))
    ctx.write_predictions("ranking", [
        {"user": u, "target": t, "candidates": c, "ranked_raw": a, "ranked_lennorm": b,
         "logp": [round(float(x), 5) for x in s.logp], "n_tokens": np.asarray(s.n_tokens).tolist()}
        for u, t, c, a, b, s in zip(users, targets, cands, raw, norm, sc)])
    return {"ranking": m}


TASK = Task(NAME, RankingExample, build, "history + candidates → the taken title",
            metrics=("hr@1", "hr@5", "ndcg@5"), answer=ITEM_TEXT, evaluator=evaluate)

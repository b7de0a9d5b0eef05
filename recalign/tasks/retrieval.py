"""Retrieval (sequential recommendation): the user's most recent titles → the next title.

train: one example per position of the train sequence (sliding window);
valid: train history → valid item; test: train + valid history → test item.
Answer: exactly the item's text. Evaluation (the headline): trie-constrained beam search
over *all* item titles; the beams, best first, are the ranking; the user's history is
excluded inside the trie (``Split.history(user, split)`` plus the items the input was built
from — the masking set of the baselines). Recall/NDCG/MRR@K; with ``exact`` every title is
also scored (``retrieval_exact``: what beam search loses).

>>> # train Toy Story, Heat, Alien  →  [Toy Story] → Heat,  [Toy Story, Heat] → Alien
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from ..data import Split
from .base import ITEM_TEXT, SAMPLE_HISTORY, Meta, Task
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .evaluation import EvalContext, by_template, per_second
from .sampling import next_item_positions

NAME = "retrieval"


@dataclass
class RetrievalExample:
    """Most recent titles → the next title."""

    history: list[str]
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "RetrievalExample":
        return cls(list(SAMPLE_HISTORY), "The Matrix")


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RetrievalExample, Meta]]:
    dom = get_domain(cfg.domain)
    return [(RetrievalExample(p.history_titles, p.target_title, dom), Meta(p.user, p.target, [], list(p.history), p.rating))
            for p in next_item_positions(split, which, cfg, NAME, users)]


def masking_set(split: Split, user: str, which: str, row: dict) -> list[str]:
    """Items never ranked for this user: every item before the target, plus the input's items."""
    return list(dict.fromkeys([*split.history(user, which), *map(str, row.get("history") or [])]))


def _rank(u: list[str], t: str) -> int | None:
    return u.index(t) + 1 if t in u else None


def evaluate(ctx: EvalContext, rows: list[dict]) -> dict:
    """Full-catalogue ranking by constrained beam search (and by exact scoring with ``exact``)."""
    split, opt, M = ctx.split, ctx.options, ctx.metrics
    # what the model generates per item (titles, or ids: tasks/items.py)
    titles = getattr(ctx, "item_texts", None) or {i: it.title for i, it in split.items.items()}
    mism = sum(1 for r in rows if str(r["target"]).strip() != titles.get(str(r["target_item"]), ""))
    if mism:
        ctx.notes.append(f"retrieval/{ctx.data_split}: {mism} of {len(rows)} targets differ from the item title: "
                         "the trie ranks bare titles")
    users = [str(r["user"]) for r in rows]
    targets = [str(r["target_item"]) for r in rows]
    masks = [masking_set(split, u, ctx.which, r) for u, r in zip(users, rows)]
    in_hist = sum(1 for t, m in zip(targets, masks) if t in set(m))
    t0 = time.perf_counter()
    res = ctx.rank_catalogue(rows, masks)
    wall = time.perf_counter() - t0
    ranked = [[i for i, _ in x] for x in res]
    ks = [k for k in opt.ks if k <= opt.beam] or [opt.beam]
    m = M.ranking_metrics(M.Ranking(users, ranked, targets), ks=ks, per_user=True)
    m.update(beam=opt.beam, length_penalty=opt.length_penalty,
             ranked_mean=sum(map(len, ranked)) / max(1, len(ranked)), targets_in_history=in_hist,
             wall_s=round(wall, 2), users_per_s=per_second(len(rows), wall))
    k = 10 if 10 in ks else ks[-1]
    m["by_template"] = by_template(rows, lambda ix: M.ranking_metrics(
        M.Ranking([users[i] for i in ix], [ranked[i] for i in ix], [targets[i] for i in ix]), ks=[k]),
        [f"recall@{k}", f"ndcg@{k}"])
    out = {"retrieval": m}
    ctx.write_predictions("retrieval", [
        {"user": u, "target": t, "rank": _rank(rk, t), "ranked": rk, "scores": [round(s, 5) for _, s in x],
         "masked": len(mk)} for u, t, rk, x, mk in zip(users, targets, ranked, res, masks)])
    if opt.exact:
        t0 = time.perf_counter()
        ex = ctx.rank_catalogue_exact(rows, masks, top_k=max(opt.ks, default=20))
        wall = time.perf_counter() - t0
        er = [[i for i, _ in x] for x in ex]
        me = M.ranking_metrics(M.Ranking(users, er, targets), ks=opt.ks)
        me.update(top1_agrees_with_beam=sum(1 for a, b in zip(er, ranked) if a[:1] == b[:1]) / max(1, len(er)),
                  wall_s=round(wall, 2), users_per_s=per_second(len(rows), wall),
                  method="every non-masked title scored by sum of token log-probs (no length penalty)")
        out["retrieval_exact"] = me
        ctx.write_predictions("retrieval_exact", [
            {"user": u, "target": t, "rank": _rank(rk, t), "ranked": rk, "scores": [round(s, 5) for _, s in x]}
            for u, t, rk, x in zip(users, targets, er, ex)])
    return out


TASK = Task(NAME, RetrievalExample, build, "recent titles → next title",
            metrics=("recall@5", "recall@10", "recall@20", "ndcg@10"), answer=ITEM_TEXT, evaluator=evaluate)

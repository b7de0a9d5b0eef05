"""Evaluate an embedder on the query tasks' test splits (seen and unseen templates).

Per task: Hit@5/10/20 (== Recall@K: one positive per query), NDCG@10 and MRR@10 from
``eval.metrics.ranking_metrics`` (the one metric code), on a full ranking of the catalogue;
for FA2I/SA2I/VC2I/NA2I also Coverage@K = the mean share of the top-K items that meet every
condition of the query, checked by code against the item attributes.

Masking: user tasks never rank ``history(u, "test")`` (the rule of every model); I2I never
ranks its anchor; attribute tasks mask nothing. UH2I is the retrieval task of the seq2seq
models and the baselines (same users, same masking, same metric code): it is written as the
``retrieval`` section of ``RUN/results/<name>/metrics.json`` so ``recalign compare`` puts it
beside them; every task's numbers sit under ``query``, each task's Hit@10, NDCG@10 and
Coverage@10 with a 95% bootstrap interval over its queries (``intervals``: metric → [lo, hi]).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..data import split_stats
from ..data.fingerprint import split_fingerprint
from ..eval.metrics import Ranking, ranking_metrics
from ..eval.metrics import PerUser
from ..eval.report import PROTOCOL, write_result
from ..eval.significance import intervals as bootstrap_intervals
from ..run_dir import RunDir
from ..tasks.query import COVERAGE_TASKS, Catalogue, conditions_from_json, holds_all
from .config import EmbedConfig
from .data import load_queries, task_names
from .items import item_text
from .model import PRESETS, load_embedder, result_name
from .retrieve import ItemIndex, autocast, encode_rows
from .train import arm_dir, check_trained, instruction

KS = (5, 10, 20)
COVERAGE_KS = (5, 10)
INTERVAL_METRICS = ("hit@10", "ndcg@10", "coverage@10")


def coverage(ranked: list[list[str]], conds: list[list], cat: Catalogue, k: int) -> float:
    """Mean over queries of (top-``k`` items meeting every condition) / k.

    >>> from recalign.data import Item
    >>> from recalign.tasks.query import Condition
    >>> cat = Catalogue.from_items({i: Item(i, i, fields={"genres": g}) for i, g in [("a", "Drama"), ("b", "Comedy")]})
    >>> coverage([["a", "b"]], [[Condition("genres", "has", "Drama")]], cat, k=2)
    0.5
    """
    if not ranked:
        return 0.0
    return sum(sum(holds_all(c, cat.attrs[i]) for i in r[:k]) / k for r, c in zip(ranked, conds)) / len(ranked)


def evaluate_task(model, index: ItemIndex, cat: Catalogue, run: RunDir, task: str, which: str,
                  cfg: EmbedConfig) -> dict:
    ds = load_queries(run, task, which)
    if not len(ds):
        return {"queries": 0}
    inst = instruction(task, cfg)
    t0 = time.perf_counter()
    q = encode_rows(model, ds.select_columns(["query"]).to_list(), inst, cfg.encode_batch_size)
    enc_s = time.perf_counter() - t0
    users = [u or f"q{i}" for i, u in enumerate(ds["user"])]
    ranked = index.rank(q, ds["history"], max(KS), use_faiss=cfg.faiss)
    m = ranking_metrics(Ranking(users, ranked, list(ds["positive_id"])), ks=KS, per_user=True)
    pu = m["per_user"] if task == "uh2i" else m.pop("per_user")
    cols = {"hit@10": pu.columns["recall@10"], "ndcg@10": pu.columns["ndcg@10"]}
    out = {f"hit@{k}": m[f"recall@{k}"] for k in KS}
    out.update({"ndcg@10": m["ndcg@10"], "mrr@10": m["mrr@10"], "queries": len(ds),
                "queries_per_s": round(len(ds) / enc_s, 1) if enc_s else None})
    by: dict[str, list[float]] = {}   # Hit@10 per template: which wording the model cannot read
    for tid, pos, r in zip(ds["_template_id"], ds["positive_id"], ranked):
        by.setdefault(tid, []).append(float(pos in r[:10]))
    out["by_template"] = {t: {"hit@10": sum(v) / len(v), "queries": len(v)} for t, v in sorted(by.items())}
    if task in COVERAGE_TASKS:
        conds = [conditions_from_json(c) for c in ds["conditions"]]
        out.update({f"coverage@{k}": coverage(ranked, conds, cat, k) for k in COVERAGE_KS})
        cols["coverage@10"] = [coverage([r], [c], cat, 10) for r, c in zip(ranked, conds)]
    est = bootstrap_intervals(PerUser([str(i) for i in range(len(ds))], cols), INTERVAL_METRICS)
    out["intervals"] = {k: [e.low, e.high] for k, e in est.items()}   # 95%, bootstrap over the task's queries
    if task == "uh2i":
        out["_retrieval"] = m  # recall/ndcg/mrr@K + per_user: the `retrieval` section
    return out


def evaluate_embedder(run_dir: str | Path | RunDir, cfg: EmbedConfig | None = None, model: str | None = None,
                      name: str | None = None, zero_shot: bool = False, log=print, arm: str | None = None) -> dict:
    """Evaluate ``model`` (default: ``arm_dir(run, arm)/model``, i.e. ``RUN/embed/model``; with
    ``zero_shot`` the untrained encoder: the preset's initial weights or the configured checkpoint)
    on every generated query task; write ``RUN/results/<name>/metrics.json`` (default name:
    ``cfg.name`` or ``embed-<model>``, ``-zero-shot`` added for the zero-shot row); return the result."""
    cfg = cfg or EmbedConfig()
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if model is None:
        if zero_shot:
            model = str(arm_dir(run, arm) / "init") if cfg.model in PRESETS else cfg.model
        else:
            check_trained(run, cfg, arm)      # not under another split or setting than it was trained with
            model = str(arm_dir(run, arm) / "model")
    if not name:
        name = (cfg.name + ("-zero-shot" if zero_shot else "")) if cfg.name else result_name(cfg.model, zero_shot)
    with autocast(cfg.bf16):
        return _evaluate(run, cfg, model, name, zero_shot, log)


def _evaluate(run: RunDir, cfg: EmbedConfig, model: str, name: str, zero_shot: bool, log) -> dict:
    split = run.split()
    enc = load_embedder(model, cfg.max_seq_length, cfg.seed)
    enc.max_seq_length = cfg.max_seq_length
    cat = Catalogue.from_items(split.items)
    ids = list(split.items)
    index = ItemIndex(enc, ids, [item_text(split.items[i]) for i in ids], cfg.encode_batch_size)
    log(f"{name}: embedded {len(ids)} items in {index.wall_s:.1f} s")
    query: dict = {}
    result: dict = {"kind": "embedder", "split": "test", "split_fingerprint": split_fingerprint(split),
                    "dataset": split_stats(split), "protocol": {**PROTOCOL, "ranking": "full (all items), cosine"},
                    "notes": ["query tasks: hit@K == recall@K (one positive per query); coverage@K checked against "
                              "item attributes by code"]}
    for task in task_names(cfg.tasks):
        query[task] = {}
        for which, key in (("test", "seen"), ("test_unseen", "unseen")):
            m = evaluate_task(enc, index, cat, run, task, which, cfg)
            if "_retrieval" in m:
                result["retrieval" if key == "seen" else "retrieval_unseen"] = m.pop("_retrieval")
            query[task][key] = m
        s = query[task]["seen"]
        if not s.get("queries"):   # not "hit@10 0.0000": there was nothing to score
            log(f"  {task:5s} seen no queries")
            continue
        log(f"  {task:5s} seen hit@10 {s.get('hit@10', 0):.4f} ndcg@10 {s.get('ndcg@10', 0):.4f}"
            + (f" coverage@10 {s['coverage@10']:.3f}" if "coverage@10" in s else ""))
    result["query"] = query
    result["embedder"] = {"model": model, "source": cfg.model, "zero_shot": zero_shot,
                          "items_per_s": round(len(ids) / index.wall_s, 1) if index.wall_s else None,
                          "instruction": cfg.instruction, "in_batch_negatives": cfg.in_batch_negatives,
                          "faiss": cfg.faiss, "bf16": cfg.bf16}
    info = Path(model) / "train_info.json"
    if info.is_file() and not zero_shot:
        t = json.loads(info.read_text())
        result["training"] = {"steps": t.get("steps"), "stopped_by": "step budget", "wall_time_s": t.get("train_s")}
        result["embedder"]["train"] = t
    elif zero_shot:
        result["training"] = {"stopped_by": "no_training"}
    write_result(run.root, name, result)
    return {"model": name, **result}


__all__ = ["evaluate_embedder", "evaluate_task", "coverage", "KS"]

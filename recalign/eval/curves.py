"""Learning curves: the evaluator training calls, and the plot beside the comparison.

``curve_evaluator(run_dir, users=100)`` builds the ``evaluate_fn(model, tokenizer) -> dict`` that
``recalign.t5_finetune.train(..., evaluate_fn=...)`` calls while it trains: a fixed, seeded
subset of valid users (one seen-template retrieval row each), ranked by the real retrieval
decoder (trie-constrained beam search over every title, history masked as in ``evaluate``),
scored by ``metrics.ranking_metrics``. The points land in ``RUN/logs/curve.jsonl``.

``plot_curves({"recalign-t5": points, ...}, baselines={"SASRec": 0.05}, path)`` draws valid
NDCG@10 against training minutes and against examples seen, one line per model (every ablation
arm on one plot) and each baseline's final valid NDCG@10 as a horizontal line.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..atomic_io import atomic_path
from ..errors import RecalignError
from ..materialize import load_task_data
from ..run_dir import RunDir
from ..tasks.retrieval import NAME as RETRIEVAL, masking_set
from ..tasks.items import ItemRule, ItemWriter
from .decode import constrained_beam_search
from .item_rank import atomic_token_ids, rank_items
from .metrics import Ranking, ranking_metrics
from .trie import TitleTrie

log = logging.getLogger(__name__)
K = 10


def curve_users(rows: Sequence[dict], users: int, seed: int = 0) -> list[dict]:
    """One row per user (the first), then a seeded sample of ``users`` of them in user order.

    >>> rows = [{"user": u} for u in "abcabcdef"]
    >>> [r["user"] for r in curve_users(rows, 3, seed=0)] == [r["user"] for r in curve_users(rows, 3, seed=0)]
    True
    >>> len(curve_users(rows, 3)), len(curve_users(rows, 100))
    (3, 6)
    """
    first: dict[str, dict] = {}
    for r in rows:
        first.setdefault(str(r["user"]), r)
    names = sorted(first)
    if users < len(names):
        names = sorted(random.Random(seed).sample(names, users))
    return [first[u] for u in names]


def curve_evaluator(run_dir: str | Path, users: int = 100, seed: int = 0, beam: int = 20,
                    batch_size: int = 32) -> Callable[..., dict] | None:
    """``evaluate_fn(model, tokenizer) -> {"ndcg@10", "recall@10", "users"}`` on valid users, or
    None (with a log line) when the run has no prepared split or no valid retrieval rows."""
    run = RunDir(run_dir)
    if users <= 0:
        return None
    if not run.has_split():
        log.warning("no learning curve: %s has no prepared split", run.root)
        return None
    split = run.split()
    try:
        ds = load_task_data(run, RETRIEVAL, "valid")
    except RecalignError as e:
        log.warning("no learning curve: %s", e)
        return None
    rows = curve_users(list(ds), users, seed)
    if not rows:
        return None
    names = [str(r["user"]) for r in rows]
    targets = [str(r["target_item"]) for r in rows]
    inputs = [r["input"] for r in rows]
    masks = [masking_set(split, u, "valid", r) for u, r in zip(names, rows)]
    rule = run.generated_text().item_rule if run.has_manifest() else ItemRule()
    titles = ItemWriter(split.items, rule).target   # what the model generates per item (tasks/items.py)
    tries: dict[int, TitleTrie] = {}

    def evaluate_fn(model, tokenizer) -> dict:
        import torch   # lazy: heavy

        if rule.atomic_target:       # atomic ids: exact full ranking, one decoder step (eval/item_rank.py)
            items, ids = atomic_token_ids(titles, tokenizer)
            res = rank_items(model, tokenizer, inputs, items, ids, masks, top_k=beam, batch_size=batch_size)
        else:
            trie = tries.get(id(tokenizer))
            if trie is None:
                trie = tries[id(tokenizer)] = TitleTrie.from_titles(titles, tokenizer)
            with torch.no_grad():
                res = constrained_beam_search(model, tokenizer, inputs, trie, [trie.exclusion(m) for m in masks],
                                              beam=beam, length_penalty=0.0, batch_size=batch_size)
        ks = [min(K, beam)]
        m = ranking_metrics(Ranking(names, [[i for i, _ in x] for x in res], targets), ks=ks)
        return {f"ndcg@{K}": m[f"ndcg@{ks[0]}"], f"recall@{K}": m[f"recall@{ks[0]}"], "users": len(rows)}

    return evaluate_fn


def plot_curves(points_by_model: Mapping[str, Sequence[dict]], baselines: Mapping[str, float] | None,
                path: str | Path, metric: str = f"ndcg@{K}") -> Path | None:
    """Valid ``metric`` against training minutes (left) and examples seen (right), one line per
    model, baselines as horizontal lines; written atomically. None when no model has points."""
    models = {m: [p for p in pts if metric in p] for m, pts in points_by_model.items()}
    models = {m: sorted(pts, key=lambda p: p["step"]) for m, pts in models.items() if pts}
    if not models:
        return None
    import matplotlib   # lazy: heavy

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, x, label in ((axes[0], "train_minutes", "training minutes"), (axes[1], "examples_seen", "examples seen")):
        for name, pts in models.items():
            ax.plot([p[x] for p in pts], [p[metric] for p in pts], marker="o", ms=3, label=name)
        for j, (name, value) in enumerate(sorted((baselines or {}).items())):
            ax.axhline(value, ls="--", lw=1, color=f"C{(len(models) + j) % 10}", label=f"{name} (final)")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"valid {metric}")
    users = {p.get("users") for pts in models.values() for p in pts}
    fig.suptitle(f"learning curves (valid, {', '.join(map(str, sorted(u for u in users if u)))} users)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path

"""The comparison's per-task table for embedders (``kind: "embedder"`` results, their ``query``
section: task → seen/unseen → Hit@5/10, NDCG@10, Coverage@5/10 and queries): one row per
query task (``QUERY_TASKS`` order), template set and embedder, the zero-shot row beside its
fine-tuned one. ``compare`` adds it to report.md/report.json only when an embedder is compared.

>>> ft = {"model": "embed-tiny", "kind": "embedder", "query": {"fa2i": {"seen": {"hit@5": 0.5,
...       "hit@10": 0.75, "ndcg@10": 0.4, "coverage@5": 0.9, "coverage@10": 0.8, "queries": 20}}}}
>>> zs = {"model": "embed-tiny-zero-shot", "kind": "embedder", "embedder": {"zero_shot": True},
...       "query": {"fa2i": {"seen": {"hit@5": 0.1, "hit@10": 0.2, "ndcg@10": 0.05, "queries": 20}}}}
>>> header, rows = query_rows([ft, {"model": "SASRec", "kind": "baseline"}, zs])
>>> [r[:4] for r in rows]
[['fa2i', 'seen', 'embed-tiny-zero-shot', 'zero-shot'], ['fa2i', 'seen', 'embed-tiny', 'fine-tuned']]
>>> print(query_markdown(header, rows).splitlines()[3])
| fa2i | seen | embed-tiny | fine-tuned | 0.5000 | 0.7500 | 0.4000 | 0.9000 | 0.8000 | 20 |
"""
from __future__ import annotations

from ..tasks.registry import QUERY_TASKS

METRICS = ("hit@5", "hit@10", "ndcg@10", "coverage@5", "coverage@10", "queries")
HEADER = ["task", "templates", "model", "training", "Hit@5", "Hit@10", "NDCG@10", "Coverage@5", "Coverage@10",
          "queries"]
ZERO_SHOT_SUFFIX = "-zero-shot"


def is_zero_shot(r: dict) -> bool:
    """The untrained encoder's row: ``embedder.zero_shot`` (written by ``evaluate_embedder``),
    else a name ending ``-zero-shot``."""
    flag = (r.get("embedder") or {}).get("zero_shot")
    return bool(flag) if flag is not None else r["model"].endswith(ZERO_SHOT_SUFFIX)


def _pair_key(r: dict) -> tuple[str, bool]:
    """Zero-shot and fine-tuned rows of one encoder side by side (zero-shot first)."""
    name = r["model"]
    base = name[:-len(ZERO_SHOT_SUFFIX)] if name.endswith(ZERO_SHOT_SUFFIX) else name
    return base, not is_zero_shot(r)


def embedders(results: list[dict]) -> list[dict]:
    """The compared results that are embedders with a ``query`` section, paired for the table."""
    return sorted((r for r in results if r.get("kind") == "embedder" and isinstance(r.get("query"), dict)),
                  key=_pair_key)


def query_intervals(results: list[dict]) -> list[dict]:
    """Per row of ``query_rows`` (same order): the metrics' 95% intervals ``{metric: [lo, hi]}``
    the result carries (``evaluate_embedder`` writes Hit@10, NDCG@10, Coverage@10; {} if none)."""
    ems = embedders(results)
    out = []
    for task in QUERY_TASKS.names():
        for split in ("seen", "unseen"):
            for r in ems:
                m = (r["query"].get(task) or {}).get(split)
                if isinstance(m, dict) and m:
                    out.append(dict(m.get("intervals") or {}))
    return out


def query_rows(results: list[dict]) -> tuple[list[str], list[list]]:
    """Header and raw rows: task × template set (seen, unseen) × embedder; metrics a task does
    not have (coverage outside FA2I/SA2I/VC2I/NA2I) are None."""
    ems = embedders(results)
    rows = []
    for task in QUERY_TASKS.names():
        for split in ("seen", "unseen"):
            for r in ems:
                m = (r["query"].get(task) or {}).get(split)
                if isinstance(m, dict) and m:
                    rows.append([task, split, r["model"], "zero-shot" if is_zero_shot(r) else "fine-tuned",
                                 *(m.get(k) for k in METRICS)])
    return list(HEADER), rows


def _cell(v, interval=None) -> str:
    s = "–" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
    return f"{s} [{interval[0]:.3f}, {interval[1]:.3f}]" if v is not None and interval else s


def query_markdown(header: list[str], rows: list[list], intervals: list[dict] | None = None) -> str:
    """The table as markdown; with ``intervals`` (per row) a metric's cell adds its ``[lo, hi]``."""
    keys = [None] * 4 + list(METRICS)      # the metric each column holds
    ivs = intervals or [{}] * len(rows)
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
                      *("| " + " | ".join(_cell(v, iv.get(k) if k else None) for v, k in zip(row, keys)) + " |"
                        for row, iv in zip(rows, ivs))])


def query_section(results: list[dict]) -> tuple[str, dict] | None:
    """(markdown section, report.json entry) of the embedders' per-task table, or None when no
    compared result is an embedder with query tasks."""
    header, rows = query_rows(results)
    if not rows:
        return None
    ivs = query_intervals(results)
    md = ("### Embedders: per query task (zero-shot beside fine-tuned; seen and unseen templates)\n\n"
          "Hit@K: the positive item in the top K of the whole catalogue (cosine); Coverage@K (FA2I, SA2I, VC2I, "
          "NA2I): the share of the top K that meets every condition of the query, checked against the item "
          "attributes. UH2I is also each embedder's `retrieval` row in the table above. [lo, hi]: 95% bootstrap "
          "interval over the task's queries.\n\n"
          + query_markdown(header, rows, ivs) + "\n")
    return md, {"header": header, "rows": rows, "intervals": ivs}


__all__ = ["query_rows", "query_intervals", "query_markdown", "query_section", "is_zero_shot", "embedders"]

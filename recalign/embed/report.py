"""The embedders' per-task table (the paper's main table shape): one row per task, template
split and model (zero-shot beside fine-tuned), Hit@5/10, NDCG@10 and Coverage@5/10; Hit@10,
NDCG@10 and Coverage@10 with their 95% interval ``[lo, hi]`` (bootstrap over the task's queries).

>>> r = {"model": "m", "query": {"fa2i": {"seen": {"hit@5": 0.1, "hit@10": 0.2, "ndcg@10": 0.15,
...      "coverage@5": 0.5, "coverage@10": 0.4, "queries": 10}}}}
>>> print(query_table([r]).splitlines()[2])
| fa2i | seen | m | 0.1000 | 0.2000 | 0.1500 | 0.5000 | 0.4000 | 10 |
"""
from __future__ import annotations

import json
from pathlib import Path

from ..atomic_io import write_text
from ..tasks.registry import QUERY_TASKS

COLS = ("hit@5", "hit@10", "ndcg@10", "coverage@5", "coverage@10", "queries")


def _cell(v, interval=None) -> str:
    """A value, with its 95% interval when the result has one (``intervals``)."""
    s = "–" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
    return f"{s} [{interval[0]:.3f}, {interval[1]:.3f}]" if v is not None and interval else s


def query_table(results: list[dict]) -> str:
    """Markdown: task × templates × model (results with a ``query`` section, in the given order)."""
    lines = ["| task | templates | model | Hit@5 | Hit@10 | NDCG@10 | Coverage@5 | Coverage@10 | queries |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task in QUERY_TASKS.names():
        for split in ("seen", "unseen"):
            for r in results:
                m = r.get("query", {}).get(task, {}).get(split)
                if m:
                    iv = m.get("intervals") or {}
                    lines.append(f"| {task} | {split} | {r['model']} | "
                                 + " | ".join(_cell(m.get(c), iv.get(c)) for c in COLS) + " |")
    return "\n".join(lines) + "\n"


def write_query_report(run_root: str | Path, names: list[str], out: str | Path) -> str:
    """The table of ``RUN/results/<name>/metrics.json`` for ``names``, written to ``out``."""
    results = [json.loads((Path(run_root) / "results" / n / "metrics.json").read_text()) for n in names]
    text = query_table(results)
    write_text(out, text)
    return text


__all__ = ["query_table", "write_query_report"]

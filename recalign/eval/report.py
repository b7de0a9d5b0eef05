"""Result directories and the comparison report.

Each evaluated model writes ``RUN/results/<model>/metrics.json`` (+ ``ranking.jsonl``)
with ``write_result``; ``compare`` reads every one of them, refuses to mix splits
(``split_fingerprint``), and writes one table (markdown, JSON, CSV), a bar chart of
NDCG@10 / Recall@10, and ``report.md``.

metrics.json (keys other than ``model``/``kind``/``retrieval`` are optional)::

    {"model": "SASRec", "kind": "baseline", "split": "test", "split_fingerprint": "9f2c...",
     "dataset": {...split_stats...}, "protocol": {...},
     "retrieval": {"recall@10": 0.1, "ndcg@10": 0.05, ..., "users": 943},
     "ranking": {"hr@1": .., "hr@5": .., "ndcg@5": .., "candidates": 20},
     "rating": {"rmse": .., "mae": .., "n": .., "rmse_expected": ..},
     "training": {"epochs": 12, "best_epoch": 7, "converged": true,
                  "stopped_by": "early_stopping", "wall_time_s": 310.0},
     "notes": []}
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..atomic_io import atomic_path, write_json, write_text
from ..errors import RecalignError
from .metrics import MASKING_RULE, TIE_RULE, Ranking, write_ranking_jsonl

PROTOCOL = {"split": "leave-one-out by time (last = test, second-last = valid; timestamp ties keep file order)",
            "ties": TIE_RULE, "masking": MASKING_RULE, "ranking": "full (all items)"}

COLUMNS = [  # (header, section, key)
    ("Recall@5", "retrieval", "recall@5"), ("Recall@10", "retrieval", "recall@10"),
    ("Recall@20", "retrieval", "recall@20"), ("NDCG@5", "retrieval", "ndcg@5"),
    ("NDCG@10", "retrieval", "ndcg@10"), ("NDCG@20", "retrieval", "ndcg@20"),
    ("MRR@10", "retrieval", "mrr@10"), ("users", "retrieval", "users"),
    ("cand HR@1", "ranking", "hr@1"), ("cand HR@5", "ranking", "hr@5"), ("cand NDCG@5", "ranking", "ndcg@5"),
    ("RMSE", "rating", "rmse"), ("MAE", "rating", "mae"),
    ("RMSE E[r]", "rating", "rmse_expected"),   # seq2seq: expectation over the scored scale values
]


def write_result(run_dir: str | Path, model: str, result: dict, ranking: Ranking | None = None,
                 top_k: int = 20) -> Path:
    """Write ``RUN/results/<model>/metrics.json`` (and ``ranking.jsonl``) atomically; fills
    ``protocol`` when absent. Returns the result directory."""
    d = Path(run_dir) / "results" / model
    d.mkdir(parents=True, exist_ok=True)
    out = {"model": model, **result}
    out.setdefault("protocol", dict(PROTOCOL))
    out.setdefault("notes", [])
    if ranking is not None:
        write_ranking_jsonl(d / "ranking.jsonl", ranking, k=top_k)
    write_json(d / "metrics.json", out)
    return d


def load_results(run_dirs) -> list[dict]:
    """Every ``RUN/results/*/metrics.json`` of the given run directories (``_path`` added)."""
    found = []
    for rd in run_dirs:
        rd = Path(rd)
        if not rd.is_dir():
            raise RecalignError("run directory not found", path=rd)
        for p in sorted((rd / "results").glob("*/metrics.json")):
            try:
                r = json.loads(p.read_text())
            except json.JSONDecodeError as e:
                raise RecalignError(f"not valid JSON: {e.msg}", path=p, line=e.lineno) from None
            if "model" not in r:
                raise RecalignError("metrics.json has no 'model' key", path=p)
            r["_path"] = str(p)
            found.append(r)
    if not found:
        raise RecalignError(f"no results/*/metrics.json under {', '.join(map(str, run_dirs))}: "
                            "run `recalign baseline` or `recalign evaluate` first")
    return found


def _split_key(r: dict):
    if r.get("split_fingerprint"):
        return ("fingerprint", r["split_fingerprint"], r.get("split", "test"))
    ds = r.get("dataset") or {}
    return ("stats", json.dumps({k: ds.get(k) for k in ("dataset", "users", "items", "interactions",
                                                          "valid_test_timestamp_ties")}, sort_keys=True),
            r.get("split", "test"))


def check_same_split(results: list[dict]) -> None:
    """Raise unless every result was computed on the same split (fingerprint, else dataset stats)."""
    groups: dict = {}
    for r in results:
        groups.setdefault(_split_key(r), []).append(f"{r['model']} ({r['_path']})" if "_path" in r else r["model"])
    if len(groups) > 1:
        lines = [f"  {k[0]} {k[1][:60]} split={k[2]}: {', '.join(v)}" for k, v in groups.items()]
        raise RecalignError("refusing to compare results computed on different splits:\n" + "\n".join(lines))


def training_status(r: dict) -> str:
    """'' for a model that converged (or has no training info); otherwise a loud note."""
    t = r.get("training") or {}
    if not t:
        return ""
    by = t.get("stopped_by")
    ep = t.get("epochs")
    if by in ("closed_form", "no_training"):
        return by.replace("_", " ")
    if t.get("converged"):
        return f"converged (best epoch {t.get('best_epoch')}, {ep} run)"
    if t.get("steps") is not None:
        return f"NOT CONVERGED: stopped by {by or 'budget'} after {t['steps']} steps"
    return f"NOT CONVERGED: cut short by {by or 'budget'} after {ep} epoch(s)"


TASK_KEYS = ("retrieval", "ranking", "rating")


def expand_unseen(results: list[dict]) -> list[dict]:
    """A seq2seq result evaluated on unseen templates gets a second row,
    ``<model> (unseen templates)``, so seen and unseen wording are reported separately."""
    out = []
    for r in results:
        out.append(r)
        if any(f"{k}_unseen" in r for k in TASK_KEYS):
            u = {k: v for k, v in r.items() if not k.startswith(TASK_KEYS)}
            for k in TASK_KEYS:
                if f"{k}_unseen" in r:
                    u[k] = r[f"{k}_unseen"]
            u["model"] = f"{r['model']} (unseen templates)"
            out.append(u)
    return out


def template_lines(results: list[dict]) -> list[str]:
    """One line per model and task section that has ``by_template``: each template's numbers.

    >>> template_lines([{"model": "t5", "retrieval": {"by_template": {"a": {"recall@10": 0.1, "users": 5}}}}])
    ['- t5 retrieval: a recall@10 0.1000 (5)']
    """
    out = []
    for r in results:
        for sec in sorted(k for k, v in r.items() if isinstance(v, dict) and "by_template" in v):
            parts = ["{} {} ({})".format(tid, " ".join(f"{k} {_fmt(v)}" for k, v in m.items() if k != "users"),
                                         m.get("users")) for tid, m in r[sec]["by_template"].items()]
            out.append(f"- {r['model']} {sec}: " + "; ".join(parts))
    return out


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def build_table(results: list[dict]) -> tuple[list[str], list[list]]:
    """Header and rows (raw values) of the comparison, best NDCG@10 first; only columns
    that at least one model has."""
    results = expand_unseen(results)
    cols = [c for c in COLUMNS if any((r.get(c[1]) or {}).get(c[2]) is not None for r in results)]
    header = ["model", "kind"] + [c[0] for c in cols] + ["train time (s)", "status"]
    rows = []
    for r in sorted(results, key=lambda r: -((r.get("retrieval") or {}).get("ndcg@10") or -1)):
        t = r.get("training") or {}
        rows.append([r["model"], r.get("kind", "")] + [(r.get(s) or {}).get(k) for _, s, k in cols]
                    + [t.get("wall_time_s"), training_status(r)])
    return header, rows


def markdown_table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join((f"{v:.1f}" if h == "train time (s)" and v is not None else _fmt(v))
                                     for h, v in zip(header, row)) + " |")
    return "\n".join(out)


def _preamble(results: list[dict]) -> str:
    r0 = results[0]
    ds = r0.get("dataset") or {}
    proto = r0.get("protocol") or PROTOCOL
    lines = [f"## Comparison on {ds.get('dataset', '?')} ({r0.get('split', 'test')} split)", ""]
    if ds:
        lines.append(f"Dataset: {ds.get('users', '?')} users, {ds.get('items', '?')} items, "
                     f"{ds.get('interactions', '?')} interactions, density {ds.get('density', '?')}; "
                     f"train/valid/test {ds.get('train_interactions', '?')}/{ds.get('valid_interactions', '?')}/"
                     f"{ds.get('test_interactions', '?')}; valid/test timestamp ties "
                     f"{ds.get('valid_test_timestamp_ties', '?')}.")
    lines.append(f"Split fingerprint: {r0.get('split_fingerprint', 'n/a')}.")
    lines.append("Protocol: " + "; ".join(f"{k}: {v}" for k, v in proto.items()) + ".")
    lines.append("Retrieval columns are full-ranking metrics (the headline); 'cand' columns are the ranking "
                 "task's own sampled-candidate numbers.")
    return "\n".join(lines)


def plot_bars(header, rows, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    hs = [h for h in ("NDCG@10", "Recall@10") if h in header]
    rows = [r for r in rows if any(r[header.index(h)] is not None for h in hs)]  # models with retrieval
    names = [r[0] for r in rows]
    series = [(h, [r[header.index(h)] or 0.0 for r in rows]) for h in hs]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) + 2), 4))
    x = np.arange(len(names))
    w = 0.8 / max(1, len(series))
    for j, (h, vals) in enumerate(series):
        ax.bar(x + (j - (len(series) - 1) / 2) * w, vals, w, label=h)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("full-ranking metric")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def compare(run_dirs, out_dir: str | Path | None = None, wandb: bool = False) -> dict:
    """Compare every result under ``run_dirs``; write report.md/.json/.csv/.png into
    ``out_dir`` (default: the first run directory). Returns {"markdown", "header", "rows", "paths"}."""
    run_dirs = [Path(p) for p in run_dirs]
    results = load_results(run_dirs)
    check_same_split(results)
    header, rows = build_table(results)
    md = _preamble(results) + "\n\n" + markdown_table(header, rows) + "\n"
    notes = [f"- {r['model']}: {n}" for r in results for n in r.get("notes", [])]
    if notes:
        md += "\nNotes:\n" + "\n".join(notes) + "\n"
    per_template = template_lines(results)
    if per_template:
        md += "\nPer template (users in brackets):\n" + "\n".join(per_template) + "\n"
    out = Path(out_dir) if out_dir else run_dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + rows)
    paths = {"markdown": write_text(out / "report.md", md),
             "csv": write_text(out / "report.csv", buf.getvalue()),
             "json": write_json(out / "report.json", {"header": header, "rows": rows,
                                                      "protocol": results[0].get("protocol"),
                                                      "dataset": results[0].get("dataset"),
                                                      "split_fingerprint": results[0].get("split_fingerprint"),
                                                      "results": results}),
             "plot": plot_bars(header, rows, out / "report.png")}
    if wandb:
        _log_wandb(header, rows, out)
    return {"markdown": md, "header": header, "rows": rows, "paths": paths}


def _log_wandb(header, rows, out: Path) -> None:
    import wandb

    from ..wandb_io import finish_wandb, offline_unless_reachable

    offline_unless_reachable()
    run = wandb.init(project="recalign", job_type="compare", dir=str(out), reinit=True)
    try:
        run.log({"comparison": wandb.Table(columns=header, data=[list(r) for r in rows],
                                              allow_mixed_types=True)})
    finally:
        finish_wandb(run)

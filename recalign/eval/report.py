"""Result directories and the comparison report.

Each evaluated model writes ``RUN/results/<model>/metrics.json`` (+ ``ranking.jsonl``, and
``per_user/<section>.jsonl``: one row per user, the numbers the section averages) with
``write_result``; ``compare`` reads every one of them, refuses to mix splits
(``split_fingerprint``), and writes one table (markdown, JSON, CSV) whose columns are the
registry's ``Task.metrics``: every metric with its bootstrap interval over users, a reference
row per task (``--reference``, default the best baseline) and each row's paired difference
from it with a p-value (``eval.evidence``, ``eval.significance``); then the ablation arms
against rec-only, mean ± std over seeds, a bar chart of NDCG@10 / Recall@10 with error bars
(``report.png``) and, where models recorded one, the learning curves (``curves.png``).
Rows evaluated on fewer users than the others are marked PARTIAL and ranked after them.
When a compared result is an embedder (``kind: "embedder"``), its ``query`` section adds a
per-task table (``eval.query_report``: query task × seen/unseen × embedder, zero-shot beside
fine-tuned) to report.md and report.json (``"query"``); its UH2I is its ``retrieval`` row.

metrics.json (keys other than ``model``/``kind``/``retrieval`` are optional; ``input_window``: the
history items the model reads, None for a model without a sequence, shown in a line below the table)::

    {"model": "SASRec", "kind": "baseline", "split": "test", "split_fingerprint": "9f2c...",
     "dataset": {...split_stats...}, "protocol": {...}, "input_window": 10,
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
import math
from pathlib import Path

from ..atomic_io import atomic_path, write_json, write_text
from ..errors import RecalignError
from ..run_dir import RunDir
from ..tasks import TASKS
from .evidence import Evidence, gather, key_metrics, lower_is_better, primary, sections, task_metrics
from .metrics import MASKING_RULE, PER_USER_DIR, TIE_RULE, PerUser, Ranking, write_per_user, write_ranking_jsonl
from .query_report import query_section
from .significance import ALPHA, DEFAULT_RESAMPLES, DEFAULT_SEED, LEVEL, TEST_METHOD, Difference

PROTOCOL = {"split": "leave-one-out by time (last = test, second-last = valid; timestamp ties keep file order)",
            "ties": TIE_RULE, "masking": MASKING_RULE, "ranking": "full (all items)"}

_NAMES = {"recall": "Recall", "ndcg": "NDCG", "mrr": "MRR", "hr": "HR", "rmse": "RMSE", "mae": "MAE"}


def column_label(sec: str, key: str) -> str:
    """A column's header: the metric, prefixed by its task unless it is the headline task.

    >>> column_label("retrieval", "ndcg@10"), column_label("ranking", "hr@1"), column_label("rating", "rmse_expected")
    ('NDCG@10', 'ranking HR@1', 'rating RMSE E[r]')
    """
    name, at, k = key.partition("@")
    base, _, suffix = name.partition("_")
    label = _NAMES.get(base, base) + (f"@{k}" if at else "") + {"expected": " E[r]", "": ""}.get(suffix, f" {suffix}")
    return label if sec == sections()[0] else f"{sec} {label}"


def report_columns() -> list[tuple[str, str, str]]:
    """(header, section, key) of the table: each recommendation task's ``Task.metrics`` (the
    registry), and the headline task's user count."""
    cols = []
    for i, sec in enumerate(sections()):
        cols += [(column_label(sec, k), sec, k) for k in task_metrics(sec)]
        if i == 0:
            cols.append(("users", sec, "users"))
    return cols


def write_result(run_dir: str | Path, model: str, result: dict, ranking: Ranking | None = None,
                 top_k: int = 20) -> Path:
    """Write ``RUN/results/<model>/metrics.json`` (and ``ranking.jsonl``) atomically; fills
    ``protocol`` when absent. A section holding ``"per_user"`` (a ``PerUser``, e.g. from
    ``ranking_metrics(..., per_user=True)``) has its rows written to ``per_user/<section>.jsonl``
    first; the section (in ``result`` too) then names that file. Per-user files of sections
    no longer present are removed. Returns the result directory."""
    d = RunDir(run_dir).result(model)
    d.mkdir(parents=True, exist_ok=True)
    written = set()
    for sec, v in result.items():
        if isinstance(v, dict) and isinstance(v.get("per_user"), PerUser):
            rel = f"{PER_USER_DIR}/{sec}.jsonl"
            (d / PER_USER_DIR).mkdir(exist_ok=True)
            write_per_user(d / rel, v["per_user"])
            v["per_user"] = rel
            written.add(rel)
    for old in (d / PER_USER_DIR).glob("*.jsonl") if (d / PER_USER_DIR).is_dir() else ():
        if f"{PER_USER_DIR}/{old.name}" not in written:
            old.unlink()
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
        for p in sorted(RunDir(rd).results.glob("*/metrics.json")):
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


def unique_names(results: list[dict]) -> list[dict]:
    """Results of several run directories that share a model name (two runs of ``recalign-t5``)
    are named ``<run dir>/<model>``, every row of the comparison then; one model name twice
    in the same place is an error."""
    names = [r["model"] for r in results]
    if len(set(names)) == len(names):
        return results
    out = [{**r, "model": f"{Path(r['_path']).parents[2].name}/{r['model']}"} if r.get("_path") else r
           for r in results]
    seen: dict[str, str] = {}
    for r in out:
        if r["model"] in seen:
            raise RecalignError(f"two results are named {r['model']!r}: {seen[r['model']]} and {r.get('_path')}; "
                                "compare run directories with different names")
        seen[r["model"]] = r.get("_path", "")
    return out


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


def check_current_split(results: list[dict]) -> None:
    """Raise unless each result of a run directory with a prepared split was computed on that very
    split (``recalign data prepare`` run again since leaves results of the old one behind)."""
    from ..data.fingerprint import split_fingerprint   # lazy: reads the split

    now: dict[Path, str | None] = {}
    for r in results:
        if not r.get("_path") or not r.get("split_fingerprint"):
            continue
        run = RunDir(Path(r["_path"]).parents[2])
        if run.root not in now:
            now[run.root] = split_fingerprint(run.data) if run.has_split() else None
        if now[run.root] and now[run.root] != r["split_fingerprint"]:
            raise RecalignError(f"{r['_path']} was computed on another split than {run.data} holds now (split "
                                f"fingerprint {r['split_fingerprint']} → {now[run.root]}: the data was prepared "
                                f"again since): evaluate it again, or remove {Path(r['_path']).parent}")


def training_status(r: dict) -> str:
    """'' for a model that converged (or has no training info); otherwise a loud note."""
    t = r.get("training") or {}
    if not t:
        return ""
    by = t.get("stopped_by")
    ep = t.get("epochs")
    if by in ("closed_form", "no_training"):
        return by.replace("_", " ")
    if t.get("below_config"):
        return below_config_status(t)
    if t.get("converged"):
        return f"converged (best epoch {t.get('best_epoch')}, {ep} run)"
    if by == "max_steps" and t.get("steps") and t.get("max_steps") and t["steps"] >= t["max_steps"] > 0:
        return f"trained its configured {t['max_steps']:,} steps (not to convergence)"
    if t.get("steps") is not None:
        return f"NOT CONVERGED: stopped by {by or 'budget'} after {t['steps']} steps"
    return f"NOT CONVERGED: cut short by {by or 'budget'} after {ep} epoch(s)"


def below_config_status(t: dict) -> str:
    """The label of a run its time cap stopped before its configured steps.

    >>> below_config_status({"steps": 243, "max_steps": 3000})
    'stopped at 243 of 3,000 steps — below the configured run'
    """
    return f"stopped at {t['steps']:,} of {t['max_steps']:,} steps — below the configured run"


def mark_below_config(results: list[dict]) -> list[str]:
    """Rename every result whose training the time cap stopped before its configured steps
    (``<model> [stopped at N of M steps]``), so its row is never read as the configured model's,
    and return one loud line for each (report.md and the console print them above the table)."""
    lines = []
    for r in results:
        t = r.get("training") or {}
        if t.get("below_config") and "[stopped at" not in r["model"]:
            old = r["model"]
            r["model"] = f"{old} [stopped at {t['steps']:,} of {t['max_steps']:,} steps]"
            cpu = f" on {t['cpu']}" if t.get("cpu") else ""
            lines.append(f"**WARNING: {old} {below_config_status(t)}**: the time cap ended training after "
                         f"{t.get('wall_time_s') or '?'} s{cpu}; its numbers are not the configured run's "
                         "(README: what a slower machine costs). Raise train.time_budget_minutes to finish it.")
    return lines


TASK_KEYS = ("retrieval", "ranking", "rating")


def expand_unseen(results: list[dict]) -> list[dict]:
    """A seq2seq result evaluated on unseen templates gets a second row,
    ``<model> (unseen templates)``, so seen and unseen wording are reported separately; each
    template it scored on every user (``evaluate --template-ids``: sections ``<task>@<id>``) a row
    ``<model> (template <id>)`` (``template_base``: the model's name, for the paired tests)."""
    out = []
    for r in results:
        out.append(r)
        rest = {k: v for k, v in r.items() if not k.startswith(TASK_KEYS) and k != "template_ids"}
        if any(f"{k}_unseen" in r for k in TASK_KEYS):
            u = dict(rest)
            for k in TASK_KEYS:
                if f"{k}_unseen" in r:
                    u[k] = r[f"{k}_unseen"]
            u["model"] = f"{r['model']} (unseen templates)"
            out.append(u)
        for tid in r.get("template_ids") or {}:
            u = {**rest, **{k: r[f"{k}@{tid}"] for k in TASK_KEYS if f"{k}@{tid}" in r}}
            if any(k in u for k in TASK_KEYS):
                out.append({**u, "model": f"{r['model']} (template {tid})", "template_base": r["model"]})
    return out


def template_lines(results: list[dict]) -> list[str]:
    """One line per model and task section that has ``by_template``: each template's numbers.

    >>> template_lines([{"model": "t5", "retrieval": {"by_template": {"a": {"recall@10": 0.1, "users": 5}}}}])
    ['- t5 retrieval: a recall@10 0.1000 (5)']
    """
    out = []
    for r in results:       # (sections <task>@<id> of one template on every user: their own rows)
        for sec in sorted(k for k, v in r.items() if isinstance(v, dict) and "by_template" in v and "@" not in k):
            parts = ["{} {} ({})".format(tid, " ".join(f"{k} {_fmt(v)}" for k, v in m.items() if k != "users"),
                                         m.get("users")) for tid, m in r[sec]["by_template"].items()]
            out.append(f"- {r['model']} {sec}: " + "; ".join(parts))
    return out


def unparsable_lines(results: list[dict]) -> list[str]:
    """One line per rating section whose generated answers were not all ratings: how many, the
    templates where none parsed, and what the RMSE columns then cover.

    >>> unparsable_lines([{"model": "t5", "rating_unseen": {"n": 490, "unparsable": 453, "by_template": {
    ...     "r-01": {"unparsable": 0, "users": 490}, "r-02": {"unparsable": 453, "users": 453}}}}])
    ['- t5 rating_unseen: 453 of 943 answers are no rating (every answer of r-02); RMSE/MAE over the 490 that parsed, RMSE E[r] over all 943.']
    """
    out = []
    for r in results:
        for sec in sorted(k for k, v in r.items() if isinstance(v, dict) and k.startswith("rating")):
            v = r[sec]
            bad, n = int(v.get("unparsable") or 0), int(v.get("n") or 0)
            if not bad:
                continue
            total = bad + n
            dead = [tid for tid, m in (v.get("by_template") or {}).items()
                    if m.get("users") and m.get("unparsable") == m.get("users")]
            where = f" (every answer of {', '.join(dead)})" if dead else ""
            out.append(f"- {r['model']} {sec}: {bad} of {total} answers are no rating{where}; RMSE/MAE over the "
                       f"{n} that parsed, RMSE E[r] over all {total}.")
    return out


def input_windows(results: list[dict]) -> dict[str, int | None]:
    """Each ranking model's input window (the most recent history items it reads; None: the model
    reads no sequence, e.g. Pop, BPR), from ``input_window`` in metrics.json (older sequential
    baselines: their ``MAX_ITEM_LIST_LENGTH``). Models without a retrieval section are left out."""
    out = {}
    for r in results:
        if "retrieval" not in r:
            continue
        w = r.get("input_window")
        if w is None and r.get("kind") == "baseline" and "input_window" not in r:
            w = (r.get("config") or {}).get("MAX_ITEM_LIST_LENGTH")
        out[r["model"]] = int(w) if w is not None else None
    return out


def window_line(windows: dict[str, int | None]) -> str:
    """One line beside the table: every model's input window.

    >>> window_line({"recalign-t5": 10, "SASRec": 10, "BPR": None})
    'Input window (most recent history items each model reads): recalign-t5 10 items; SASRec 10 items; BPR —.'
    """
    cells = [f"{m} {w} items" if w is not None else f"{m} —" for m, w in windows.items()]
    return "Input window (most recent history items each model reads): " + "; ".join(cells) + "."


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.4f}"
    return str(v)


def _primary_header(sec: str) -> str:
    return next(h for h, s, k in report_columns() if s == sec and k == primary(sec))


def _sort_key(r: dict, ev: Evidence):
    """Full rows first, then by the headline metric (best first), then by the other sections' primaries."""
    key: list = [ev.partial(r["model"])]
    for sec in sections():
        v = (r.get(sec) or {}).get(primary(sec))
        key.append(math.inf if v is None else v if lower_is_better(primary(sec)) else -v)
    return key


def build_table(rows: list[dict], ev: Evidence) -> tuple[list[str], list[list]]:
    """Header and rows (raw values) of the comparison: full rows best NDCG@10 first, then rows
    evaluated on fewer users; every metric with its interval (``<col> lo``/``<col> hi``) and,
    per section with a reference, the paired difference (``Δ <col>``, its interval, ``p``,
    ``significant``); only columns that at least one model has."""
    cols = [c for c in report_columns() if any((r.get(c[1]) or {}).get(c[2]) is not None for r in rows)]
    header = ["model", "kind"]
    for h, _, k in cols:
        header += [h] if k == "users" else [h, f"{h} lo", f"{h} hi"]
    for sec in ev.references:
        h = _primary_header(sec)
        header += [f"Δ {h}", f"Δ {h} lo", f"Δ {h} hi", f"p {h}", f"significant {h}"]
    header += ["train time (s)", "status"]
    out = []
    for r in sorted(rows, key=lambda r: _sort_key(r, ev)):
        m = r["model"]
        vals: list = [m, r.get("kind", "")]
        for _, sec, k in cols:
            v = (r.get(sec) or {}).get(k)
            if k == "users":
                vals.append(v)
                continue
            e = ev.intervals.get(m, {}).get(sec, {}).get(k)
            vals += [v, e.low if e else None, e.high if e else None]
        for sec in ev.references:
            d = ev.differences.get(m, {}).get(sec)
            d = d.get(primary(sec)) if isinstance(d, dict) else None
            vals += [d.value, d.low, d.high, d.p, d.significant] if d else [None] * 5
        t = r.get("training") or {}
        status = training_status(r)
        if ev.partial(m):
            n, full = ev.users[m]
            status = f"PARTIAL: {n} of {full} users" + (f"; {status}" if status else "")
        out.append(vals + [t.get("wall_time_s"), status])
    return header, out


def _p(p: float) -> str:
    return f"p={p:.3f}" + ("*" if p < ALPHA else "")


def _diff_cell(d: Difference) -> str:
    return f"{d.value:+.4f} [{d.low:+.4f}, {d.high:+.4f}] {_p(d.p)}"


def markdown_table(header, rows, references: dict[str, str] | None = None) -> str:
    """The raw table rendered: ``value [lo, hi]`` per metric, ``Δ [lo, hi] p=…`` per difference
    (``*``: p < 0.05), ``reference`` on the reference row."""
    refs = {f"Δ {_primary_header(s)}": name for s, name in (references or {}).items()}
    idx = {h: i for i, h in enumerate(header)}
    shown = [h for h in header if not (h.endswith((" lo", " hi")) or h.startswith(("p ", "significant ")))]
    out = ["| " + " | ".join(f"{h} vs {refs[h]}" if h in refs else h for h in shown) + " |",
           "|" + "|".join("---" for _ in shown) + "|"]
    for row in rows:
        cells = []
        for h in shown:
            v = row[idx[h]]
            if h in refs:
                cells.append("reference" if row[0] == refs[h] else "–" if v is None else
                             _diff_cell(Difference(v, row[idx[h + " lo"]], row[idx[h + " hi"]],
                                                   row[idx["p " + h[2:]]], row[idx["significant " + h[2:]]], 0)))
            elif h == "train time (s)":
                cells.append(f"{v:.1f}" if v is not None else "–")
            elif h + " lo" in idx and v is not None and row[idx[h + " lo"]] is not None:
                cells.append(f"{_fmt(v)} [{row[idx[h + ' lo']]:.4f}, {row[idx[h + ' hi']]:.4f}]")
            else:
                cells.append(_fmt(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _metric_header(sec: str, k: str) -> str:
    return column_label(sec, k)


def _diff_lines(model: str, ref: str, sec: str, res, keys) -> list[str]:
    if isinstance(res, str):
        return [f"| {model} | {ref} | {sec} | {res} | | |"]
    return [f"| {model} | {ref} | {_metric_header(sec, k)} | {res[k].value:+.4f} [{res[k].low:+.4f}, "
            f"{res[k].high:+.4f}] | {res[k].p:.3f} | {'yes' if res[k].significant else 'no'} |"
            for k in keys if k in res]


def differences_markdown(ev: Evidence) -> str:
    """Every model against its section's reference, every ablation arm against rec-only (key
    metrics; all metrics are in report.json), and mean ± std over seeds."""
    head = ["| model | vs | metric | Δ [95% interval] | p | significant |", "|---|---|---|---|---|---|"]
    out: list[str] = []
    lines, unpaired = [], {}
    for model, secs in ev.differences.items():
        for sec, res in secs.items():
            if isinstance(res, str):       # one line per model and reason, not one per task
                unpaired.setdefault((model, ev.references[sec], res), []).append(sec)
            else:
                lines += _diff_lines(model, ev.references[sec], sec, res, key_metrics(sec))
    lines += [f"| {m} | {ref} | {', '.join(secs)} | {why} | | |" for (m, ref, why), secs in unpaired.items()]
    if lines:
        out += ["### Paired differences vs the reference (same users)", "", *head, *lines, ""]
    lines = [x for pr in ev.pairs
             for x in _diff_lines(pr["model"], pr["reference"], pr["section"], pr["result"], key_metrics(pr["section"]))]
    if lines:
        out += ["### Auxiliary tasks: each arm vs rec-only (paired over users, same budget)", "", *head, *lines, ""]
    lines = [x for pr in ev.template_pairs
             for x in _diff_lines(pr["model"], pr["reference"], pr["section"], pr["result"], key_metrics(pr["section"]))]
    if lines:
        out += ["### Templates on every user: each vs the seen templates, the unseen ones and each other (paired "
                "over users)", "", *head, *lines, ""]
    lines = []
    for g in ev.seeds:
        cells = [f"{_metric_header(sec, k)} {s['mean']:.4f} ± {s['std']:.4f}" for sec in sections()
                 for k in key_metrics(sec) if (s := g["metrics"].get(sec, {}).get(k))]
        lines.append(f"| {g['group']} | {len(g['runs'])} | {'; '.join(cells)} |")
    if lines:
        out += ["### Seeds: mean ± std over repeated runs (std between seeds; each run's own interval is "
                "in the table above)", "", "| runs | seeds | mean ± std |", "|---|---|---|", *lines, ""]
    return "\n".join(out)


def _preamble(results: list[dict], ev: Evidence) -> str:
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
    head, *others = sections()
    lines.append(f"Unprefixed columns: {head}, full ranking over all items (the headline); prefixed columns: "
                 "that task's own numbers (" + "; ".join(f"{t}: {TASKS.get(t).description}" for t in others) + ").")
    mt = ev.method
    refs = ", ".join(f"{s}: {n}" for s, n in ev.references.items()) or "none (no full baseline row)"
    lines.append(f"Intervals: [lo, hi] = {mt['interval']} ({mt['resamples']} resamples, seed {mt['seed']}). "
                 f"Δ = model − reference, paired by user, with its bootstrap interval and p from a {mt['test']} "
                 f"({mt['resamples']} sign flips); * = p < {ALPHA}. References: {refs}. "
                 "PARTIAL rows were evaluated on fewer users and are ranked after the full rows.")
    return "\n".join(lines)


def plot_bars(header, rows, path: Path) -> Path:
    """NDCG@10 / Recall@10 bars with their intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    hs = [h for h in ("NDCG@10", "Recall@10") if h in header]
    rows = [r for r in rows if any(r[header.index(h)] is not None for h in hs)]  # models with retrieval
    names = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) + 2), 4))
    x = np.arange(len(names))
    w = 0.8 / max(1, len(hs))
    for j, h in enumerate(hs):
        i, lo, hi = header.index(h), header.index(h + " lo"), header.index(h + " hi")
        vals = [r[i] or 0.0 for r in rows]
        err = [[v - r[lo] if r[lo] is not None else 0.0 for v, r in zip(vals, rows)],
               [r[hi] - v if r[hi] is not None else 0.0 for v, r in zip(vals, rows)]]
        ax.bar(x + (j - (len(hs) - 1) / 2) * w, vals, w, yerr=err, capsize=3, label=h)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("full-ranking metric (bars: bootstrap interval)")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def curve_points(results: list[dict]) -> dict[str, list[dict]]:
    """Each seq2seq result's learning curve (``<model_dir>/../logs/curve.jsonl``, written while it
    trained), by result name; models without one are left out."""
    out = {}
    for r in results:
        md = (r.get("training") or {}).get("model_dir")
        if r.get("kind") != "seq2seq" or not md:
            continue
        for p in (Path(md).parent / "logs" / "curve.jsonl", Path(md) / "logs" / "curve.jsonl"):
            if p.is_file():
                pts = []
                for n, line in enumerate(p.read_text().splitlines(), 1):
                    if line.strip():
                        try:
                            pts.append(json.loads(line))
                        except json.JSONDecodeError as e:
                            raise RecalignError(f"not valid JSON: {e.msg}", path=p, line=n) from None
                out[r["model"]] = pts
                break
    return out


def baseline_valid_ndcg(results: list[dict]) -> dict[str, float]:
    """Each baseline's final valid NDCG@10 (``valid_retrieval``), for the curve plot's horizontal lines."""
    return {r["model"]: r["valid_retrieval"]["ndcg@10"] for r in results
            if r.get("kind") == "baseline" and (r.get("valid_retrieval") or {}).get("ndcg@10") is not None}


def _evidence_json(ev: Evidence) -> dict:
    def res(x):
        return x if isinstance(x, str) else {k: d.as_dict() for k, d in x.items()}

    return {"method": {**ev.method, "test_detail": TEST_METHOD, "alpha": ALPHA},
            "references": ev.references,
            "intervals": {m: {s: {k: e.as_dict() for k, e in secs.items()} for s, secs in v.items()}
                          for m, v in ev.intervals.items()},
            "differences": {m: {s: res(x) for s, x in v.items()} for m, v in ev.differences.items()},
            "ablation_pairs": [{**{k: v for k, v in p.items() if k != "result"}, "result": res(p["result"])}
                               for p in ev.pairs],
            "template_pairs": [{**{k: v for k, v in p.items() if k != "result"}, "result": res(p["result"])}
                               for p in ev.template_pairs],
            "seeds": ev.seeds, "partial": {m: {"users": n, "of": f} for m, (n, f) in ev.users.items() if n < f}}


def compare(run_dirs, out_dir: str | Path | None = None, wandb: bool = False, *, reference: str | None = None,
            n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, level: float = LEVEL) -> dict:
    """Compare every result under ``run_dirs``; write report.md/.json/.csv/.png into
    ``out_dir`` (default: the first run directory). ``reference`` names the row the others are
    compared with (default: the best baseline). Returns {"markdown", "header", "rows", "paths",
    "evidence"}."""
    run_dirs = [Path(p) for p in run_dirs]
    results = unique_names(load_results(run_dirs))
    check_same_split(results)
    check_current_split(results)
    warnings = mark_below_config(results)
    rows = expand_unseen(results)
    ev = gather(rows, reference, n_resamples=n_resamples, seed=seed, level=level)
    header, table = build_table(rows, ev)
    md = _preamble(results, ev) + "\n\n" + "".join(w + "\n\n" for w in warnings)
    md += markdown_table(header, table, ev.references) + "\n"
    windows = input_windows(results)
    if any(w is not None for w in windows.values()):
        md += "\n" + window_line(windows) + "\n"
    extra = differences_markdown(ev)
    if extra:
        md += "\n" + extra
    query = query_section(results)      # embedders only: their per-task table (None without one)
    if query:
        md += "\n" + query[0]
    notes = [f"- {r['model']}: {n}" for r in results for n in r.get("notes", [])] + [f"- {n}" for n in ev.notes]
    if notes:
        md += "\nNotes:\n" + "\n".join(notes) + "\n"
    unparsed = unparsable_lines(results)
    if unparsed:
        md += ("\nRating answers that are no rating (greedy generation; E[r] scores the scale and needs no "
               "parsing):\n" + "\n".join(unparsed) + "\n")
    per_template = template_lines(results)
    if per_template:
        md += "\nPer template (users in brackets):\n" + "\n".join(per_template) + "\n"
    out = Path(out_dir) if out_dir else run_dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    curves, plots = curve_points(results), {}
    if curves:
        from .curves import plot_curves   # lazy: curves imports the decoder (torch)

        baselines = baseline_valid_ndcg(results)
        plotted = plot_curves(curves, baselines, out / "curves.png")
        if plotted is not None:
            plots["curves"] = plotted
    if plots:
        md += (f"\nLearning curves: {plots['curves'].name} (valid NDCG@10 of a fixed user subset against training "
               "minutes and examples seen" + (", baselines' final valid NDCG@10 dashed" if baselines else
                                              "; no baseline recorded a valid NDCG@10") + ").\n")
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + table)
    paths = {"markdown": write_text(out / "report.md", md),
             "csv": write_text(out / "report.csv", buf.getvalue()),
             "json": write_json(out / "report.json", {"header": header, "rows": table,
                                                      "protocol": results[0].get("protocol"),
                                                      "dataset": results[0].get("dataset"),
                                                      "split_fingerprint": results[0].get("split_fingerprint"),
                                                      "evidence": _evidence_json(ev), "results": results,
                                                      "input_windows": windows,
                                                      **({"query": query[1]} if query else {})}),
             "plot": plot_bars(header, table, out / "report.png"), **plots}
    if wandb:
        _log_wandb(header, table, out, [paths["plot"], *plots.values()])
    return {"markdown": md, "header": header, "rows": table, "paths": paths, "evidence": ev}


def _log_wandb(header, rows, out: Path, images=()) -> None:
    """The comparison table (values, intervals, differences) and the plots, as one wandb run."""
    import wandb  # lazy: only a --wandb comparison pays for it

    from ..wandb_io import finish_wandb, offline_unless_reachable

    offline_unless_reachable()
    run = wandb.init(project="recalign", job_type="compare", dir=str(out), reinit=True)
    try:
        run.log({"comparison": wandb.Table(columns=header, data=[list(r) for r in rows],
                                              allow_mixed_types=True),
                 **{Path(p).stem: wandb.Image(str(p)) for p in images}})
    finally:
        finish_wandb(run)


def brief_table(header: list[str], rows: list[list], references: dict[str, str], width: int = 120) -> str:
    """``compare --brief``: model, headline estimate, Δ vs the headline reference, p and status, one
    line per row within ``width`` characters (long names and statuses are cut with …; the intervals
    stay in report.md).

    >>> print(brief_table(["model", "kind", "NDCG@10", "NDCG@10 lo", "NDCG@10 hi", "Δ NDCG@10", "Δ NDCG@10 lo",
    ...     "Δ NDCG@10 hi", "p NDCG@10", "significant NDCG@10", "train time (s)", "status"],
    ...     [["SASRec", "baseline", 0.093, 0.08, 0.1, None, None, None, None, None, 1.0, "converged"],
    ...      ["t5", "seq2seq", 0.088, 0.07, 0.1, -0.005, -0.02, 0.01, 0.43, False, 9.0, ""]], {"retrieval": "SASRec"}))
    model                                   NDCG@10  Δ vs SASRec        p  status
    SASRec                                   0.0930    reference           converged
    t5                                       0.0880      -0.0050    0.430
    """
    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[:n - 1] + "…"

    idx = {h: i for i, h in enumerate(header)}
    sec = next(iter(references), sections()[0])
    h = _primary_header(sec) if any(c[1] == sec for c in report_columns()) else "NDCG@10"
    ref = references.get(sec)
    dh = f"Δ vs {ref}" if ref else "Δ"
    name_w = 38
    lines = [f"{'model':<{name_w}} {h:>8}  {cut(dh, 11):>11}  {'p':>7}  status"]
    for row in rows:
        v = row[idx[h]] if h in idx else None
        d = row[idx[f"Δ {h}"]] if f"Δ {h}" in idx else None
        p = row[idx[f"p {h}"]] if f"p {h}" in idx else None
        delta = "reference" if row[0] == ref else "–" if d is None else f"{d:+.4f}"
        pv = "" if p is None else f"{p:.3f}" + ("*" if p < ALPHA else "")
        left = f"{cut(str(row[0]), name_w):<{name_w}} {_fmt(v):>8}  {delta:>11}  {pv:>7}  "
        lines.append((left + cut(str(row[-1] or ""), width - len(left))).rstrip())
    return "\n".join(lines)

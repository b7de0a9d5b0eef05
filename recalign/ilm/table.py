"""The ILM arms table over seeds: ``recalign ilm --run RUN --table`` (``RUN/ilm/table.md``).

Per arm (``RUN/results/ilm-<arm>`` and every ``ilm-<arm>-seed<N>``, grouped by
``eval.evidence.seed_groups``) and per template set (``<section>``: the seen templates,
``<section>_unseen``: the held-out wording, as ``eval.evaluate`` writes them):

- each user's metric is averaged over the arm's seeds (``seed_average``: the per-user rows
  ``per_user/<section>.jsonl`` that ``recalign compare`` reads, checked against metrics.json
  by ``evidence.load_per_user``);
- **mean ± std**: the mean of the seeds' own scores and the standard deviation between seeds
  (``significance.seed_summary``);
- **95% interval**: bootstrap over users of the seed-averaged score (``significance.intervals``);
- **Δ**: paired differences of the seed-averaged per-user scores, with the paired bootstrap
  interval and the sign-flip p-value of ``significance.paired_difference``: every arm against
  ``backbone``, and the fixed contrasts ``CONTRASTS``.

SASRec, BPR and Pop, when the run has them, are rows of reference (seen templates only: they read
no prompt). Nothing is trained here.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import RecalignError, nearest
from ..eval.evidence import _diff, load_per_user, name_parts, sections, seed_groups, task_metrics
from ..eval.metrics import PerUser
from ..eval.report import column_label
from ..eval.significance import (ALPHA, DEFAULT_RESAMPLES, DEFAULT_SEED, LEVEL, TEST_METHOD,
                                 check_paired, column_for, has_metric, intervals, metric_value, seed_summary)
from ..run_dir import RunDir
from .config import default_arms

BACKBONE = "backbone"
PREFIX = "ilm-"
UNSEEN = "_unseen"
#: (a, b): ``a − b`` on the seed-averaged per-user scores.
CONTRASTS = (("qformer", "mlp"), ("qformer-p1", "qformer"), ("qformer-p1-iic", "qformer-p1"),
             ("qformer-p1-iic-shuffled", "qformer-p1-iic"))
REFERENCES = ("SASRec", "BPR", "Pop")


def seed_average(pus: Sequence[PerUser], metric: str, names: Sequence[str] | None = None) -> PerUser:
    """One model's seeds as one ``PerUser``: the metric's column (``column_for``: ``sq_err`` for RMSE)
    averaged per user over ``pus``, which must hold the same users (a user with no value in a seed,
    NaN, is averaged over the others).

    >>> a = PerUser(["u1", "u2"], {"ndcg@10": [1.0, 0.0]})
    >>> b = PerUser(["u2", "u1"], {"ndcg@10": [0.5, 0.0]})
    >>> seed_average([a, b], "ndcg@10").columns["ndcg@10"].tolist()
    [0.5, 0.25]
    """
    if not pus:
        raise RecalignError("no per-user rows to average")
    names = list(names or [f"seed run {k}" for k in range(len(pus))])
    col, _ = column_for(metric)
    first = pus[0]
    for name, pu in zip(names[1:], pus[1:]):
        check_paired(first, pu, (names[0], name))
    stack = []
    for pu in pus:
        where = {u: i for i, u in enumerate(pu.users)}
        stack.append(pu.columns[col][[where[u] for u in first.users]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # a user with no value in any seed: NaN
        mean = np.nanmean(np.stack(stack), axis=0)
    return PerUser(list(first.users), {col: mean})


def _per_user(run: RunDir, name: str, section: str, notes: list[str]) -> PerUser | None:
    """``name``'s per-user rows of ``section`` (None, with a note where they should be and are not)."""
    p = run.metrics(name)
    try:
        m = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        notes.append(f"{name}: {p} unreadable ({e}): left out")
        return None
    s = m.get(section)
    if not isinstance(s, dict):
        return None
    base = section[:-len(UNSEEN)] if section.endswith(UNSEEN) else section
    label = f"{name} (unseen templates)" if section.endswith(UNSEEN) else name
    if not isinstance(s.get("per_user"), str):
        notes.append(f"{label} {base}: no per-user rows: left out")
        return None
    return load_per_user({"model": label, "_path": str(p), base: s}, notes).get(base)


def _summary(run: RunDir, members: list[tuple[int, str]], section: str, metric: str, notes: list[str],
             opts: dict) -> dict | None:
    """One model's seeds on one section: per-seed scores, mean ± std, the seed-averaged score's interval."""
    have = []
    for s, name in members:
        pu = _per_user(run, name, section, notes)
        if pu is not None and has_metric(pu, metric):
            have.append((s, name, pu))
        elif pu is not None:
            notes.append(f"{name} {section}: no per-user {column_for(metric)[0]!r}: left out")
    if not have:
        return None
    if len(have) < len(members):
        gone = sorted({n for _, n in members} - {n for _, n, _ in have})
        notes.append(f"{section}: {', '.join(gone)} left out of the seed average (no usable per-user rows)")
    per_seed = {n: metric_value(pu, metric) for _, n, pu in have}
    mean, std, k = seed_summary(list(per_seed.values()))
    out = {"results": [n for _, n, _ in have], "seeds": [s for s, _, _ in have], "per_seed": per_seed,
           "mean": mean, "std": std, "n": k}
    try:
        avg = seed_average([pu for _, _, pu in have], metric, [n for _, n, _ in have])
    except RecalignError as e:
        notes.append(f"{section}: seeds not averaged per user ({e}): no interval and no paired test")
        return out
    est = intervals(avg, [metric], **opts)[metric]
    out.update(value=est.value, low=est.low, high=est.high, users=est.users, per_user=avg)
    return out


def _pair(a: dict | None, b: dict | None, metric: str, names: tuple[str, str], opts: dict) -> dict | str:
    if a is None or b is None:
        return f"no {names[0] if a is None else names[1]} rows"
    res = _diff(a.get("per_user"), b.get("per_user"), [metric], names, opts)
    if isinstance(res, str):
        return res
    return res[metric].as_dict() if metric in res else "no value to pair"


def arm_table(run_dir: str | Path, arms: Sequence[str] | None = None, section: str = "retrieval",
              metric: str = "ndcg@10", *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
              level: float = LEVEL) -> dict:
    """The arms table of ``RUN`` (see the module docstring) as a dict; ``markdown`` renders it.

    ``arms``: the arms expected, in order (default: ``default_arms()``'s, then any other ``ilm-*``
    result); one with no result is listed in ``missing`` and left out. ``backbone`` is always the
    row the others are compared with.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if section not in sections():
        raise RecalignError(f"unknown section {section!r} (sections: {', '.join(sections())})."
                            f"{nearest(section, sections())}", field="section")
    if metric not in task_metrics(section):
        raise RecalignError(f"{section} has no metric {metric!r} (metrics: {', '.join(task_metrics(section))})."
                            f"{nearest(metric, task_metrics(section))}", field="metric")
    if not run.results.is_dir():
        raise RecalignError("no results here (RUN/results): run `recalign ilm` first", path=run.results)
    names = sorted(p.parent.name for p in run.results.glob("*/metrics.json"))
    groups = seed_groups(names, singles=True)
    found = [g[len(PREFIX):] for g in groups if g.startswith(PREFIX) and not any(name_parts(g)[1:])]
    expected = list(arms) if arms else [a["name"] for a in default_arms()] + sorted(
        set(found) - {a["name"] for a in default_arms()})
    order = list(dict.fromkeys([BACKBONE, *expected]))
    missing = [a for a in order if a not in found]
    notes: list[str] = []
    opts = {"n_resamples": n_resamples, "seed": seed, "level": level}
    unseen = section + UNSEEN
    rows: list[dict] = []
    for a in order:
        if a in found:
            members = groups[PREFIX + a]
            rows.append({"name": a, "kind": "arm", "results": [n for _, n in members],
                         "seen": _summary(run, members, section, metric, notes, opts),
                         "unseen": _summary(run, members, unseen, metric, notes, opts)})
    for ref in REFERENCES:
        if ref in groups:
            members = groups[ref]
            rows.append({"name": ref, "kind": "reference", "results": [n for _, n in members],
                         "seen": _summary(run, members, section, metric, notes, opts), "unseen": None})
    by_name = {r["name"]: r for r in rows}
    bb = by_name.get(BACKBONE)
    for r in rows:
        r["vs_backbone"] = {}
        if r["name"] == BACKBONE:
            continue
        for ts in ("seen", "unseen"):
            if r[ts] is None:
                continue
            r["vs_backbone"][ts] = (f"no {PREFIX}{BACKBONE} results" if bb is None else
                                    _pair(r[ts], bb[ts], metric, (r["name"], BACKBONE), opts))
    contrasts = []
    for a, b in CONTRASTS:
        c: dict = {"a": a, "b": b}
        gone = [x for x in (a, b) if x not in by_name]
        if gone:
            c["skipped"] = "; ".join(f"no {PREFIX}{x} results" if x not in found else f"{x} not in this table"
                                     for x in gone)
        else:
            for ts in ("seen", "unseen"):
                if by_name[a][ts] is not None or by_name[b][ts] is not None:
                    c[ts] = _pair(by_name[a][ts], by_name[b][ts], metric, (a, b), opts)
        contrasts.append(c)
    return {"run": str(run.root), "section": section, "unseen_section": unseen, "metric": metric,
            "label": column_label(sections()[0], metric), "rows": rows, "contrasts": contrasts,
            "missing": missing, "notes": notes,
            "method": {"seeds": "each user's metric averaged over a model's seeds; mean ± std: the seeds' own "
                                "scores (std between seeds, ddof 1)",
                       "interval": f"{round(level * 100)}% percentile interval of a bootstrap over users of the "
                                   "seed-averaged score", "test": TEST_METHOD, "resamples": n_resamples,
                       "seed": seed, "level": level, "alpha": ALPHA}}


def as_json(table: dict) -> dict:
    """``table`` without its per-user arrays (what ``json.dumps`` can write)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k != "per_user"}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return clean(table)


def _mean_cell(s: dict | None) -> str:
    if s is None:
        return "–"
    return f"{s['mean']:.4f}" + (f" ± {s['std']:.4f}" if s["n"] > 1 else "")


def _interval_cell(s: dict | None) -> str:
    return "–" if s is None or "low" not in s else f"[{s['low']:.4f}, {s['high']:.4f}]"


def _diff_cell(d) -> str:
    if d is None:
        return "–"
    if isinstance(d, str):
        return d
    star = "*" if d["p"] < ALPHA else ""
    return f"{d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] p={d['p']:.3f}{star}"


def _seeds_cell(r: dict) -> str:
    s = r["seen"] or r["unseen"]
    seeds = s["seeds"] if s else []
    if r["kind"] == "reference" and len(seeds) <= 1:
        return "1 (single run)"
    return f"{len(seeds)} ({', '.join(map(str, seeds))})" if seeds else "0"


def markdown(table: dict) -> str:
    """The arms table, its contrasts and its notes, in markdown."""
    lab, sec, uns = table["label"], table["section"], table["unseen_section"]
    m = table["method"]
    out = [f"### ILM arms: {sec} {lab}, averaged over seeds ({table['run']})", "",
           f"Each user's {lab} is averaged over a model's seeds (`ilm-<arm>`, `ilm-<arm>-seed<N>`). mean ± std: the "
           f"seeds' own scores, std between seeds. Interval: {m['interval']} ({m['resamples']} resamples). "
           f"Δ: paired over the same users, {round(m['level'] * 100)}% paired-bootstrap interval, p: two-sided "
           f"sign-flip permutation test (* p < {m['alpha']}). Seen: `{sec}` (the templates the backbone was trained "
           f"on); unseen: `{uns}` (held-out wording).", "",
           "| model | seeds | users | seen: mean ± std | seen interval | seen Δ vs backbone | unseen: mean ± std "
           "| unseen interval | unseen Δ vs backbone |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in table["rows"]:
        users = (r["seen"] or r["unseen"] or {}).get("users", "–")
        ref = r["name"] == BACKBONE
        vs = r["vs_backbone"]
        out.append(f"| {r['name'] + (' (reference)' if r['kind'] == 'reference' else '')} | {_seeds_cell(r)} "
                   f"| {users} | {_mean_cell(r['seen'])} | {_interval_cell(r['seen'])} "
                   f"| {'reference' if ref and r['seen'] else _diff_cell(vs.get('seen'))} "
                   f"| {_mean_cell(r['unseen'])} | {_interval_cell(r['unseen'])} "
                   f"| {'reference' if ref and r['unseen'] else _diff_cell(vs.get('unseen'))} |")
    out += ["", f"#### Contrasts: a − b on the seed-averaged per-user {lab} (paired over users)", "",
            "| a − b | seen Δ [interval] p | unseen Δ [interval] p | users |", "|---|---|---|---|"]
    for c in table["contrasts"]:
        if "skipped" in c:
            out.append(f"| {c['a']} − {c['b']} | skipped: {c['skipped']} | | |")
            continue
        users = next((d["users"] for d in (c.get("seen"), c.get("unseen")) if isinstance(d, dict)), "–")
        out.append(f"| {c['a']} − {c['b']} | {_diff_cell(c.get('seen'))} | {_diff_cell(c.get('unseen'))} "
                   f"| {users} |")
    lines = [f"- no results for arm `{a}` (RUN/results/ilm-{a}[-seed<N>]): left out" for a in table["missing"]]
    lines += [f"- {n}" for n in table["notes"]]
    if lines:
        out += ["", *lines]
    return "\n".join(out) + "\n"


__all__ = ["arm_table", "markdown", "as_json", "seed_average", "CONTRASTS", "REFERENCES", "BACKBONE"]

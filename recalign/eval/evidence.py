"""What a comparison can claim: intervals, paired differences, ablation pairs, seed spreads.

``gather(rows)`` takes the comparison's rows (``metrics.json`` dicts, one per model and
template set, see ``report.expand_unseen``), reads each section's per-user rows
(``per_user/<section>.jsonl``, written by ``report.write_result``) and returns an
``Evidence``:

- ``intervals[model][section][metric]``: bootstrap interval over users (``significance``);
- ``references[section]``: the row the others are compared with (``--reference NAME``,
  default the best *baseline* on that section's primary metric: NDCG@10, candidate
  NDCG@5, RMSE);
- ``differences[model][section]``: ``{metric: Difference}`` against the reference, or a
  one-line reason why there is none (other users, no per-user rows);
- ``pairs``: every ablation arm (``<base>-rec+mim``, ``<base>`` = rec + all auxiliary
  tasks, …) against ``<base>-rec-only`` of the same seed and template set, paired by user;
- ``template_pairs``: every row of one template scored on every user (``<model> (template ID)``,
  ``recalign evaluate --template-ids``) against its model's seen-template row, its unseen row
  and the other such rows of the same model, paired by user;
- ``seeds``: per group of ``<name>-seed<N>`` rows (``seed_groups``: the seedless ``<name>`` joins as
  seed 0 when no ``<name>-seed0`` is there), mean ± std of every headline metric;
- ``users[model]``: (evaluated users, users of the fullest row): rows on fewer users
  (``evaluate.max_users``) are *partial*, marked and ranked apart.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RecalignError, nearest
from ..tasks import TASKS
from .metrics import PerUser, read_per_user
from .significance import (DEFAULT_RESAMPLES, DEFAULT_SEED, LEVEL, Difference, Estimate, has_metric, intervals,
                           metric_value, paired_difference, same_users, seed_summary)



def sections() -> list[str]:
    """The result sections compared: the registry's recommendation tasks."""
    return TASKS.rec_names()


def task_metrics(sec: str) -> tuple[str, ...]:
    """The report's metrics of a section (``Task.metrics``)."""
    return TASKS.get(sec).metrics


def primary(sec: str) -> str:
    """The metric that picks the reference and fills the table's Δ column: NDCG@10, else the
    last NDCG@K, else the task's first metric.

    >>> primary("retrieval"), primary("ranking"), primary("rating")
    ('ndcg@10', 'ndcg@5', 'rmse')
    """
    ms = task_metrics(sec)
    ndcg = [m for m in ms if m.startswith("ndcg@")]
    return "ndcg@10" if "ndcg@10" in ms else ndcg[-1] if ndcg else ms[0]


def key_metrics(sec: str) -> list[str]:
    """The metrics the markdown's difference tables show (all of them are in report.json):
    the primary one and every @10 or cutoff-free metric of the task."""
    return list(dict.fromkeys([m for m in task_metrics(sec) if "@" not in m or m.endswith("@10")] + [primary(sec)]))

REC_ONLY = "-rec-only"
_NAME = re.compile(r"^(?P<base>.*?)(?P<arm>-rec-only|-rec(?:\+[A-Za-z0-9_]+)+)?(?P<seed>-seed\d+)?"
                   r"(?P<tset> \(unseen templates\))?$")


def lower_is_better(metric: str) -> bool:
    return metric.startswith(("rmse", "mae"))


def name_parts(name: str) -> tuple[str, str, str, str]:
    """(base, ablation arm, seed suffix, template-set suffix) of a result name.

    >>> name_parts("recalign-t5-rec+mim-seed2 (unseen templates)")
    ('recalign-t5', '-rec+mim', '-seed2', ' (unseen templates)')
    >>> name_parts("SASRec")
    ('SASRec', '', '', '')
    """
    m = _NAME.match(name)
    assert m is not None   # every part is optional: the pattern matches any string
    return m["base"], m["arm"] or "", m["seed"] or "", m["tset"] or ""


def seed_groups(names, singles: bool = False) -> dict[str, list[tuple[int, str]]]:
    """``<name>-seed<N>`` names grouped under ``<name>`` (ablation arm and template set kept in the
    key), each as ``(N, name)``, ordered by seed. The seedless ``<name>`` stands for seed 0 and joins
    its group when at least one ``<name>-seed<N>`` is there and no ``<name>-seed0`` (a run that names
    seed 0 ``-seed0``, ``seeds: N`` of ``recalign run``, leaves the seedless name to another model).
    ``singles``: every other name is a group of its own, ``[(0, name)]``.

    >>> seed_groups(["ilm-mlp-seed2", "ilm-mlp", "ilm-mlp-seed1", "t5", "t5-seed0", "t5-seed1", "Pop"])
    {'ilm-mlp': [(0, 'ilm-mlp'), (1, 'ilm-mlp-seed1'), (2, 'ilm-mlp-seed2')], 't5': [(0, 't5-seed0'), (1, 't5-seed1')]}
    >>> seed_groups(["Pop", "ilm-mlp (unseen templates)", "ilm-mlp-seed1 (unseen templates)"], singles=True)
    {'ilm-mlp (unseen templates)': [(0, 'ilm-mlp (unseen templates)'), (1, 'ilm-mlp-seed1 (unseen templates)')], 'Pop': [(0, 'Pop')]}
    """
    names = list(names)
    groups: dict[str, list[tuple[int, str]]] = {}
    for n in names:
        base, arm, sd, tset = name_parts(n)
        if sd:
            groups.setdefault(f"{base}{arm}{tset}", []).append((int(sd[len("-seed"):]), n))
    present = set(names)
    for g, members in groups.items():
        if g in present and all(s != 0 for s, _ in members):
            members.append((0, g))
        members.sort()
    if singles:
        grouped = {n for members in groups.values() for _, n in members} | set(groups)
        groups.update({n: [(0, n)] for n in names if n not in grouped})
    return groups


@dataclass
class Evidence:
    intervals: dict[str, dict[str, dict[str, Estimate]]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    differences: dict[str, dict[str, dict[str, Difference] | str]] = field(default_factory=dict)
    pairs: list[dict] = field(default_factory=list)
    template_pairs: list[dict] = field(default_factory=list)
    seeds: list[dict] = field(default_factory=list)
    users: dict[str, tuple[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    method: dict = field(default_factory=dict)

    def partial(self, model: str) -> bool:
        n, full = self.users.get(model, (0, 0))
        return n < full


def headline(section: dict) -> list[str]:
    """The section's metric keys that are numbers (not counts or settings)."""
    skip = {"users", "n", "candidates", "beam", "length_penalty", "ranked_mean", "targets_in_history", "wall_s",
            "users_per_s", "unparsable", "clipped", "fallback"}
    return [k for k, v in section.items() if k not in skip and isinstance(v, (int, float))
            and not isinstance(v, bool)]


def load_per_user(row: dict, notes: list[str]) -> dict[str, PerUser]:
    """Each section's per-user rows, checked against the section's own numbers (a stale or
    foreign file gives a note and no interval, never a wrong one)."""
    out = {}
    base = Path(row["_path"]).parent if row.get("_path") else None
    for sec in sections():
        s = row.get(sec) or {}
        rel = s.get("per_user")
        if base is None or not isinstance(rel, str):
            continue
        p = base / rel
        if not p.is_file():
            notes.append(f"{row['model']} {sec}: per-user file {p} is missing: no interval")
            continue
        pu = read_per_user(p)
        bad = [m for m in headline(s) if has_metric(pu, m) and s[m] is not None
               and not math.isclose(metric_value(pu, m), s[m], rel_tol=1e-9, abs_tol=1e-12)]
        if bad:
            notes.append(f"{row['model']} {sec}: per-user rows ({p}) disagree with metrics.json on "
                         f"{', '.join(bad)}: no interval")
            continue
        out[sec] = pu
    return out


def _count(row: dict, sec: str, pu: PerUser | None) -> int | None:
    if pu is not None:
        return len(pu)
    s = row.get(sec) or {}
    return s.get("users", s.get("n"))


def choose_references(rows: list[dict], reference: str | None, ev: Evidence) -> dict[str, str]:
    """Per section: ``reference`` where that row has the section, else the best full baseline."""
    names = [r["model"] for r in rows]
    if reference is not None and reference not in names:
        raise RecalignError(f"unknown reference {reference!r} (models: {', '.join(names)}).{nearest(reference, names)}",
                            field="reference")
    refs = {}
    for sec in sections():
        metric = primary(sec)
        have = [r for r in rows if (r.get(sec) or {}).get(metric) is not None and not ev.partial(r["model"])]
        named = [r for r in have if r["model"] == reference]
        pool = named or [r for r in have if r.get("kind") == "baseline"]
        if not pool:
            continue
        sign = 1 if lower_is_better(metric) else -1
        refs[sec] = min(pool, key=lambda r: sign * r[sec][metric])["model"]
    return refs


def _diff(a: PerUser | None, b: PerUser | None, metrics, names, opts) -> dict[str, Difference] | str:
    if a is None or b is None:
        return f"no per-user rows for {names[0] if a is None else names[1]}: no paired test"
    if not same_users(a, b):
        return f"not paired: {len(a)} vs {len(b)} users"
    return paired_difference(a, b, metrics, names=names, **opts)


def gather(rows: list[dict], reference: str | None = None, *, n_resamples: int = DEFAULT_RESAMPLES,
           seed: int = DEFAULT_SEED, level: float = LEVEL) -> Evidence:
    """Everything the comparison says about how sure its numbers are (see the module docstring)."""
    ev = Evidence(method={"interval": f"{round(level * 100)}% percentile interval, paired bootstrap over users",
                          "test": "two-sided paired sign-flip permutation test", "resamples": n_resamples,
                          "seed": seed, "level": level})
    opts = {"n_resamples": n_resamples, "seed": seed, "level": level}
    pus = {r["model"]: load_per_user(r, ev.notes) for r in rows}
    for sec in sections():
        counts = {r["model"]: _count(r, sec, pus[r["model"]].get(sec)) for r in rows if r.get(sec)}
        full = max((c for c in counts.values() if c is not None), default=0)
        for model, c in counts.items():
            if model not in ev.users and c is not None:
                ev.users[model] = (c, full)
    for r in rows:
        m = r["model"]
        ev.intervals[m] = {sec: intervals(pu, headline(r[sec]), **opts) for sec, pu in pus[m].items()}
    ev.references = choose_references(rows, reference, ev)
    for r in rows:
        m = r["model"]
        for sec, ref in ev.references.items():
            if m == ref or not r.get(sec):
                continue
            metrics = [k for k in headline(r[sec]) if k in headline(next(x for x in rows if x["model"] == ref)[sec])]
            ev.differences.setdefault(m, {})[sec] = _diff(pus[m].get(sec), pus[ref].get(sec), metrics, (m, ref), opts)
    by_name = {r["model"]: r for r in rows}
    for r in rows:
        base, arm, sd, tset = name_parts(r["model"])
        ref = f"{base}{REC_ONLY}{sd}{tset}"
        if arm == REC_ONLY or ref not in by_name:
            continue
        for sec in sections():
            if not (r.get(sec) and by_name[ref].get(sec)):
                continue
            res = _diff(pus[r["model"]].get(sec), pus[ref].get(sec), key_metrics(sec), (r["model"], ref), opts)
            ev.pairs.append({"model": r["model"], "reference": ref, "section": sec, "arm": arm or "+all",
                             "result": res})
    ev.template_pairs = _template_pairs(rows, pus, opts)
    for g, named in seed_groups([r["model"] for r in rows]).items():
        members = [by_name[n] for _, n in named]
        entry = {"group": g, "runs": [x["model"] for x in members], "metrics": {}}
        for sec in sections():
            keys = sorted({k for x in members for k in headline(x.get(sec) or {})})
            for k in keys:
                mean, std, n = seed_summary([(x.get(sec) or {}).get(k) for x in members])
                if n:
                    entry["metrics"].setdefault(sec, {})[k] = {"mean": mean, "std": std, "n": n}
        ev.seeds.append(entry)
    return ev


def _template_pairs(rows: list[dict], pus: dict, opts: dict) -> list[dict]:
    """Each one-template row (``template_base`` set by ``report.expand_unseen``) against its model's
    seen row, its ``(unseen templates)`` row, then every later one-template row of the same model."""
    by_name = {r["model"]: r for r in rows}
    singles = [r for r in rows if r.get("template_base")]
    out = []
    for i, r in enumerate(singles):
        base = r["template_base"]
        refs = [n for n in (base, f"{base} (unseen templates)") if n in by_name]
        refs += [x["model"] for x in singles[i + 1:] if x["template_base"] == base]
        for ref in refs:
            for sec in sections():
                if r.get(sec) and by_name[ref].get(sec):
                    res = _diff(pus[r["model"]].get(sec), pus[ref].get(sec), key_metrics(sec), (r["model"], ref), opts)
                    out.append({"model": r["model"], "reference": ref, "section": sec, "result": res})
    return out

"""Render a task the way a run writes it: the run's generate settings, its template stack and
item rule (titles, IDs, ID+title, compact), its split and its source budget — what
``recalign templates render/show --config RUN.yaml`` (or ``--run-dir RUN``) prints and what
``recalign evaluate --template-ids`` scores.

``RunText`` is one run's way of writing text: ``from_config`` reads a run config (or a
``generate:`` YAML) as ``recalign run``/``recalign generate --config`` do; ``from_run_dir``
reads what ``RUN/text/manifest.json`` records (per task: ``generated_with``). ``render`` goes
through ``materialize``'s own code (the builder over every user, ``render_rows`` with the same
seeded template choice, the item rule's post-render, the source budget's fitting), so its
rows are byte-identical to the Arrow rows ``generate`` writes; with ``template_id`` every row
is rendered with that one template instead of a seeded draw.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .config import from_dict, read_yaml
from .data import Split, leave_one_out, load_dataset
from .errors import RecalignError, nearest
from .run_dir import RunDir
from .tasks import TASKS, GenerateConfig, any_task, load_templates

#: The splits a seq2seq task is written in; a query task's are ``train``, ``test``, ``test_unseen``.
WHICH = ("train", "valid", "test", "valid_unseen", "test_unseen")


@dataclass
class RunText:
    """How one run writes a task's text: generate settings, template directories (in order),
    the run directory (for its split and tokenizer; None: the dataset is split in memory)."""

    cfg: GenerateConfig
    dirs: list[str] = field(default_factory=list)
    run: RunDir | None = None
    dataset: str = "ml-100k"
    data: dict = field(default_factory=dict)         # user_k, item_k, min_interactions of a run config
    source: str = "defaults"                         # where the settings came from (one line)

    @classmethod
    def from_config(cls, path: str | Path, overrides: Sequence[str] = (), run_dir: str | None = None) -> "RunText":
        """A run config (``train:`` section: ``recalign run``'s settings and source budget) or a
        YAML of GenerateConfig keys (``recalign generate --config``)."""
        from .pipeline import generate_config, load_run_config, templates_dirs

        raw = read_yaml(path)
        if isinstance(raw.get("train"), dict):
            rc = load_run_config(path, list(overrides), run_dir=run_dir)
            d = rc.data
            return cls(generate_config(rc), templates_dirs(rc), RunDir(rc.run_dir), str(d.dataset),
                       {"user_k": d.user_k, "item_k": d.item_k, "min_interactions": d.min_interactions},
                       f"run config {path}")
        data = dict(raw.get("generate", raw))
        data.pop("tasks", None)
        dirs = [str(x) for x in data.pop("templates_dirs", None) or []]
        return cls(from_dict(GenerateConfig, data, overrides=list(overrides)), dirs,
                   RunDir(run_dir) if run_dir else None, source=f"generate config {path}")

    @classmethod
    def from_run_dir(cls, run_dir: str | Path, task: str | None = None) -> "RunText":
        """What ``RUN/text/manifest.json`` records for ``task`` (its ``generated_with`` entry, else the
        manifest's settings and template directories)."""
        run = RunDir(run_dir)
        m = run.generated_text()
        if task is not None and task in TASKS and not m.lists(task):
            listed = list(m.tasks)
            raise RecalignError(f"task {task!r} was not generated in {run_dir} (generated: "
                                f"{', '.join(listed) or 'none'}).{nearest(task, listed)}", path=run.manifest_path)
        rec = m.task_settings(task or "")
        known = {f.name for f in dataclasses.fields(GenerateConfig)}
        cfg = GenerateConfig(**{k: v for k, v in (rec.get("settings") or {}).items() if k in known})
        if cfg.max_source_tokens and not (m.fit or {}).get("tokenizer"):
            cfg = dataclasses.replace(cfg, max_source_tokens=0)     # generate had no tokenizer: nothing fitted
        return cls(cfg, [str(d) for d in rec.get("templates_dirs") or []], run, m.dataset or "ml-100k",
                   source=f"run directory {run_dir} (manifest)")

    def split(self) -> Split:
        """The run's prepared split, or the dataset split in memory (nothing written)."""
        if self.run is not None and self.run.has_split():
            return self.run.split()
        d = self.data
        return leave_one_out(load_dataset(self.dataset, d.get("user_k", 0), d.get("item_k", 0)),
                             d.get("min_interactions", 3))

    def templates(self, task: str, notices: list[str] | None = None):
        return load_templates(task, self.dirs, notices=notices)


def render(rt: RunText, split: Split, task: str, which: str = "test", template_id: str | None = None) -> list[dict]:
    """Rows of ``task``/``which`` as ``generate`` writes them (input, target, _template_id, user,
    target_item, …). ``template_id``: every row with that template (of either set)."""
    from .materialize import meta_columns, render_task_rows, source_counter, split_templates
    from .tasks.fit import SourceFit
    from .tasks.sampling import cap_rows, task_rng

    t = any_task(task)
    if t.name not in TASKS:
        return _render_query(rt, split, task, which, template_id)
    if which not in WHICH:
        raise RecalignError(f"unknown split {which!r} (known: {', '.join(WHICH)}).{nearest(which, WHICH)}")
    base, _, unseen = which.partition("_")
    tset = "unseen" if unseen else "seen"
    temps = rt.templates(task)
    chosen = _pick(temps, task, template_id) if template_id else split_templates(temps, task)[tset]
    cfg = dataclasses.replace(rt.cfg, progress=False)
    rows = t.build(split, base, cfg)
    if base == "train":
        rows = cap_rows(rows, cfg.max_train_examples.get(task), task_rng(cfg.seed, task, base, "cap"))
    count = source_counter(cfg, rt.run, split)[0] if rt.run is not None else None
    fit = SourceFit(cfg.max_source_tokens, count) if count is not None and cfg.max_source_tokens else None
    cols = {**meta_columns(rows), **render_task_rows(rows, chosen, task, task_rng(cfg.seed, task, base, tset), cfg,
                                                    fit)}
    if template_id:
        cols["_template_split"] = [chosen[0].split] * len(rows)
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def _pick(temps, task: str, template_id: str) -> list:
    found = [x for x in temps if x.id == template_id]
    if not found:
        ids = [x.id for x in temps]
        raise RecalignError(f"no template {template_id!r} for task {task!r} (have: {', '.join(ids)})."
                            f"{nearest(template_id, ids)}")
    return found


def _render_query(rt: RunText, split: Split, task: str, which: str, template_id: str | None) -> list[dict]:
    """A query task's rows (``RUN/embed/text``'s query column) with the default QueryConfig, or the one
    ``RUN/embed/text/manifest.json`` records."""
    import json

    from .materialize import render_rows, split_templates
    from .tasks.query import QueryConfig
    from .tasks.sampling import task_rng

    if which not in ("train", "test", "test_unseen"):
        raise RecalignError(f"a query task is written as train, test or test_unseen, not {which!r}")
    qcfg = QueryConfig()
    mp = rt.run.root / "embed" / "text" / "manifest.json" if rt.run is not None else None
    if mp is not None and mp.is_file():
        qcfg = from_dict(QueryConfig, json.loads(mp.read_text()).get("settings") or {})
    base, _, unseen = which.partition("_")
    tset = "unseen" if unseen else "seen"
    temps = rt.templates(task)
    chosen = _pick(temps, task, template_id) if template_id else split_templates(temps, task)[tset]
    rows = any_task(task).build(split, base, qcfg)
    pairs = [(r.example, r.meta) for r in rows]
    cols = render_rows(pairs, chosen, task, task_rng(qcfg.seed, task, base, tset))
    cols["user"] = [r.meta.user for r in rows]
    cols["target_item"] = [r.meta.target_item for r in rows]
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


__all__ = ["RunText", "render", "WHICH"]

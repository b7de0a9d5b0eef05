"""Materialize the query tasks: ``RUN/embed/text/<task>/{train,test,test_unseen}/`` (Arrow,
written atomically through ``materialize.save``) and ``RUN/embed/text/manifest.json``.

Columns: query (the rendered template input, no instruction prefix), positive (item text),
negatives (item texts), positive_id, negative_ids, user, history (ids masked when ranking),
conditions (JSON ``[[field, op, value], ...]``), _task, _template_id, _template_split.
``train`` rows use seen templates; ``test`` the same queries with a seen and ``test_unseen``
with an unseen template.
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Sequence

import datasets
import pyarrow as pa

from ..generated_text import GeneratedText
from ..data import Split
from ..data.fingerprint import split_fingerprint
from ..errors import RecalignError
from ..materialize import quiet_fast, render_rows, save, split_templates
from ..run_dir import RunDir
from ..tasks.query import QueryConfig, conditions_json, query_templates
from ..tasks.query.builders import check_num_negatives, writer_session
from ..tasks.registry import QUERY_TASKS
from ..tasks.sampling import task_rng
from .items import item_text

QUERY_SPLITS = ("train", "test", "test_unseen")
FEATURES = datasets.Features({
    "query": datasets.Value("string"), "positive": datasets.Value("string"),
    "negatives": datasets.List(datasets.Value("string")), "positive_id": datasets.Value("string"),
    "negative_ids": datasets.List(datasets.Value("string")), "user": datasets.Value("string"),
    "history": datasets.List(datasets.Value("string")), "conditions": datasets.Value("string"),
    "_task": datasets.Value("string"), "_template_id": datasets.Value("string"),
    "_template_split": datasets.Value("string"),
})


def embed_dir(run: RunDir) -> Path:
    return run.root / "embed"


def text_dir(run: RunDir) -> Path:
    return embed_dir(run) / "text"


def task_names(tasks: Sequence[str] | None) -> list[str]:
    names = list(dict.fromkeys(tasks or QUERY_TASKS.names()))
    for t in names:
        QUERY_TASKS.get(t)  # an unknown name raises with the nearest ones
    return names


def _columns(split: Split, rows, rendered: dict[str, list]) -> dict[str, list]:
    texts: dict[str, str] = {}

    def text(i: str) -> str:
        if i not in texts:
            texts[i] = item_text(split.items[i])
        return texts[i]
    return {"query": rendered["input"], "positive": [text(r.meta.target_item) for r in rows],
            "negatives": [[text(i) for i in r.meta.candidates] for r in rows],
            "positive_id": [r.meta.target_item for r in rows], "negative_ids": [r.meta.candidates for r in rows],
            "user": [r.meta.user for r in rows], "history": [r.meta.history for r in rows],
            "conditions": [conditions_json(r.conditions) for r in rows], "_task": rendered["_task"],
            "_template_id": rendered["_template_id"], "_template_split": rendered["_template_split"]}


def _dataset(columns: dict[str, list]) -> datasets.Dataset:
    table = pa.Table.from_pydict({k: columns[k] for k in FEATURES}, schema=FEATURES.arrow_schema)
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=FEATURES), fingerprint=uuid.uuid4().hex)


def build_query_task(split: Split, task: str, cfg: QueryConfig) -> dict[str, datasets.Dataset]:
    """The three splits of one query task, in memory."""
    t = QUERY_TASKS.get(task)
    check_num_negatives(cfg, len(split.items))
    temps = split_templates(query_templates(t), task)
    out = {}
    for which in ("train", "test"):
        rows = t.build(split, which, cfg)
        pairs = [(r.example, r.meta) for r in rows]
        out[which] = _dataset(_columns(split, rows, render_rows(pairs, temps["seen"], task,
                                                                task_rng(cfg.seed, task, which, "seen"))))
        if which == "test":
            out["test_unseen"] = _dataset(_columns(split, rows, render_rows(
                pairs, temps["unseen"], task, task_rng(cfg.seed, task, which, "unseen"))))
    return out


def generate_queries(split: Split, run_dir: str | Path | RunDir, tasks: Sequence[str] | None = None,
                     cfg: QueryConfig | None = None) -> GeneratedText:
    """Build, render and write the query tasks into ``RUN/embed/text``; returns its record
    (written last; removed while the folders change). With an LLM writer, its counts
    (``record.writer``: answers, cache hits, refusals written by the rules instead) are
    also echoed as one line."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    cfg = cfg or QueryConfig()
    names = task_names(tasks)
    check_num_negatives(cfg, len(split.items))
    if not cfg.writer_cache and cfg.writer != "rule":
        cfg = dataclasses.replace(cfg, writer_cache=str(embed_dir(run) / "llm_cache"))
    manifest_path = text_dir(run) / "manifest.json"
    manifest_path.unlink(missing_ok=True)
    counts = {}
    with writer_session(cfg) as session:
        for task in names:
            with quiet_fast():
                data = build_query_task(split, task, cfg)
                for s in QUERY_SPLITS:
                    save(data[s], text_dir(run) / task / s)
            counts[task] = {s: len(data[s]) for s in QUERY_SPLITS}
    w = session["writer"]
    wrote = w is not None and hasattr(w, "stats") and not w.dry_run
    record = GeneratedText(format=1, dataset=split.dataset.name, split_fingerprint=split_fingerprint(split),
                           tasks=tuple(names), splits=tuple(QUERY_SPLITS), counts=counts,
                           settings=dataclasses.asdict(cfg), columns=tuple(FEATURES),
                           writer={"name": w.name, "endpoint": w.endpoint, **w.stats} if wrote else None,
                           path=manifest_path)
    if wrote:
        w.echo(w.report())
    record.write()
    return record


def load_queries(run_dir: str | Path | RunDir, task: str, which: str) -> datasets.Dataset:
    """One materialized split of a query task the manifest lists."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    d = text_dir(run) / task / which
    if not (text_dir(run) / "manifest.json").is_file() or not d.is_dir():
        raise RecalignError(f"query task {task!r} ({which}) was not generated here: run "
                            "`recalign train-embedder` (it generates the query tasks first)", path=d)
    state = d / "state.json"
    if state.is_file() and not json.loads(state.read_text()).get("_data_files"):
        return datasets.Dataset.from_dict({k: [] for k in FEATURES}, features=FEATURES)  # 0 rows: no Arrow file
    return datasets.load_from_disk(str(d))


__all__ = ["FEATURES", "QUERY_SPLITS", "generate_queries", "build_query_task", "load_queries", "embed_dir",
           "text_dir", "task_names"]

"""Materialize tasks as Hugging Face datasets: ``RUN/text/<task>/<split>/`` (Arrow,
``save_to_disk``, written atomically) and ``RUN/text/manifest.json``.

Splits: ``train`` (each example with one seeded random *seen* template), ``valid`` and
``test`` (one example per user, a random seen template), ``valid_unseen`` and
``test_unseen`` (the very same examples with a random *unseen* template).

Columns (every task, every row): input, target, _task, _template_id, _template_split,
user, target_item, candidates, history, rating (see ``FEATURES``).

>>> manifest = generate(split, ["retrieval"], "runs/x")                 # doctest: +SKIP
>>> load_task_data("runs/x", "retrieval", "test")[0]["target"]          # doctest: +SKIP
'Star Wars'
"""
from __future__ import annotations

import dataclasses
import gc
import json
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Sequence

import datasets
import pyarrow as pa

from ..atomic import atomic_path, write_json
from ..data import Split
from ..errors import RecalignError, nearest
from ..prompts import Template, load_templates
from .config import GenerateConfig
from .examples import Meta
from .registry import TASKS
from .sampling import cap_rows, task_rng

SPLITS = ("train", "valid", "test", "valid_unseen", "test_unseen")
FEATURES = datasets.Features({
    "input": datasets.Value("string"), "target": datasets.Value("string"),
    "_task": datasets.Value("string"), "_template_id": datasets.Value("string"),
    "_template_split": datasets.Value("string"), "user": datasets.Value("string"),
    "target_item": datasets.Value("string"), "candidates": datasets.List(datasets.Value("string")),
    "history": datasets.List(datasets.Value("string")), "rating": datasets.Value("float64"),
})
_SCHEMA = FEATURES.arrow_schema


def render_rows(rows: Sequence[tuple[object, Meta]], templates: list[Template], task: str,
                rnd) -> dict[str, list]:
    """Render every example with a seeded random template of ``templates`` → columns."""
    if not templates:
        raise RecalignError(f"task {task!r} has no templates for this split")
    fns = [t.compile() for t in templates]
    k = len(templates)
    choice = [rnd.randrange(k) for _ in range(len(rows))]
    inputs, targets = [], []
    for (ex, _), c in zip(rows, choice):
        ctx = vars(ex)
        fin, ftg = fns[c]
        try:
            inputs.append(fin(ctx).strip())
            targets.append(ftg(ctx).strip())
        except Exception:  # noqa: BLE001 — re-render to get the error with file/id/line
            templates[c].render(ex)
            raise
    split = templates[0].split
    return {"input": inputs, "target": targets, "_task": [task] * len(rows),
            "_template_id": [templates[c].id for c in choice], "_template_split": [split] * len(rows)}


def meta_columns(rows: Sequence[tuple[object, Meta]]) -> dict[str, list]:
    metas = [m for _, m in rows]
    return {"user": [m.user for m in metas], "target_item": [m.target_item for m in metas],
            "candidates": [m.candidates for m in metas], "history": [m.history for m in metas],
            "rating": [m.rating for m in metas]}


def to_dataset(columns: dict[str, list]) -> datasets.Dataset:
    """Columns → Dataset through pyarrow directly (no per-row Python encoding).

    A fresh random fingerprint is given: without one, ``datasets`` hashes the whole table by
    pickling it (≈ 20% of generation time at 10× ml-100k, growing with the table).
    """
    table = pa.Table.from_pydict({k: columns[k] for k in FEATURES}, schema=_SCHEMA)
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=FEATURES), fingerprint=uuid.uuid4().hex)


@contextmanager
def quiet_fast():
    """No cyclic GC while millions of small objects are built (5x faster builds: they
    hold no cycles), and no per-save progress bars from datasets."""
    was_gc, was_bar = gc.isenabled(), datasets.is_progress_bar_enabled()
    gc.disable()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_gc:
            gc.enable()
        if was_bar:
            datasets.enable_progress_bars()


def task_dir(run_dir: str | Path, task: str, split: str) -> Path:
    return Path(run_dir) / "text" / task / split


def save(ds: datasets.Dataset, path: Path, jsonl: bool = False) -> None:
    """``save_to_disk`` into a temporary directory, then rename (atomic).

    With ``jsonl`` also write ``<split>.jsonl``; without it remove a ``<split>.jsonl``
    left by an earlier run, which would no longer match the Arrow data.
    """
    with atomic_path(path, directory=True) as tmp:
        ds.save_to_disk(str(tmp))
    if jsonl:
        with atomic_path(path.with_suffix(".jsonl")) as tmp:
            ds.to_json(str(tmp), lines=True, force_ascii=False)
    else:
        path.with_suffix(".jsonl").unlink(missing_ok=True)


def _task_folders(root: Path) -> list[str]:
    """Folders of ``root`` (RUN/text) that hold generated task splits."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and any((p / s).is_dir() for s in SPLITS))


def _previous_tasks(root: Path, fingerprint: str, tasks: Sequence[str]) -> tuple[dict, list[str]]:
    """What to keep of an earlier ``generate`` into the same RUN/text.

    Returns ``(kept, stale)``: ``kept`` maps each task *not* being regenerated now that
    the previous manifest lists, whose folder exists and which was generated from this
    very split (same ``split_fingerprint``), to its previous manifest entries; ``stale``
    lists the other task folders not being regenerated (made from another split, or
    not verifiable): they must go, since training reads every folder in RUN/text.
    """
    old: dict = {}
    p = root / "manifest.json"
    if p.is_file():
        try:
            old = json.loads(p.read_text())
        except (OSError, ValueError):
            old = {}
    same_split = old.get("split_fingerprint") == fingerprint
    kept = {}
    for t in old.get("tasks", []) if same_split else []:
        if t in tasks or not (root / t).is_dir() or t not in old.get("counts", {}):
            continue
        kept[t] = {"counts": old["counts"][t], "templates": old.get("templates", {}).get(t),
                   "generated_with": old.get("generated_with", {}).get(t) or {
                       k: old.get(k) for k in ("seed", "settings", "templates_dirs", "jsonl")}}
    stale = [t for t in _task_folders(root) if t not in tasks and t not in kept]
    return kept, stale


def split_templates(templates: list[Template], task: str) -> dict[str, list[Template]]:
    out = {s: [t for t in templates if t.split == s] for s in ("seen", "unseen")}
    for s, ts in out.items():
        if not ts:
            raise RecalignError(f"task {task!r} needs at least one {s} template (none found)")
    return out


def build_task(split: Split, task: str, cfg: GenerateConfig, templates: list[Template],
               users: Iterable[str] | None = None) -> dict[str, datasets.Dataset]:
    """All five splits of one task, in memory."""
    t = TASKS.get(task)
    temps = split_templates(templates, task)
    users = list(users) if users is not None else None
    out = {}
    for which in ("train", "valid", "test"):
        rows = t.build(split, which, cfg, users=users)
        if which == "train":
            rows = cap_rows(rows, cfg.max_train_examples.get(task), task_rng(cfg.seed, task, which, "cap"))
        meta = meta_columns(rows)
        out[which] = to_dataset({**meta, **render_rows(rows, temps["seen"], task,
                                                       task_rng(cfg.seed, task, which, "seen"))})
        if which != "train":
            out[f"{which}_unseen"] = to_dataset({**meta, **render_rows(
                rows, temps["unseen"], task, task_rng(cfg.seed, task, which, "unseen"))})
    return out


def generate(split: Split, tasks: Sequence[str], out_dir: str | Path, config: GenerateConfig | None = None,
             templates_dir: str | Path | Sequence[str | Path] | None = None, jsonl: bool = False,
             users: Iterable[str] | None = None) -> dict:
    """Build, render and write ``tasks`` into ``out_dir/text``; returns the manifest.

    Re-generating into an existing ``out_dir/text`` only rewrites ``tasks``. Training
    reads *every* task folder there (``t5_finetune.data.available_tasks``), so the other
    folders must stay consistent with the data and the manifest must describe them:
    a task folder generated earlier from the same split (equal ``split_fingerprint``)
    is kept and stays listed in the manifest (``tasks``, ``counts``, ``templates`` and
    ``generated_with``, the per-task seed/settings/templates_dirs/jsonl, are merged;
    the top-level ``seed``/``settings``/``jsonl`` describe this call); a folder made
    from another split, or one no manifest vouches for, is removed (``removed_stale``).
    Without ``jsonl``, ``<split>.jsonl`` files of the rewritten splits are removed.
    """
    from tqdm.auto import tqdm

    cfg = config or GenerateConfig()
    tasks = list(dict.fromkeys(tasks))
    if not tasks:
        raise RecalignError("no tasks given", field="tasks")
    for t in tasks:
        TASKS.get(t)
    dirs = [templates_dir] if isinstance(templates_dir, (str, Path)) else list(templates_dir or [])
    templates = {t: load_templates(t, dirs) for t in tasks}  # validate everything before heavy work
    for t in tasks:
        split_templates(templates[t], t)
    root = Path(out_dir) / "text"
    from ..eval.metrics import split_fingerprint     # one fingerprint for data, results and text

    fingerprint = split_fingerprint(split)
    kept, stale = _previous_tasks(root, fingerprint, tasks)
    # the manifest marks a complete RUN/text: remove it while folders change underneath
    (root / "manifest.json").unlink(missing_ok=True)
    for t in stale:
        shutil.rmtree(root / t)  # its <split>.jsonl files live inside it
    counts: dict[str, dict[str, int]] = {}
    for task in tqdm(tasks, desc="generate", unit="task", disable=not cfg.progress):
        with quiet_fast():
            data = build_task(split, task, cfg, templates[task], users)
            for s in SPLITS:
                save(data[s], task_dir(out_dir, task, s), jsonl)
        counts[task] = {s: len(data[s]) for s in SPLITS}
        del data
    now = {"seed": cfg.seed, "settings": dataclasses.asdict(cfg), "templates_dirs": [str(d) for d in dirs],
           "jsonl": jsonl}
    manifest = {
        "format": 1,
        "dataset": split.dataset.name,
        "split_fingerprint": fingerprint,
        "tasks": list(kept) + tasks,
        "seed": cfg.seed,
        "splits": list(SPLITS),
        "counts": {**{t: k["counts"] for t, k in kept.items()}, **counts},
        "templates": {**{t: k["templates"] for t, k in kept.items()},
                      **{t: {s: [x.id for x in templates[t] if x.split == s] for s in ("seen", "unseen")}
                         for t in tasks}},
        "templates_dirs": now["templates_dirs"],
        "settings": now["settings"],
        "columns": list(FEATURES),
        "jsonl": jsonl,
        "generated_with": {**{t: k["generated_with"] for t, k in kept.items()}, **{t: now for t in tasks}},
        "removed_stale": stale,
    }
    write_json(root / "manifest.json", manifest)
    return manifest


def load_manifest(run_dir: str | Path) -> dict:
    p = Path(run_dir) / "text" / "manifest.json"
    if not p.is_file():
        raise RecalignError("no generated text here (manifest.json missing): run `recalign generate` first", path=p)
    return json.loads(p.read_text())


def load_task_data(run_dir: str | Path, task: str, split: str) -> datasets.Dataset:
    """One materialized task split (``datasets.load_from_disk``)."""
    if split not in SPLITS:
        raise RecalignError(f"unknown split {split!r} (known: {', '.join(SPLITS)}).{nearest(split, SPLITS)}")
    d = task_dir(run_dir, task, split)
    if not d.is_dir():
        have = sorted(p.name for p in (Path(run_dir) / "text").iterdir() if p.is_dir()) \
            if (Path(run_dir) / "text").is_dir() else []
        raise RecalignError(f"task {task!r} was not generated here (have: {', '.join(have) or 'none'})."
                            f"{nearest(task, have)}", path=d)
    state = d / "state.json"
    if state.is_file() and not json.loads(state.read_text()).get("_data_files"):
        # an empty split is saved without any Arrow file, which load_from_disk cannot read back
        return datasets.Dataset.from_dict({k: [] for k in FEATURES}, features=FEATURES)
    return datasets.load_from_disk(str(d))

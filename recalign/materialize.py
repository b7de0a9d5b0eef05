"""Materialize tasks as Hugging Face datasets: ``RUN/text/<task>/<split>/`` (Arrow,
``save_to_disk``, written atomically) and ``RUN/text/manifest.json``, the list of what was
generated: training and evaluation read the tasks it lists, never the folders.

Splits: ``train`` (each example with one seeded random *seen* template), ``valid`` and
``test`` (one example per user, a random seen template), ``valid_unseen`` and
``test_unseen`` (the very same examples with a random *unseen* template).

Columns (every task, every row): input, target, _task, _template_id, _template_split,
user, target_item, candidates, history, rating (see ``FEATURES``).

>>> import tempfile
>>> from recalign.data import leave_one_out, load_dataset
>>> from recalign.tasks import GenerateConfig
>>> split, run = leave_one_out(load_dataset("ml-100k")), tempfile.mkdtemp()
>>> generate(split, ["retrieval"], run, GenerateConfig(progress=False), users=split.users[:3]).counts
{'retrieval': {'train': 408, 'valid': 3, 'test': 3, 'valid_unseen': 3, 'test_unseen': 3}}
>>> load_task_data(run, "retrieval", "test")[0]["target"]
'Starship Troopers'
"""
from __future__ import annotations

import dataclasses
import gc
import json
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Sequence

import datasets
import pyarrow as pa

from .progress import bars
from .atomic_io import atomic_path
from .data import Split
from .data.fingerprint import split_fingerprint
from .errors import RecalignError, nearest
from .prompts import Template
from .generated_text import GeneratedText
from .run_dir import RunDir, fingerprint
from .tasks import TASKS, GenerateConfig, Meta, load_templates
from .tasks.fit import SourceFit, load_counter
from .tasks.items import ItemRule, ItemWriter
from .tasks.layout import decoder_items, encoder_example, join_decoder
from .tasks.sampling import cap_rows, task_rng

TEXT_SPLITS = ("train", "valid", "test", "valid_unseen", "test_unseen")
FEATURES = datasets.Features({
    "input": datasets.Value("string"), "target": datasets.Value("string"),
    "_task": datasets.Value("string"), "_template_id": datasets.Value("string"),
    "_template_split": datasets.Value("string"), "user": datasets.Value("string"),
    "target_item": datasets.Value("string"), "candidates": datasets.List(datasets.Value("string")),
    "history": datasets.List(datasets.Value("string")), "rating": datasets.Value("float64"),
})
_SCHEMA = FEATURES.arrow_schema


def render_rows(rows: Sequence[tuple[object, Meta]], templates: list[Template], task: str,
                rnd, fit: SourceFit | None = None, post: Callable[[str], str] | None = None) -> dict[str, list]:
    """Render every example with a seeded random template of ``templates`` → columns. With
    ``fit``, an input over the source budget is re-rendered without its oldest history items
    (``tasks/fit.py``; ``Meta.history`` still lists every item the example was built from).
    ``post`` rewrites every rendered input (the item rule's ``post_render``), before fitting."""
    if not templates:
        raise RecalignError(f"task {task!r} has no templates for this split")
    fns = [t.compile() for t in templates]
    if post is not None:
        fns = [(lambda ctx, f=fin: post(f(ctx)), ftg) for fin, ftg in fns]
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
    for i in fit.over_budget(inputs) if fit is not None else ():   # counted in one batch, refitted one by one
        fin, ftg = fns[choice[i]]
        ex, inputs[i], _ = fit.shorten(rows[i][0], lambda e, f=fin: f(vars(e)).strip())
        targets[i] = ftg(vars(ex)).strip()
    split = templates[0].split
    return {"input": inputs, "target": targets, "_task": [task] * len(rows),
            "_template_id": [templates[c].id for c in choice], "_template_split": [split] * len(rows)}


def render_task_rows(rows: Sequence[tuple[object, Meta]], templates: list[Template], task: str, rnd,
                     cfg: GenerateConfig, fit: SourceFit | None = None) -> dict[str, list]:
    """``render_rows`` under the run's settings: the item rule's ``post_render`` and, for a task of
    ``cfg.decoder_history``, the decoder layout (``tasks/layout.py``: the template renders the history as
    ``[history]``; the history's items follow ``<|decoder|>``). What ``generate`` and every preview use."""
    post = ItemRule.from_config(cfg).post_render()
    if task not in (getattr(cfg, "decoder_history", None) or ()):
        return render_rows(rows, templates, task, rnd, fit, post)
    cols = render_rows([(encoder_example(ex), m) for ex, m in rows], templates, task, rnd, fit, post)
    cols["input"] = [join_decoder(x, decoder_items(ex)) for x, (ex, _) in zip(cols["input"], rows)]
    return cols


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


def split_templates(templates: list[Template], task: str) -> dict[str, list[Template]]:
    out = {s: [t for t in templates if t.split == s] for s in ("seen", "unseen")}
    for s, ts in out.items():
        if not ts:
            raise RecalignError(f"task {task!r} needs at least one {s} template (none found)")
    return out


def build_task(split: Split, task: str, cfg: GenerateConfig, templates: list[Template],
               users: Iterable[str] | None = None, count: Callable[[str], int] | None = None,
               fitted: dict | None = None) -> dict[str, datasets.Dataset]:
    """All five splits of one task, in memory. With ``count`` (a token counter) and
    ``cfg.max_source_tokens``, inputs are fitted to the budget; ``fitted[split]`` gets the counts."""
    fits = {s: SourceFit(cfg.max_source_tokens, count) for s in TEXT_SPLITS} \
        if count is not None and cfg.max_source_tokens else dict.fromkeys(TEXT_SPLITS)
    t = TASKS.get(task)
    temps = split_templates(templates, task)
    users = list(users) if users is not None else None
    out = {}
    for which in ("train", "valid", "test"):
        rows = t.build(split, which, cfg, users=users)
        if which == "train":
            rows = cap_rows(rows, cfg.max_train_examples.get(task), task_rng(cfg.seed, task, which, "cap"))
        meta = meta_columns(rows)
        out[which] = to_dataset({**meta, **render_task_rows(rows, temps["seen"], task,
                                                            task_rng(cfg.seed, task, which, "seen"), cfg, fits[which])})
        if which != "train":
            out[f"{which}_unseen"] = to_dataset({**meta, **render_task_rows(
                rows, temps["unseen"], task, task_rng(cfg.seed, task, which, "unseen"), cfg, fits[f"{which}_unseen"])})
    if fitted is not None:
        fitted.update({s: f.stats() for s, f in fits.items() if f is not None})
    return out


def source_counter(cfg: GenerateConfig, run: RunDir, split: Split) -> tuple[Callable[[str], int] | None, dict]:
    """The token counter of the source budget and what the manifest says about it: the tokenizer
    is ``cfg.source_tokenizer`` or ``RUN/tokenizer``; without either nothing is fitted (a preset
    trains its tokenizer in ``train``: generate again after it to fit its inputs)."""
    if not cfg.max_source_tokens:
        return None, {}
    path = cfg.source_tokenizer or (str(run.tokenizer) if (run.tokenizer / "tokenizer_config.json").is_file() else "")
    if not path:
        return None, {"budget": cfg.max_source_tokens, "tokenizer": None,
                      "note": "no tokenizer to count with (set source_tokenizer, or generate again after "
                              "`train` wrote RUN/tokenizer): inputs not fitted"}
    count = load_counter(path, ItemWriter.for_split(split, cfg).tokens())
    return count, {"budget": cfg.max_source_tokens, "tokenizer": path}


def templates_fingerprint(tasks: Sequence[str], templates_dirs: Sequence[str | Path] = ()) -> dict[str, str]:
    """Per task, a hash of every template it would be rendered with (text, split and metadata)."""
    dirs = list(templates_dirs)
    return {t: fingerprint([x.to_dict() for x in load_templates(t, dirs)]) for t in tasks}


def generate(split: Split, tasks: Sequence[str], out_dir: str | Path | RunDir,
             config: GenerateConfig | None = None,
             templates_dir: str | Path | Sequence[str | Path] | None = None, jsonl: bool = False,
             users: Iterable[str] | None = None) -> GeneratedText:
    """Build, render and write ``tasks`` into ``RUN/text``; returns the record (``GeneratedText``).

    The manifest (written last; removed while folders change) lists what RUN/text holds for
    training and evaluation. Re-generating into an existing RUN/text rewrites ``tasks``; a task
    of the previous manifest that is not regenerated stays listed only when it was generated
    from this very split (equal ``split_fingerprint``; its ``generated_with`` entry keeps its
    own seed/settings/templates). Folders no manifest lists are never read (``load_task_data``
    refuses them). Without ``jsonl``, ``<split>.jsonl`` files of the rewritten splits are removed.
    """
    from tqdm.auto import tqdm

    run = out_dir if isinstance(out_dir, RunDir) else RunDir(out_dir)
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
    split_fp = split_fingerprint(split)
    old = run.generated_text() if run.has_manifest() else None
    same_split = old is not None and old.split_fingerprint == split_fp
    kept = [t for t in (old.tasks if old else ()) if same_split and t not in tasks and run.task_dir(t).is_dir()]
    # the manifest marks a complete RUN/text: remove it while folders change underneath
    run.manifest_path.unlink(missing_ok=True)
    counts: dict[str, dict[str, int]] = {}
    count, fit_info = source_counter(cfg, run, split)
    for task in tqdm(tasks, desc="generate", unit="task", disable=not bars(cfg.progress)):
        with quiet_fast():
            fitted: dict = {}
            data = build_task(split, task, cfg, templates[task], users, count, fitted)
            if fitted:
                fit_info.setdefault("tasks", {})[task] = fitted
            for s in TEXT_SPLITS:
                save(data[s], run.task_split(task, s), jsonl)
        counts[task] = {s: len(data[s]) for s in TEXT_SPLITS}
        del data
    now = {"seed": cfg.seed, "settings": dataclasses.asdict(cfg), "templates_dirs": [str(d) for d in dirs],
           "jsonl": jsonl}
    tfp = {t: fingerprint([x.to_dict() for x in templates[t]]) for t in tasks}
    prev = old or GeneratedText(tasks=())
    record = GeneratedText(
        format=2,
        dataset=split.dataset.name,
        split_fingerprint=split_fp,
        tasks=tuple(kept + tasks),
        seed=cfg.seed,
        splits=tuple(TEXT_SPLITS),
        counts={**{t: prev.counts[t] for t in kept}, **counts},
        templates={**{t: (prev.templates or {}).get(t) for t in kept},
                   **{t: {s: [x.id for x in templates[t] if x.split == s] for s in ("seen", "unseen")}
                      for t in tasks}},
        templates_fingerprint={**{t: (prev.templates_fingerprint or {}).get(t) for t in kept}, **tfp},
        templates_dirs=tuple(now["templates_dirs"]),
        settings=now["settings"],
        columns=tuple(FEATURES),
        jsonl=jsonl,
        generated_with={**{t: (prev.generated_with or {}).get(t) for t in kept}, **{t: now for t in tasks}},
        fit=fit_info,
        path=run.manifest_path,
    )
    record.write()
    return record


def load_task_data(run_dir: str | Path | RunDir, task: str, split: str) -> datasets.Dataset:
    """One materialized task split (``datasets.load_from_disk``) of a task the manifest lists.

    A folder the manifest does not list (left by an earlier ``generate`` from other data) is
    refused; without any manifest (hand-made test directories) the folder is read as it is.
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if split not in TEXT_SPLITS:
        raise RecalignError(f"unknown split {split!r} (known: {', '.join(TEXT_SPLITS)})."
                            f"{nearest(split, TEXT_SPLITS)}")
    d = run.task_split(task, split)
    listed = run.generated_tasks() if run.has_manifest() else None
    if listed is not None and task not in listed:
        raise RecalignError(f"task {task!r} is not in the manifest (generated here: {', '.join(listed) or 'none'})."
                            f"{nearest(task, listed)}", path=run.manifest_path)
    if not d.is_dir():
        raise RecalignError(f"task {task!r} was not generated here (no {split} split): run `recalign generate`",
                            path=d)
    state = d / "state.json"
    if state.is_file() and not json.loads(state.read_text()).get("_data_files"):
        # an empty split is saved without any Arrow file, which load_from_disk cannot read back
        return datasets.Dataset.from_dict({k: [] for k in FEATURES}, features=FEATURES)
    return datasets.load_from_disk(str(d))

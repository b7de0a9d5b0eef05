"""Training data: the task mixture from ``RUN/text``, per-task valid sets, tokenization.

``RUN/text/<task>/<split>/`` holds one ``datasets`` dataset per task and split (written by
the generators) with columns ``input``, ``target``, ``_task``, ``_template_id``, … .
After ``tokenize`` a dataset has ``input_ids``, ``attention_mask``, ``labels`` and ``length``
(the input length, used to group batches of similar length).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from ..errors import RecalignError
from .config import MixtureSpec

log = logging.getLogger(__name__)
MODEL_COLUMNS = ["input_ids", "attention_mask", "labels", "length"]


def available_tasks(run_dir: str | Path) -> list[str]:
    d = Path(run_dir) / "text"
    return sorted(p.name for p in d.iterdir() if (p / "train").is_dir()) if d.is_dir() else []


def load_task(run_dir: str | Path, task: str, split: str):
    """One task's materialized split (through the generators' loader when installed)."""
    try:
        from ..generators import load_task_data
    except ImportError:
        load_task_data = None
    if load_task_data is not None:
        return load_task_data(run_dir, task, split)
    import datasets

    path = Path(run_dir) / "text" / task / split
    if not path.is_dir():
        raise RecalignError(f"no materialized data for task {task!r}, split {split!r}: run "
                            "`recalign generate` first", path=path)
    return datasets.load_from_disk(str(path))


def resolve_tasks(spec: MixtureSpec, run_dir: str | Path) -> list[str]:
    tasks = list(spec.tasks) or available_tasks(run_dir)
    if not tasks:
        raise RecalignError(f"no tasks to train on: {Path(run_dir) / 'text'} holds no materialized task "
                            "(run `recalign generate`) and mixture.tasks is empty", field="mixture.tasks")
    return tasks


def load_mixture(spec: MixtureSpec, run_dir: str | Path, seed: int = 0):
    """The shuffled training mixture (``recalign.generators.mixture.mix``)."""
    tasks = resolve_tasks(spec, run_dir)
    parts = {t: load_task(run_dir, t, "train") for t in tasks}
    empty = [t for t, d in parts.items() if len(d) == 0]
    if len(empty) == len(parts):
        raise RecalignError(f"no training examples: the train split of every task ({', '.join(tasks)}) is "
                            "empty — the users' train sequences are too short for these tasks (filter "
                            "with --user-k, or use a dataset with longer histories)",
                            path=Path(run_dir) / "text")
    if empty:
        log.warning("no training examples for %s: left out of the mixture", ", ".join(empty))
        parts = {t: d for t, d in parts.items() if len(d)}
        tasks = list(parts)
    try:
        from ..generators.mixture import MixtureConfig, mix
    except ImportError:  # generators not installed: every example once, shuffled
        import datasets

        log.warning("recalign.generators.mixture unavailable: using every training example once")
        ds = datasets.concatenate_datasets(list(parts.values())).shuffle(seed=seed)
        return ds.select(range(min(len(ds), spec.total))) if spec.total else ds
    mcfg = MixtureConfig(tasks=tasks, strategy=spec.strategy, rates=dict(spec.rates), cap=spec.cap,
                         temperature=spec.temperature)
    return mix(parts, mcfg, seed=seed, total=spec.total)


def load_eval_sets(spec: MixtureSpec, run_dir: str | Path, max_examples: int | None, seed: int = 0) -> dict:
    """``{task: valid dataset}``, each capped at ``max_examples`` (a seeded sample)."""
    out = {}
    for t in resolve_tasks(spec, run_dir):
        try:
            ds = load_task(run_dir, t, "valid")
        except RecalignError:
            continue
        if max_examples is not None and len(ds) > max_examples:
            ds = ds.shuffle(seed=seed).select(range(max_examples))
        if len(ds):
            out[t] = ds
    return out


def tokenizer_texts(run_dir: str | Path, train_ds) -> Iterator[str]:
    """What a preset's tokenizer is trained on: every item title (all fields' text when a
    prepared split is there) and the rendered train inputs and targets."""
    try:
        from ..data import load_split

        split = load_split(run_dir)
    except (RecalignError, FileNotFoundError, ImportError):
        split = None
    if split is not None:
        for it in split.items.values():
            yield it.title
            yield from (v for v in it.fields.values() if isinstance(v, str) and v)
    for batch in train_ds.select_columns(["input", "target"]).iter(batch_size=1000):
        yield from batch["input"]
        yield from batch["target"]


def tokenize(ds, tokenizer, max_source_length: int, max_target_length: int, num_proc: int | None = None):
    """Tokenize ``input``/``target`` (truncated, unpadded) into the model columns only."""

    def enc(batch):
        x = tokenizer(batch["input"], max_length=max_source_length, truncation=True)
        y = tokenizer(text_target=batch["target"], max_length=max_target_length, truncation=True)
        return {"input_ids": x["input_ids"], "attention_mask": x["attention_mask"],
                "labels": y["input_ids"], "length": [len(i) for i in x["input_ids"]]}

    drop = [c for c in ds.column_names if c not in MODEL_COLUMNS]
    return ds.map(enc, batched=True, batch_size=1000, remove_columns=drop, keep_in_memory=True,
                  num_proc=num_proc, desc="tokenize")

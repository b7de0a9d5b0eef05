"""Training data: the task mixture from ``RUN/text``, per-task valid sets, tokenization.

``RUN/text/manifest.json`` lists the generated tasks (training reads it, never the folders);
``RUN/text/<task>/<split>/`` holds one ``datasets`` dataset per task and split (written by
``recalign.materialize``) with columns ``input``, ``target``, ``_task``, ``_template_id``, … .
After ``tokenize`` a dataset has ``input_ids``, ``attention_mask``, ``labels`` and ``length``
(the input length, used to group batches of similar length).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from ..errors import RecalignError
from ..materialize import load_task_data
from ..run_dir import RunDir
from .config import MixtureSpec
from .mixture import MixtureConfig, mix

log = logging.getLogger(__name__)
MODEL_COLUMNS = ["input_ids", "attention_mask", "labels", "length"]


def resolve_tasks(spec: MixtureSpec, run_dir: str | Path) -> list[str]:
    """``mixture.tasks``, or every task ``RUN/text/manifest.json`` lists (folders are never scanned)."""
    run = RunDir(run_dir)
    if spec.tasks:
        return list(spec.tasks)
    tasks = run.generated_tasks()          # raises one line when no manifest is there
    if not tasks:
        raise RecalignError("no tasks to train on: the manifest lists none (run `recalign generate`) and "
                            "mixture.tasks is empty", path=run.manifest_path)
    return tasks


def load_mixture(spec: MixtureSpec, run_dir: str | Path, seed: int = 0, max_examples: int | None = None):
    """The shuffled training mixture (``recalign.t5_finetune.mixture.mix``), at most ``max_examples``
    (what the step budget can consume: ``consumable_examples``)."""
    tasks = resolve_tasks(spec, run_dir)
    parts = {t: load_task_data(run_dir, t, "train") for t in tasks}
    empty = [t for t, d in parts.items() if len(d) == 0]
    if len(empty) == len(parts):
        raise RecalignError(f"no training examples: the train split of every task ({', '.join(tasks)}) is "
                            "empty — the users' train sequences are too short for these tasks (filter "
                            "with --user-k, or use a dataset with longer histories)",
                            path=RunDir(run_dir).text)
    if empty:
        log.warning("no training examples for %s: left out of the mixture", ", ".join(empty))
        parts = {t: d for t, d in parts.items() if len(d)}
        tasks = list(parts)
    mcfg = MixtureConfig(tasks=tasks, strategy=spec.strategy, rates=dict(spec.rates), cap=spec.cap,
                         temperature=spec.temperature)
    return mix(parts, mcfg, seed=seed, total=spec.total, max_total=max_examples)


def consumable_examples(max_steps: int, batch_size: int, accumulation: int = 1, world_size: int = 1) -> int | None:
    """Examples ``max_steps`` optimizer steps can consume (None without a step count: epochs decide).

    >>> consumable_examples(3000, 256), consumable_examples(-1, 32)
    (768000, None)
    """
    if not max_steps or max_steps <= 0:
        return None
    return int(max_steps) * int(batch_size) * max(1, int(accumulation)) * max(1, int(world_size))


def text_for_training(ds):
    """The mixture kept as text for on-the-fly tokenization (``Seq2SeqCollator`` tokenizes each
    batch): ``input``, ``target`` and ``length`` = the input's characters (the grouping key of
    ``group_by_length``; tokens are not counted up front). Training starts at once, however
    large the mixture, and only what the steps consume is ever tokenized."""
    import pyarrow.compute as pc

    ds = ds.select_columns(["input", "target"])
    table = ds.data.table if ds._indices is None else ds.flatten_indices().data.table
    return ds.add_column("length", pc.utf8_length(table.column("input")).to_pylist())


def load_eval_sets(spec: MixtureSpec, run_dir: str | Path, max_examples: int | None, seed: int = 0) -> dict:
    """``{task: valid dataset}``, each capped at ``max_examples`` (a seeded sample)."""
    out = {}
    for t in resolve_tasks(spec, run_dir):
        try:
            ds = load_task_data(run_dir, t, "valid")
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
    run = RunDir(run_dir)
    split = run.split() if run.has_split() else None
    if split is not None:
        for it in split.items.values():
            yield it.title
            yield from (v for v in it.fields.values() if isinstance(v, str) and v)
    for batch in train_ds.select_columns(["input", "target"]).iter(batch_size=1000):
        yield from batch["input"]
        yield from batch["target"]


def tokenize(ds, tokenizer, max_source_length: int, max_target_length: int, num_proc: int | None = None):
    """Tokenize ``input``/``target`` (truncated, unpadded) into the model columns only."""

    from .collator import encode_pairs

    def enc(batch):
        return encode_pairs(tokenizer, batch["input"], batch["target"], max_source_length, max_target_length)

    drop = [c for c in ds.column_names if c not in MODEL_COLUMNS]
    return ds.map(enc, batched=True, batch_size=1000, remove_columns=drop, keep_in_memory=True,
                  num_proc=num_proc, desc="tokenize")

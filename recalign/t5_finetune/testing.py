"""Test helpers (also for downstream tests): a tiny materialized run directory and a tiny config.

``make_run(RUN)`` writes ``RUN/text/<task>/{train,valid}/`` and ``RUN/text/manifest.json`` the
way ``recalign generate`` does, with made-up rows; task names are checked against the registry
and a task's answer format decides the kind of target (an item title, or a rating).

>>> import tempfile
>>> run = make_run(Path(tempfile.mkdtemp()) / "run", n_train=4, n_valid=2)
>>> json.loads((run / "text" / "manifest.json").read_text())["tasks"]
['retrieval', 'rating']
>>> cfg = tiny_config(max_steps=2)
>>> cfg.model, cfg.trainer["max_steps"], cfg.mixture.tasks
('t5-tiny', 2, ['retrieval', 'rating'])
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from ..atomic_io import write_json
from ..config import from_dict
from ..tasks import TASKS
from ..tasks.base import FREE_TEXT, ITEM_TEXT
from .config import TrainConfig

TITLES = ["Toy Story", "Heat", "Alien", "Fargo", "Matrix, The", "Hamlet (1996)", "Hamlet (1948)", "Babe",
          "Amélie", "Crying Game, The", "Twelve Monkeys", "Usual Suspects, The"]


def make_task(task: str, n: int, seed: int):
    import datasets   # lazy: heavy

    item_target = TASKS.get(task).answer in (ITEM_TEXT, FREE_TEXT)   # else a rating
    rng = random.Random(seed)
    rows = {k: [] for k in ["input", "target", "_task", "_template_id", "_template_split", "user", "target_item",
                            "candidates", "history", "rating"]}
    for i in range(n):
        hist = rng.sample(TITLES, rng.randint(1, 6))
        tgt = rng.choice([t for t in TITLES if t not in hist])
        if not item_target:
            inp, out = f"How would a user who liked {', '.join(hist)} rate {tgt}?", str(rng.randint(1, 5))
        else:
            inp, out = f"A user watched {', '.join(hist)}. What will they watch next?", tgt
        rows["input"].append(inp)
        rows["target"].append(out)
        rows["_task"].append(task)
        rows["_template_id"].append(f"{task}-{i % 2}")
        rows["_template_split"].append("seen")
        rows["user"].append(f"u{i}")
        rows["target_item"].append(tgt)
        rows["candidates"].append([tgt, *rng.sample(TITLES, 2)])
        rows["history"].append(hist)
        rows["rating"].append(float(rng.randint(1, 5)))
    return datasets.Dataset.from_dict(rows)


def make_run(run: Path, tasks=("retrieval", "rating"), n_train: int = 48, n_valid: int = 12) -> Path:
    """RUN/text/<task>/{train,valid}/ for each task and the manifest listing them (``recalign
    generate``'s on-disk layout)."""
    for k, task in enumerate(tasks):
        for split, n in (("train", n_train), ("valid", n_valid)):
            make_task(task, n, seed=k * 10 + (split == "valid")).save_to_disk(str(run / "text" / task / split))
    write_json(run / "text" / "manifest.json", {"tasks": list(tasks), "splits": ["train", "valid"],
                                                "counts": {t: {"train": n_train, "valid": n_valid} for t in tasks}})
    return run


def tiny_config(**kw) -> TrainConfig:
    """A config that trains t5-tiny for 6 steps (eval and checkpoint every 3); ``kw`` overrides keys."""
    base = {"model": "t5-tiny", "vocab_size": 600, "max_steps": 6, "per_device_train_batch_size": 8,
            "per_device_eval_batch_size": 16, "learning_rate": 3e-3, "warmup_steps": 1, "eval_steps": 3,
            "save_steps": 3, "logging_steps": 1, "max_source_length": 64, "max_target_length": 16,
            "eval_max_examples": 8, "mixture": {"tasks": ["retrieval", "rating"]},
            "bf16": False}   # fp32 on any machine: the tests compare losses across save/load
    base.update(kw)
    return from_dict(TrainConfig, base)

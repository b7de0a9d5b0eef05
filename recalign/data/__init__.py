"""Data layer: readers, k-core filter, item text, the leakage-safe Split.

>>> from recalign.data import load_dataset, leave_one_out
>>> split = leave_one_out(load_dataset("ml-100k"))
>>> len(split.users), len(split.items)
(943, 1682)
>>> split.history("196", "test")[-3:], split.target("196", "test")
(('108', '1118', '94'), '110')
"""
from __future__ import annotations

from pathlib import Path

from .dataset import Dataset, Item
from .kcore import kcore
from .prepare import check_source, load_split, write_split
from .readers import FIELD_LIMITS, FieldLimits, read_atomic_dataset, resolve_dataset_dir
from .split import SPLITS, Split, UserSequence, leave_one_out
from .stats import dataset_stats, format_stats, split_stats

__all__ = ["Dataset", "Item", "FieldLimits", "FIELD_LIMITS", "Split", "UserSequence", "SPLITS", "load_dataset",
           "leave_one_out", "kcore", "load_split", "write_split", "check_source", "prepare", "dataset_stats", "split_stats", "format_stats"]


def load_dataset(name_or_path: str | Path, user_k: int = 0, item_k: int = 0,
                 limits: FieldLimits = FIELD_LIMITS) -> Dataset:
    """Load ``ml-100k`` (embedded), a RecBole atomic directory, or an Amazon
    directory converted by ``recalign data convert-amazon``; then k-core filter."""
    ds = read_atomic_dataset(name_or_path, limits)
    return kcore(ds, user_k, item_k)


def prepare(name_or_path: str | Path, run_dir: str | Path, user_k: int = 0, item_k: int = 0,
            min_interactions: int = 3, limits: FieldLimits = FIELD_LIMITS) -> Split:
    """Load, filter, split and write ``RUN/data``; returns the Split."""
    split = leave_one_out(load_dataset(name_or_path, user_k, item_k, limits), min_interactions)
    _, src = resolve_dataset_dir(name_or_path)
    write_split(split, Path(run_dir) / "data",
                source={"dataset": str(name_or_path), "path": str(src.resolve()), "user_k": user_k,
                        "item_k": item_k, "min_interactions": min_interactions})
    return split

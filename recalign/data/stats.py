"""Dataset and split statistics, printed with every result."""
from __future__ import annotations

import numpy as np

from .dataset import Dataset
from .split import Split


def dataset_stats(ds: Dataset) -> dict:
    n_u, n_i, n = ds.num_users, ds.num_items, len(ds)
    return {"dataset": ds.name, "users": n_u, "items": n_i, "interactions": n,
            "density": round(n / (n_u * n_i), 6) if n_u and n_i else 0.0}


def split_stats(split: Split) -> dict:
    """Users, items, interactions, density, sequence-length quantiles, split sizes,
    and the number of timestamp ties at the valid/test boundary."""
    lens = np.array([len(s.items) for s in split.sequences.values()])
    items = {i for s in split.sequences.values() for i in s.items}
    n_u, n_i, n = len(lens), len(items), int(lens.sum())
    q = np.quantile(lens, [0.0, 0.25, 0.5, 0.75, 0.9, 1.0])
    return {
        "dataset": split.dataset.name,
        "users": n_u, "items": n_i, "interactions": n,
        "density": round(n / (n_u * n_i), 6),
        "train_interactions": n - 2 * n_u, "valid_interactions": n_u, "test_interactions": n_u,
        "seq_len": {k: float(v) for k, v in zip(["min", "p25", "p50", "p75", "p90", "max"], q)},
        "seq_len_mean": round(float(lens.mean()), 2),
        "valid_test_timestamp_ties": split.boundary_ties(),
        "dropped_users": split.dropped_users,
        "dropped_repeats": split.dropped_repeats,
        "protocol": "leave-one-out by time (last=test, second-last=valid); timestamp ties keep file row order",
        "notes": list(split.notes),
    }


def format_stats(stats: dict) -> str:
    """Human-readable lines for ``recalign data info``."""
    lines = [f"dataset      {stats['dataset']}",
             f"users        {stats['users']:,}",
             f"items        {stats['items']:,}",
             f"interactions {stats['interactions']:,}",
             f"density      {stats['density']:.4%}"]
    if "seq_len" in stats:
        s = stats["seq_len"]
        lines += [f"split        train {stats['train_interactions']:,} / valid {stats['valid_interactions']:,}"
                  f" / test {stats['test_interactions']:,}",
                  "seq length   min {min:.0f}  p25 {p25:.0f}  median {p50:.0f}  p75 {p75:.0f}  p90 {p90:.0f}"
                  "  max {max:.0f}".format(**s) + f"  (mean {stats['seq_len_mean']})",
                  f"valid/test timestamp ties  {stats['valid_test_timestamp_ties']:,} users"
                  " (decided by file row order)",
                  f"dropped users (<3 interactions)  {stats['dropped_users']}",
                  f"dropped repeats  {stats.get('dropped_repeats', 0):,} (a user's later interactions with an item "
                  "already in their sequence; the first is kept)"]
        lines += [f"note         {n}" for n in stats.get("notes", [])]
    return "\n".join(lines)

"""K-core filtering: drop users and items with fewer than k interactions, repeated
until nothing changes (a fixed point)."""
from __future__ import annotations

import numpy as np

from ..errors import RecalignError
from .dataset import Dataset


def kcore(ds: Dataset, user_k: int = 0, item_k: int = 0, max_rounds: int = 100) -> Dataset:
    """Return the (user_k, item_k)-core of ``ds``. ``0`` or ``1`` disables a side.

    >>> # a user with 2 interactions is dropped by user_k=3, which can push an item under item_k
    """
    if user_k <= 1 and item_k <= 1:
        return ds
    mask = np.ones(len(ds), dtype=bool)
    for rounds in range(1, max_rounds + 1):
        before = mask.sum()
        for arr, k in ((ds.users, user_k), (ds.item_ids, item_k)):
            if k > 1 and mask.any():
                vals, inv, counts = np.unique(arr[mask], return_inverse=True, return_counts=True)
                keep = counts[inv] >= k
                idx = np.flatnonzero(mask)
                mask[idx[~keep]] = False
        if mask.sum() == before:
            break
    if not mask.any():
        raise RecalignError(f"k-core filtering (user_k={user_k}, item_k={item_k}) left no interactions "
                            f"in dataset {ds.name!r} ({len(ds)} before): lower the thresholds",
                            field="kcore")
    return ds.subset(mask, note=f"k-core user_k={user_k} item_k={item_k}: {len(ds)} → {int(mask.sum())} "
                              f"interactions after {rounds} round(s)")

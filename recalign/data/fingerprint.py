"""The split fingerprint: one short hash naming a split, shared by the generated text
(``RUN/text/manifest.json``), every result (``metrics.json``) and the pipeline's stage
checks. Two results are comparable only when their fingerprints are equal.

>>> from recalign.data import leave_one_out, load_dataset
>>> split_fingerprint(leave_one_out(load_dataset("ml-100k")))
'34ab8e036781702f'
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .prepare import load_split
from .split import Split


def split_fingerprint(split_or_dir: Split | str | Path) -> str:
    """A short hash of every (split, user, item) row in order.

    Accepts a Split or a prepared directory (``RUN`` or ``RUN/data``); both give the
    same value for the same split.
    """
    split = load_split(split_or_dir) if isinstance(split_or_dir, (str, Path)) else split_or_dir
    h = hashlib.sha256()
    for s in ("train", "valid", "test"):
        for u, i, _r, _t in split.rows(s):
            h.update(f"{s}\t{u}\t{i}\n".encode())
    return h.hexdigest()[:16]

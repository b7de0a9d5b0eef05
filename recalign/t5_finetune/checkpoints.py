"""Which checkpoint a run resumes from: the newest *complete* one.

A checkpoint folder ``RUN/checkpoints/checkpoint-N`` is **complete** when its marker
``recalign_checkpoint.json`` is there. The trainer writes the marker (atomically) after the
Trainer has written everything else (weights, optimizer, scheduler, RNG, trainer_state), so a
process killed while saving leaves a folder without it: that folder never looks complete.
The marker also carries the training clock (``train_seconds``), which a resumed run continues.

Before resuming, incomplete folders are set aside as ``incomplete-checkpoint-N`` (a name the
Trainer's checkpoint rotation does not see) with a warning, and the newest complete one is used.
The Trainer rotates old checkpoints (``save_total_limit``) before the marker is written: keep
the limit at 2 or more (the default) so that a complete checkpoint survives a kill at any moment.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> (root / "checkpoint-2").mkdir(); _ = mark_complete(root / "checkpoint-2", step=2, train_seconds=9.5)
>>> (root / "checkpoint-4").mkdir(); _ = (root / "checkpoint-4" / "config.json").write_text("{}")
>>> latest_complete(root).name, sorted(p.name for p in root.iterdir())
('checkpoint-2', ['checkpoint-2', 'incomplete-checkpoint-4'])
>>> read_marker(root / "checkpoint-2")["train_seconds"]
9.5
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from ..atomic_io import write_json

log = logging.getLogger(__name__)
MARKER = "recalign_checkpoint.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def mark_complete(ckpt: str | Path, **info) -> Path:
    """Write the completion marker (last, atomically) with ``info`` (step, train_seconds, …)."""
    return write_json(Path(ckpt) / MARKER, info)


def is_complete(ckpt: str | Path) -> bool:
    return (Path(ckpt) / MARKER).is_file()


def read_marker(ckpt: str | Path) -> dict:
    return json.loads((Path(ckpt) / MARKER).read_text(encoding="utf-8"))


def _set_aside(ckpt: Path) -> Path:
    dest = ckpt.with_name(f"incomplete-{ckpt.name}")
    k = 1
    while dest.exists():
        k += 1
        dest = ckpt.with_name(f"incomplete-{ckpt.name}.{k}")
    ckpt.rename(dest)
    return dest


def latest_complete(root: str | Path) -> Path | None:
    """The newest complete ``checkpoint-N`` under ``root`` (None if none); every incomplete one
    is renamed ``incomplete-checkpoint-N`` with a warning."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in root.iterdir()
                    if p.is_dir() and (m := _NAME.match(p.name))), key=lambda x: x[0])
    best = None
    for step, p in found:
        if is_complete(p):
            best = p
        else:
            dest = _set_aside(p)
            log.warning("checkpoint %s is incomplete (no %s: the process stopped while saving it); "
                        "set aside as %s", p, MARKER, dest.name)
    return best

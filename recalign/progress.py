"""Progress output that suits where it goes: bars on a terminal, a few plain lines in a log file.

``RECALIGN_PROGRESS=1`` (or ``0``) forces bars on (off); otherwise they show only when stderr is a
terminal. Redirected to a file, a run writes coarse periodic lines instead of thousands of
carriage-return bar updates (``tqdm``, ``datasets``' "Flattening the indices"/map bars, the
Trainer's bar).

>>> import os; os.environ["RECALIGN_PROGRESS"] = "0"
>>> interactive(), bars(True)
(False, False)
>>> del os.environ["RECALIGN_PROGRESS"]
"""
from __future__ import annotations

import os
import sys

_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def interactive() -> bool:
    """Whether progress bars should be drawn (stderr is a terminal, unless ``RECALIGN_PROGRESS`` says)."""
    v = os.environ.get("RECALIGN_PROGRESS", "").strip().lower()
    if v in _ON:
        return True
    if v in _OFF:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def bars(progress: bool = True) -> bool:
    """``progress`` and :func:`interactive` — what a ``tqdm(..., disable=not bars(progress))`` wants."""
    return bool(progress) and interactive()


def quiet_when_redirected() -> None:
    """Turn off third-party bars (tqdm defaults, datasets, transformers/huggingface_hub) when
    output is not a terminal; call before those libraries are imported (the CLI's entry does)."""
    if interactive():
        return
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    mods = sys.modules
    if "datasets" in mods:
        mods["datasets"].disable_progress_bars()
    if "transformers" in mods:
        mods["transformers"].utils.logging.disable_progress_bar()

"""Atomic outputs: write to a temporary sibling, then rename, so a crash never
leaves a file (or directory) that looks complete."""
from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import RecalignError


#: errnos of a write that ran out of room: disk full, quota exceeded, file-size limit (RLIMIT_FSIZE)
NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
#: how libraries that do not raise OSError say the same (torch.save, safetensors/Rust, pyarrow)
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded", "file too large", "os error 28",
                  "code: 28", "storagefull", "file write failed", "pytorchstreamwriter failed",
                  "inline_container.cc")
#: run directories locked by this process (``RunDir.lock``): where a write without a file name was
_WRITING: list[Path] = []


def no_space(exc: BaseException) -> OSError | BaseException | None:
    """The exception in ``exc``'s chain that says a write ran out of room, or None.

    >>> bool(no_space(OSError(28, "No space left on device"))), bool(no_space(ValueError("x")))
    (True, False)
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen and not isinstance(e, RecalignError):  # (already one line)
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS:
            return e
        if not isinstance(e, (KeyboardInterrupt, SystemExit)) and \
                any(t in str(e).lower() for t in _NO_SPACE_TEXT):
            return e
        e = e.__cause__ or e.__context__
    return None


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _size(p: Path) -> int:
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink())
        return p.stat().st_size
    except OSError:
        return 0


class NoSpaceError(RecalignError):
    """A write ran out of room (disk full, quota, file-size limit): one line, see ``no_space_error``."""


def no_space_error(path: str | Path | None, exc: BaseException, written: int = 0, needed: int = 0,
                   directory: bool = False) -> NoSpaceError:
    """One line for a write that ran out of room: what was being written (``directory``: ``path``
    is the directory written into), the directory's free space and what was needed (or written
    before it failed, when that is all that is known). Raise it ``from None``. Without ``path``:
    the file the error names, else the run directory this process has locked."""
    e = no_space(exc) or exc
    num = getattr(e, "errno", None)
    if path is None and getattr(e, "filename", None):
        path = e.filename
    elif path is None and _WRITING:
        path, directory = _WRITING[-1], True
    path = Path(path) if path is not None else None
    d = Path.cwd() if path is None else path if directory else path.parent
    while not d.exists() and d != d.parent:
        d = d.parent
    try:
        left = shutil.disk_usage(d).free
        free = f"{_mb(left)} free in {d}"
    except OSError:
        left, free = None, f"free space of {d} unknown"
    text = str(e).lower()
    why = "file too large (the file-size limit, ulimit -f)" if num == errno.EFBIG or "file too large" in text \
        else "disk quota exceeded" if num == errno.EDQUOT else "no space left on device" \
        if num == errno.ENOSPC or any(t in text for t in _NO_SPACE_TEXT[:6]) or (left is not None and left < 1e6) \
        else f"{type(e).__name__}: {str(e)[:120]}"   # a library's write failure that names no cause
    need = f", {_mb(needed)} needed" if needed else f", {_mb(written)} written when it failed" if written else ""
    what = "writing" if path is None else f"writing into {path}" if directory else f"writing {path}"
    err = NoSpaceError(f"{what} failed: {why} ({free}{need}); free some space (or use another "
                       "--run-dir) and rerun")
    err.exc = e
    return err


@contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    >>> with atomic_path("/tmp/x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmp = Path(name)
            os.chmod(tmp, 0o644)
    except OSError as e:
        if no_space(e):
            raise no_space_error(path, e) from None
        raise
    try:
        yield tmp
        if directory:
            replace_dir(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        full = no_space(e)
        written = _size(tmp) if full else 0
        if directory:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        if full:  # one line naming the file, the directory's free space and what had been written
            raise no_space_error(path, e, written=written) from None
        raise


def replace_dir(tmp: str | Path, path: str | Path) -> Path:
    """Move the finished directory ``tmp`` to ``path``, replacing what was there
    (the old one is renamed aside first, so ``path`` is never half-written)."""
    tmp, path = Path(tmp), Path(path)
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def write_jsonl(path: str | Path, records) -> Path:
    """One JSON object a line, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except NoSpaceError as e:  # the size is known here: say what was needed
        raise no_space_error(path, e.exc, needed=len(text.encode("utf-8"))) from None
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")

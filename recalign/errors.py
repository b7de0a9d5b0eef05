"""User-facing errors: each names the file, line or field and what was expected.

Errors never echo unbounded input: a value is shown through ``shown`` (at most
``MAX_SHOWN`` characters, then an ellipsis and the full length), and a message is cut at
``MAX_MESSAGE`` characters whatever it contains.

>>> shown("x" * 1000)[-25:]
'xxxxx… (1,000 characters)'
>>> len(shown("x" * 1000))
220
"""
from __future__ import annotations

from pathlib import Path

MAX_SHOWN = 200
MAX_MESSAGE = 1000


def shown(value, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, with the full length when it was cut."""
    r = repr(value)
    if len(r) <= limit:
        return r
    size = f" ({len(value):,} characters)" if isinstance(value, (str, bytes)) else ""
    return f"{r[:limit]}…{size}"


class RecalignError(Exception):
    """An error caused by the user's input, reported without a stack trace by the CLI.

    >>> str(RecalignError("expected a number, got 'x'", path="a.inter", line=3, field="rating"))
    "a.inter, line 3, field 'rating': expected a number, got 'x'"
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}… ({len(message):,} characters)"
        self.message, self.path, self.line, self.field = message, path, line, field
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__((", ".join(where) + ": " if where else "") + message)


def decode_utf8(data: bytes, path: str | Path, first_line: int = 1) -> str:
    """``data`` as text, or a RecalignError naming the file, line and column of the first byte
    that is not UTF-8 (``first_line`` is the file line ``data`` starts on). A BOM is dropped.

    >>> decode_utf8(b"ok\\nbad \\xff", "t.yaml")
    Traceback (most recent call last):
    ...
    recalign.errors.RecalignError: t.yaml, line 2: not UTF-8 text (byte b'\\xff' at column 5): save the file as UTF-8
    """
    try:
        return data.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise RecalignError(f"not UTF-8 text (byte {data[e.start:e.start + 1]!r} at column {col}): "
                            "save the file as UTF-8", path=path, line=first_line + line) from None


def nearest(name: str, choices, n: int = 3) -> str:
    """A ' Did you mean ...?' suffix naming the closest choices, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""

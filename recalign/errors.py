"""User-facing errors: each names the file, line or field and what was expected."""
from __future__ import annotations

from pathlib import Path


class RecalignError(Exception):
    """An error caused by the user's input, reported without a stack trace by the CLI.

    >>> str(RecalignError("expected a number, got 'x'", path="a.inter", line=3, field="rating"))
    "a.inter, line 3, field 'rating': expected a number, got 'x'"
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message, self.path, self.line, self.field = message, path, line, field
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__((", ".join(where) + ": " if where else "") + message)


def nearest(name: str, choices, n: int = 3) -> str:
    """A ' Did you mean ...?' suffix naming the closest choices, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" Did you mean {', '.join(map(repr, close))}?" if close else ""

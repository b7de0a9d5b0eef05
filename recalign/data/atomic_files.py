"""Read and write RecBole atomic files (``.inter``, ``.item``, ``.user``).

Format: tab-separated, no quoting, a header of ``name:type`` cells where type is
``token``, ``token_seq``, ``float`` or ``float_seq``.

>>> # user_id:token<TAB>item_id:token<TAB>rating:float<TAB>timestamp:float
>>> # 196<TAB>242<TAB>3<TAB>881250949
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

from ..atomic_io import atomic_path
from ..errors import RecalignError, decode_utf8, shown

TYPES = ("token", "token_seq", "float", "float_seq")


def parse_header(line: str, path: Path) -> list[tuple[str, str]]:
    fields = []
    for cell in line.rstrip("\r\n").split("\t"):
        name, sep, typ = cell.partition(":")
        if not sep or typ not in TYPES or not name:
            raise RecalignError(f"header cell {shown(cell)} is not 'name:type' with type in {TYPES}",
                                path=path, line=1)
        fields.append((name, typ))
    return fields


def read_atomic(path: str | Path, required: Sequence[str] = (),
                aliases: dict[str, Sequence[str]] | None = None,
                finite: Sequence[str] = (), not_empty: Sequence[str] = (),
                max_chars: dict[str, int] | None = None) -> dict[str, list]:
    """Read an atomic file into columns ``{field: [values...]}``, typed by the header.

    ``float`` fields become floats (an empty cell becomes None); ``token_seq`` stays
    a string (space-separated tokens). ``required`` names fields that must exist;
    ``aliases`` maps a canonical name to accepted header names (first found wins),
    and the column is returned under the canonical name. ``finite`` names float fields
    whose values must be finite (``nan``/``inf`` are rejected); ``not_empty`` names
    fields where an empty (or, for tokens, blank) cell is rejected; ``max_chars`` caps
    the length of a field's cells (key ``"*"``: every field not named). Errors name the file, line and field, never echo
    more than 200 characters of a cell, and bytes that are not UTF-8 are reported
    with their line.
    """
    path = Path(path)
    if not path.is_file():
        raise RecalignError("file not found", path=path)
    caps = max_chars or {}
    with open(path, "rb") as f:
        header = decode_utf8(f.readline(), path)
        if not header.strip():
            raise RecalignError("empty file: expected a 'name:type' header line", path=path, line=1)
        fields = parse_header(header, path)
        names = [n for n, _ in fields]
        rename = {}
        for canon, options in (aliases or {}).items():
            for opt in options:
                if opt in names:
                    rename[opt] = canon
                    break
        out_names = [rename.get(n, n) for n in names]
        missing = [r for r in required if r not in out_names]
        if missing:
            want = {r: list((aliases or {}).get(r, [r])) for r in missing}
            raise RecalignError(f"header lacks required field(s) {want}; header has {names}",
                                path=path, line=1)
        cols: dict[str, list] = {n: [] for n in out_names}
        lists = [cols[n] for n in out_names]
        is_float = [t == "float" for _, t in fields]
        must_finite = [n in finite for n in out_names]
        must_fill = [n in not_empty for n in out_names]
        cap = [caps.get(n, caps.get("*")) for n in out_names]
        checked = [i for i in range(len(fields)) if (must_fill[i] and not is_float[i]) or cap[i]]
        width = len(fields)
        for lineno, data in enumerate(f, start=2):
            try:
                raw = data.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                decode_utf8(data, path, lineno)
                raise  # pragma: no cover — decode_utf8 raised already
            if not raw:
                continue
            cells = raw.split("\t")
            if len(cells) != width:
                raise RecalignError(f"expected {width} tab-separated cells, found {len(cells)}",
                                    path=path, line=lineno)
            for i in checked:
                _check_cell(cells[i], out_names[i], must_fill[i] and not is_float[i], cap[i], path, lineno)
            for i, cell in enumerate(cells):
                if is_float[i]:
                    if cell == "":
                        if must_fill[i]:
                            raise RecalignError("expected a number, got an empty cell", path=path,
                                                line=lineno, field=out_names[i])
                        lists[i].append(None)
                        continue
                    try:
                        v = float(cell)
                    except ValueError:
                        raise RecalignError(f"expected a number, got {shown(cell)}", path=path,
                                            line=lineno, field=out_names[i]) from None
                    if must_finite[i] and not math.isfinite(v):
                        raise RecalignError(f"expected a finite number, got {shown(cell)}", path=path,
                                            line=lineno, field=out_names[i])
                    lists[i].append(v)
                else:
                    lists[i].append(cell)
    return cols


def _check_cell(cell: str, name: str, fill: bool, cap: int | None, path: Path, lineno: int) -> None:
    if fill and not cell.strip():
        raise RecalignError("expected a non-empty value, got an empty cell" if not cell else
                            f"expected a non-empty value, got only whitespace {shown(cell)}",
                            path=path, line=lineno, field=name)
    if cap is not None and len(cell) > cap:
        raise RecalignError(f"value of {len(cell):,} characters is over the limit of {cap:,} "
                            f"(starts {shown(cell[:60])}); shorten it or raise the limit", path=path,
                            line=lineno, field=name)


def write_atomic(path: str | Path, fields: Sequence[tuple[str, str]], rows: Iterable[Sequence]) -> Path:
    """Write rows under a ``name:type`` header, atomically. Floats that are integral
    are written without a decimal point (``3`` not ``3.0``); None and NaN as an empty cell."""

    def fmt(v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""  # a missing value (e.g. no rating) is an empty cell, never "nan"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        s = str(v)
        if "\t" in s or "\n" in s:
            s = s.replace("\t", " ").replace("\n", " ")
        return s

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write("\t".join(f"{n}:{t}" for n, t in fields) + "\n")
            for row in rows:
                f.write("\t".join(fmt(v) for v in row) + "\n")
    return path

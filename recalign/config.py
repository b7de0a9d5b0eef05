"""Config loading for every stage: dataclasses ← YAML (``yaml.safe_load``) ← CLI overrides.

Each stage defines its own dataclass (with ``metadata={"help": ...}`` on fields);
``from_dict`` builds nested dataclasses and rejects unknown keys with the nearest
valid names; ``apply_overrides`` takes ``a.b=value`` strings (values parsed as YAML).

>>> from dataclasses import dataclass
>>> @dataclass
... class C:
...     lr: float = 1e-3
...     steps: int = 10
>>> from_dict(C, {"lr": 0.1}, overrides=["steps=5"])
C(lr=0.1, steps=5)
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .atomic_io import write_text
from .errors import RecalignError, nearest

T = TypeVar("T")


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RecalignError("config file not found", path=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecalignError(f"invalid YAML: {getattr(e, 'problem', e)}", path=path,
                            line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise RecalignError(f"expected a mapping at the top level, got {type(data).__name__}", path=path)
    return data


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...] = (), example: str | None = None) -> dict:
    """Apply ``section.key=value`` overrides (value parsed as YAML) to a nested dict.

    ``example`` is a valid override for the caller's keys, shown when one is malformed.

    >>> apply_overrides({}, ["max_steps"], example="max_steps=100")
    Traceback (most recent call last):
    ...
    recalign.errors.RecalignError: override 'max_steps' is not KEY=VALUE (e.g. max_steps=100)
    """
    data = dict(data)
    for ov in overrides:
        key, sep, raw = ov.partition("=")
        if not sep or not key.strip():
            hint = f"e.g. {example}" if example else "value parsed as YAML; section.key=VALUE for a nested key"
            raise RecalignError(f"override {ov!r} is not KEY=VALUE ({hint})")
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            node[p] = dict(node.get(p) or {})
            node = node[p]
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def from_dict(cls: type[T], data: dict | None, overrides=(), where: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (+ overrides), recursively, with clear errors."""
    data = apply_overrides(data or {}, overrides, example=_example(cls) if overrides else None)
    if not isinstance(data, dict):
        raise RecalignError(f"expected a mapping for {where or cls.__name__}, got {data!r}")
    if hasattr(cls, "normalize_keys"):   # a section may map shorthand keys first (TrainConfig: flat trainer keys)
        data = cls.normalize_keys(data, where)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        if k not in fields:
            raise RecalignError(f"unknown key {k!r}; valid keys: {sorted(fields)}.{nearest(k, fields)}",
                                field=f"{where}{k}")
        typ = hints[k]
        if dataclasses.is_dataclass(typ) and isinstance(v, dict):
            kwargs[k] = from_dict(typ, v, where=f"{where}{k}.")
        else:
            kwargs[k] = _coerce(v, typ, f"{where}{k}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise RecalignError(str(e), field=where.rstrip(".") or cls.__name__) from None


def _example(cls) -> str | None:
    """A valid ``key=value`` override for dataclass ``cls``: its first field with a scalar default.

    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class C:
    ...     tags: list = field(default_factory=list)
    ...     max_steps: int = 100
    >>> _example(C)
    'max_steps=100'
    """
    for f in dataclasses.fields(cls):
        d = f.default
        if isinstance(d, (int, float, str)) and not isinstance(d, bool) and str(d).strip():
            return f"{f.name}={d}"
    return None


def _coerce(v: Any, typ: Any, name: str) -> Any:
    origin = typing.get_origin(typ)
    if v is None:
        return v
    if typ is float and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if typ in (int, float, str, bool) and not isinstance(v, typ):
        if typ is float and isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
        raise RecalignError(f"expected {typ.__name__}, got {v!r}", field=name)
    if origin in (list, tuple) and isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]
    return v


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def save_config(obj: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically."""
    return write_text(path, yaml.safe_dump(to_dict(obj), sort_keys=False, allow_unicode=True))

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
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .atomic_io import write_text
from .errors import RecalignError, decode_utf8, nearest, shown

T = TypeVar("T")


#: Limits of every YAML recalign reads (run configs, overrides, baseline hyperparameters, template files).
MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 100_000          # scalars, lists and mappings once aliases are expanded
MAX_YAML_DEPTH = 100


def compose_yaml(text: str, path: str | Path | None = None, what: str = "YAML") -> yaml.Node | None:
    """Parse ``text`` into a YAML node tree, bounded: at most ``MAX_YAML_BYTES`` characters, at most
    ``MAX_YAML_NODES`` nodes with aliases expanded (a "billion laughs" is refused before it is built),
    ``MAX_YAML_DEPTH`` levels, and no key twice in one mapping (the error names both lines).

    >>> compose_yaml("a: &x [1, 2]\\nb: *x").value[1][1].value[0].value
    '1'
    >>> compose_yaml("train: {}\\ntrain: {max_steps: 5}", "c.yaml")
    Traceback (most recent call last):
    ...
    recalign.errors.RecalignError: c.yaml, line 2: duplicate key 'train' (lines 1 and 2): write each key once
    """
    if len(text) > MAX_YAML_BYTES:
        raise RecalignError(f"{what} is {len(text):,} characters; at most {MAX_YAML_BYTES:,} are read", path=path)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecalignError(f"invalid YAML: {getattr(e, 'problem', None) or e}", path=path,
                            line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise RecalignError(f"{what} nests too deeply (at most {MAX_YAML_DEPTH} levels)", path=path) from None
    finally:
        loader.dispose()
    if root is not None:
        _check_nodes(root, path, what)
    return root


def _check_nodes(root: yaml.Node, path, what: str) -> None:
    """Expanded size, depth, recursion and duplicate keys of a composed tree (each node visited once)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in active:
            raise RecalignError("a YAML alias refers to its own anchor (a recursive structure)", path=path, line=line)
        if depth > MAX_YAML_DEPTH:
            raise RecalignError(f"{what} nests too deeply (at most {MAX_YAML_DEPTH} levels)", path=path, line=line)
        active.add(key)
        n = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    kl = k.start_mark.line + 1
                    ident = (k.tag, k.value)
                    if ident in seen:
                        raise RecalignError(f"duplicate key {shown(k.value)} (lines {seen[ident]} and {kl}): "
                                            "write each key once", path=path, line=kl)
                    seen[ident] = kl
                n += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            n += sum(size(v, depth + 1) for v in node.value)
        active.discard(key)
        if n > MAX_YAML_NODES:
            raise RecalignError(f"{what} expands to more than {MAX_YAML_NODES:,} values (aliases counted each time "
                                "they are used)", path=path, line=line)
        sizes[key] = n
        return n

    size(root, 0)


def load_yaml(text: str, path: str | Path | None = None, what: str = "YAML") -> Any:
    """``yaml.safe_load`` within the limits of ``compose_yaml`` (None for an empty document)."""
    root = compose_yaml(text, path, what)
    if root is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecalignError(f"invalid YAML: {getattr(e, 'problem', None) or e}", path=path,
                            line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()


def read_yaml_text(path: str | Path) -> str:
    """A YAML file's text: a regular file of at most ``MAX_YAML_BYTES`` bytes, UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise RecalignError("config file not found" if not path.exists() else "not a regular file", path=path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise RecalignError(f"cannot read: {e.strerror or e}", path=path) from None
    if len(data) > MAX_YAML_BYTES:
        raise RecalignError(f"larger than {MAX_YAML_BYTES:,} bytes: not read", path=path)
    return decode_utf8(data, path)


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    data = load_yaml(read_yaml_text(path), path) or {}
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
        node[parts[-1]] = load_yaml(raw, what=f"override {key.strip()!r}")
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
    except RecalignError as e:                      # a section's own check: name the field as written
        if not where or e.path is not None or (e.field or "").startswith(where):
            raise
        own = where.rstrip(".").split(".")[-1] + "."   # a section that names itself (query.writer in embed.query.)
        f = e.field[len(own):] if e.field and e.field.startswith(own) else e.field
        raise RecalignError(e.message, line=e.line, field=f"{where}{f}" if f else where.rstrip(".")) from None


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
    if origin in (typing.Union, types.UnionType):    # Optional[int]: the one non-None type
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if len(args) == 1:
            return _coerce(v, args[0], name)
        return v
    if typ in (int, float) and isinstance(v, bool):  # YAML's yes/true are not 1 here
        raise RecalignError(f"expected {'an integer' if typ is int else 'a number'}, got {v!r} (a YAML "
                            "boolean)", field=name)
    if typ is float and isinstance(v, (int, float)):
        return float(v)
    if typ in (int, float, str, bool) and not isinstance(v, typ):
        if typ is float and isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
        raise RecalignError(f"expected {typ.__name__}, got {shown(v)}", field=name)
    if (origin in (list, tuple) or typ in (list, tuple)) and isinstance(v, str):
        return [x.strip() for x in v.split(",") if x.strip()]      # "a,b" as a list
    if (origin in (list, tuple) or typ in (list, tuple)) and not isinstance(v, (list, tuple)):
        raise RecalignError(f"expected a list, got {shown(v)}", field=name)
    if origin is dict and not isinstance(v, dict):          # (a bare `dict` field: its section checks it)
        raise RecalignError(f"expected a mapping, got {shown(v)}", field=name)
    if origin is dict and len(typing.get_args(typ)) == 2 and typing.get_args(typ)[1] in (int, float):
        return {k: _coerce(x, typing.get_args(typ)[1], f"{name}.{k}") for k, x in v.items()}
    return v


def to_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def save_config(obj: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML, atomically."""
    return write_text(path, yaml.safe_dump(to_dict(obj), sort_keys=False, allow_unicode=True))

"""The typed record of generated text: what ``generate`` wrote into a text directory, and with what.

``recalign generate`` (``materialize.generate``) writes ``RUN/text/manifest.json`` and the embedder's
query generation writes ``RUN/embed/text/manifest.json``; both are one ``GeneratedText``. Every stage
reads it through the run directory (``RunDir.generated_text()``, ``RunDir.query_text()``), never as a
raw dict: the tasks it lists, the split it was made from, the item rule the text writes items with
(``item_rule``), the history window (``history_len``), per task what it was generated with
(``task_settings``) and how sources were fitted (``fit``). The JSON on disk is unchanged (the same keys
in the same order as before the record existed), so older run directories read as they are.

>>> rec = GeneratedText.from_dict({"format": 2, "dataset": "toy", "split_fingerprint": "ab12", "tasks": ["retrieval"],
...                                "splits": ["train", "valid", "test"], "counts": {"retrieval": {"train": 3}},
...                                "settings": {"history_len": 5, "item_ids": "atomic", "item_target": "id"}})
>>> rec.tasks, rec.history_len, rec.item_rule.atomic_target
(('retrieval',), 5, True)
>>> list(rec.to_dict())[:4]
['format', 'dataset', 'split_fingerprint', 'tasks']
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RecalignError

#: the JSON keys in the order they are written (a key whose value is None is left out)
KEY_ORDER = ("format", "dataset", "split_fingerprint", "tasks", "seed", "splits", "counts", "templates",
             "templates_fingerprint", "templates_dirs", "settings", "columns", "jsonl", "generated_with", "fit",
             "writer")
_REQUIRED = ("tasks",)


@dataclass(frozen=True)
class GeneratedText:
    """One text directory's record (``manifest.json``): see the module docstring.

    ``settings`` is the generation config as a mapping (``GenerateConfig`` for the seq2seq tasks,
    ``QueryConfig`` for the embedder's query tasks); ``generated_with[task]`` is kept per task when a
    later ``generate`` left that task as it was (its own seed, settings and template directories).
    """

    tasks: tuple[str, ...]
    format: int | None = None
    dataset: str | None = None
    split_fingerprint: str | None = None
    seed: int | None = None
    splits: tuple[str, ...] | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    templates: dict | None = None
    templates_fingerprint: dict | None = None
    templates_dirs: tuple[str, ...] | None = None
    settings: dict | None = None
    columns: tuple[str, ...] | None = None
    jsonl: bool | None = None
    generated_with: dict | None = None
    fit: dict | None = None
    writer: dict | None = None
    path: Path | None = field(default=None, compare=False)

    # ---- reading and writing -----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> "GeneratedText":
        """Validate ``data`` (a parsed manifest); one line naming the file and the field when it is wrong."""
        where = Path(path) if path is not None else None
        if not isinstance(data, dict):
            raise RecalignError(f"a generated-text record must be a JSON object, got {type(data).__name__}",
                                path=where)
        unknown = [k for k in data if k not in KEY_ORDER]
        if unknown:
            raise RecalignError(f"unknown key {unknown[0]!r} in the generated-text record (known: "
                                f"{', '.join(KEY_ORDER)})", path=where, field=unknown[0])
        for k in _REQUIRED:
            if k not in data:
                raise RecalignError(f"the generated-text record has no {k!r}", path=where, field=k)
        kw: dict[str, Any] = {}
        for k, v in data.items():
            if k in ("tasks", "splits", "templates_dirs", "columns") and v is not None:
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise RecalignError(f"{k!r} must be a list of strings, got {v!r}", path=where, field=k)
                v = tuple(v)
            elif k in ("counts", "templates", "templates_fingerprint", "settings", "generated_with", "fit",
                       "writer") and v is not None and not isinstance(v, dict):
                raise RecalignError(f"{k!r} must be a mapping, got {type(v).__name__}", path=where, field=k)
            kw[k] = v
        kw["counts"] = kw.get("counts") or {}
        return cls(**kw, path=where)

    @classmethod
    def read(cls, path: str | Path) -> "GeneratedText":
        """The record at ``path`` (``…/manifest.json``); one line when it is missing or unreadable."""
        p = Path(path)
        if not p.is_file():
            raise RecalignError("no generated text here (manifest.json missing): run `recalign generate` first",
                                path=p)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as e:
            raise RecalignError(f"unreadable manifest ({e})", path=p) from None
        return cls.from_dict(data, p)

    def to_dict(self) -> dict:
        """The JSON form (``manifest.json``): ``KEY_ORDER``, None values left out."""
        out = {}
        for k in KEY_ORDER:
            v = getattr(self, k)
            if v is None:
                continue
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def write(self, path: str | Path | None = None) -> Path:
        """Write atomically to ``path`` (default: where it was read from)."""
        from .atomic_io import write_json

        p = Path(path) if path is not None else self.path
        if p is None:
            raise RecalignError("no path to write the generated-text record to")
        write_json(p, self.to_dict())
        return p

    # ---- what readers ask ----------------------------------------------------------------------------------
    def lists(self, task: str) -> bool:
        return task in self.tasks

    def task_settings(self, task: str) -> dict:
        """What ``task`` was generated with: ``{seed, settings, templates_dirs, jsonl}`` (its own entry
        when a later ``generate`` kept it; else the record's)."""
        own = (self.generated_with or {}).get(task)
        if own:
            return own
        return {"seed": self.seed, "settings": self.settings, "templates_dirs": list(self.templates_dirs or []),
                "jsonl": bool(self.jsonl)}

    @property
    def item_rule(self):
        """The ``ItemRule`` the text writes items with (titles for a record from before item rules)."""
        from .tasks.items import ItemRule

        return ItemRule.from_settings(self.settings)

    @property
    def history_len(self) -> int | None:
        """The most recent history items an input shows (``settings.history_len``)."""
        n = (self.settings or {}).get("history_len")
        return int(n) if n is not None else None

    def count(self, task: str, split: str) -> int:
        return int((self.counts.get(task) or {}).get(split, 0))


__all__ = ["GeneratedText", "KEY_ORDER"]

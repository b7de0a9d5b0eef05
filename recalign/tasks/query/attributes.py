"""Item attributes as typed values, and conditions checked against them by code.

The catalogue's attribute fields are read from ``Item.fields`` (whatever the dataset has;
``title`` and ``description`` are never attributes). Each field gets a kind from its values:

- ``number``: (nearly) every value parses as a float, the others count as missing (ml-100k ``year``, Amazon ``price``);
- ``set``: a comma-separated list (``genres``, ``categories``; or any field whose values carry ", ");
- ``value``: a short categorical string (``brand``).

A ``Condition`` is ``(field, op, value)`` with op in ``eq``, ``has``, ``not_has``, ``gt``, ``lt``;
``holds(attrs)`` decides it from the item's attributes (Coverage@K counts top-K items for which
every condition holds; negatives of condition tasks violate at least one).

>>> a = Catalogue.from_items({"i1": Item("i1", "Heat", fields={"year": "1995", "genres": "Action, Crime"})})
>>> a.kinds
{'year': 'number', 'genres': 'set'}
>>> Condition("genres", "not_has", "Romance").holds(a.attrs["i1"]), Condition("year", "gt", 1996).holds(a.attrs["i1"])
(True, False)
>>> Condition("year", "gt", 1990).text()
'year after 1990'
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from ...data import Item

SKIP_FIELDS = {"title", "description"}
SET_FIELDS = {"genres", "categories", "category", "tags"}
MAX_VALUE_CHARS = 60
NUMBER_SHARE = 0.95  # a field is a number when this share of its values parse (ml-100k has 'unkonwn' years)
OPS = ("eq", "has", "not_has", "gt", "lt")


@dataclass(frozen=True)
class Condition:
    """One checkable condition on an item's attributes."""

    field: str
    op: str
    value: str | float

    def holds(self, attrs: dict) -> bool:
        v = attrs.get(self.field)
        if v is None:
            return self.op == "not_has"
        if self.op == "eq":
            return v == self.value
        if self.op == "has":
            return self.value in v
        if self.op == "not_has":
            return self.value not in v
        if self.op == "gt":
            return v > float(self.value)
        if self.op == "lt":
            return v < float(self.value)
        raise ValueError(f"unknown condition op {self.op!r} (known: {', '.join(OPS)})")

    def text(self) -> str:
        """A short plain phrase (rule-based; templates and the writer word it further)."""
        f, v = self.field, self.value
        num = _fmt_num(v) if isinstance(v, float) else v
        words = {"year": ("after", "before"), "price": ("over", "under")}.get(f, ("above", "below"))
        return {"eq": f"{f}: {num}", "has": f"{_singular(f)}: {num}", "not_has": f"not {_singular(f)}: {num}",
                "gt": f"{f} {words[0]} {num}", "lt": f"{f} {words[1]} {num}"}[self.op]

    def to_list(self) -> list:
        return [self.field, self.op, self.value]


def _singular(f: str) -> str:
    return {"genres": "genre", "categories": "category", "tags": "tag"}.get(f, f)


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def conditions_json(conds: Iterable[Condition]) -> str:
    """Conditions as a JSON string (the Arrow column ``conditions``)."""
    return json.dumps([c.to_list() for c in conds])


def conditions_from_json(text: str) -> list[Condition]:
    return [Condition(f, op, float(v) if op in ("gt", "lt") or isinstance(v, (int, float)) else v)
            for f, op, v in json.loads(text or "[]")]


def holds_all(conds: Iterable[Condition], attrs: dict) -> bool:
    return all(c.holds(attrs) for c in conds)


def _as_float(s: str) -> float | None:
    try:
        return float(s.replace("$", "").strip())
    except ValueError:
        return None


@dataclass
class Catalogue:
    """Every item's typed attributes: ``attrs[item] = {field: float | frozenset | str}``;
    ``kinds[field]`` in number / set / value; ``titles[item]`` the unique title."""

    attrs: dict[str, dict]
    kinds: dict[str, str]
    titles: dict[str, str]

    @classmethod
    def from_items(cls, items: dict[str, Item]) -> "Catalogue":
        values: dict[str, list[str]] = {}
        for it in items.values():
            for k, v in it.fields.items():
                if k not in SKIP_FIELDS and v:
                    values.setdefault(k, []).append(v)
        kinds: dict[str, str] = {}
        for k, vs in values.items():
            if sum(_as_float(v) is not None for v in vs) >= NUMBER_SHARE * len(vs):
                kinds[k] = "number"
            elif k in SET_FIELDS or any(", " in v for v in vs):
                kinds[k] = "set"
            elif max(len(v) for v in vs) <= MAX_VALUE_CHARS:
                kinds[k] = "value"
        attrs: dict[str, dict] = {}
        for i, it in items.items():
            a: dict = {}
            for k, kind in kinds.items():
                v = it.fields.get(k)
                if not v:
                    continue
                if kind == "number":
                    v = _as_float(v)
                    if v is None:
                        continue
                a[k] = v if kind != "set" else frozenset(x.strip() for x in v.split(",") if x.strip())
            attrs[i] = a
        return cls(attrs, kinds, {i: it.title for i, it in items.items()})

    def facts(self, item: str) -> list[Condition]:
        """Every attribute of ``item`` as a condition it meets (eq/has), in field order."""
        out: list[Condition] = []
        for k, v in self.attrs[item].items():
            if isinstance(v, frozenset):
                out.extend(Condition(k, "has", x) for x in sorted(v))
            else:
                out.append(Condition(k, "eq", v))
        return out

    def set_values(self, field: str) -> list[str]:
        return sorted({x for a in self.attrs.values() for x in a.get(field, ())})

    def satisfying(self, conds: list[Condition], items: Iterable[str] | None = None) -> list[str]:
        return [i for i in (items if items is not None else self.attrs) if holds_all(conds, self.attrs[i])]


__all__ = ["Condition", "Catalogue", "conditions_json", "conditions_from_json", "holds_all", "OPS"]

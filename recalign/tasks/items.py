"""How an item is written in text: one run-level rule (``GenerateConfig.item_input``,
``item_target``, ``item_ids``) that every task's builder applies, so one set of templates
serves every representation (a template says "the history"; the rule writes each item).

- inputs: ``title`` (today's default), ``id``, or ``id+title`` (the paper's prompts);
- targets: ``title`` (trie-constrained decoding) or ``id``;
- ids: ``atomic`` — one added vocabulary token per item (``<item_7>``: one decoding step,
  exact full ranking by one softmax, ``eval/item_rank.py``) — or ``text`` — a P5-style
  string (``item_7``) that the tokenizer splits (decoded under the trie like a title).

ID numbers never encode time (P5's consecutive, time-ordered numbers let a model guess the
test item as "the next number"): the catalogue, in the source's item order, is shuffled by
``random.Random(f"{seed}/item-ids")`` (``seed`` = ``GenerateConfig.seed``) and the item at
position k gets number k + 1 (1 … number of items). Training, generation and evaluation
recompute the same map from the split and the seed the manifest records.

``item_compact`` (atomic ``id`` inputs only) writes a run of item tokens back to back: whatever
a template put *between* two item tokens — whitespace, punctuation, ``and``/``then`` and list
numbers such as ``2.`` or ``(2)`` — is dropped, so every item costs one source token instead of
three or four (``compact``). Words between items (``Candidates:``) and anything after an item
that is not a separator (a rating ``(4),``) stay. Templates are unchanged.

>>> from recalign.data.dataset import Item
>>> items = {"10": Item("10", "Toy Story"), "20": Item("20", "Heat"), "30": Item("30", "Alien")}
>>> w = ItemWriter(items, ItemRule("id+title", "id", "text", seed=0))
>>> w.input["10"], w.target["10"]
('item_2 Toy Story', 'item_2')
>>> ItemWriter(items, ItemRule("id", "id", "atomic")).input["20"]
'<item_1>'
>>> ItemWriter(items, ItemRule()).input["30"]           # the default: titles, as before
'Alien'
>>> compact("History:\\n1. <item_2>\\n2. <item_1>\\nNext: <item_3>, then <item_4> (4), <item_5>")
'History:\\n1. <item_2><item_1>\\nNext: <item_3><item_4> (4), <item_5>'
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import RecalignError, nearest

INPUT_FORMS = ("title", "id", "id+title")
TARGET_FORMS = ("title", "id")
ID_FORMS = ("atomic", "text")
ATOMIC_FMT, TEXT_FMT = "<item_{}>", "item_{}"
_TOKEN = re.escape(ATOMIC_FMT).replace(re.escape("{}"), r"\d+")   # an atomic item token, from its format
_GAP = re.compile(rf"({_TOKEN})(?:\s|[,;|\"'.]|\band\b|\bthen\b|\d+\.(?=\s)|\(\d+\)(?=\s))*(?={_TOKEN})")


def compact(text: str) -> str:
    """Drop the separators between consecutive atomic item tokens (see the module docstring)."""
    return _GAP.sub(r"\1", text)


def _check(value: str, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise RecalignError(f"{key} must be one of {', '.join(allowed)}, got {value!r}.{nearest(value, allowed)}",
                            field=key)


@dataclass(frozen=True)
class ItemRule:
    """The run's item representation: ``input`` form, ``target`` form, ``ids`` form, ``seed``
    of the ID permutation. The default (``title``/``title``) is recalign's original text."""

    input: str = "title"
    target: str = "title"
    ids: str = "atomic"
    seed: int = 0
    compact: bool = False

    def __post_init__(self) -> None:
        _check(self.input, INPUT_FORMS, "item_input")
        _check(self.target, TARGET_FORMS, "item_target")
        _check(self.ids, ID_FORMS, "item_ids")
        if not isinstance(self.compact, bool):
            raise RecalignError(f"item_compact must be true or false, got {self.compact!r}", field="item_compact")
        if self.compact and (self.input != "id" or self.ids != "atomic"):
            raise RecalignError(f"item_compact needs item_input id and item_ids atomic (one token per item), got "
                                f"item_input {self.input}, item_ids {self.ids}", field="item_compact")

    @classmethod
    def from_config(cls, cfg: Any) -> "ItemRule":
        """From a ``GenerateConfig`` (or anything with its attributes; absent ones = defaults)."""
        return cls(getattr(cfg, "item_input", "title"), getattr(cfg, "item_target", "title"),
                   getattr(cfg, "item_ids", "atomic"), int(getattr(cfg, "seed", 0) or 0),
                   getattr(cfg, "item_compact", False))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "ItemRule":
        """From the ``settings`` a manifest records (an older manifest: the title default)."""
        s = settings or {}
        return cls(s.get("item_input", "title"), s.get("item_target", "title"), s.get("item_ids", "atomic"),
                   int(s.get("seed", 0) or 0), s.get("item_compact", False))

    @property
    def uses_ids(self) -> bool:
        return self.input != "title" or self.target == "id"

    @property
    def atomic(self) -> bool:
        """True when the run adds one vocabulary token per item."""
        return self.uses_ids and self.ids == "atomic"

    @property
    def atomic_target(self) -> bool:
        """True when the model generates one item token (exact full ranking, no trie)."""
        return self.target == "id" and self.ids == "atomic"

    def post_render(self) -> Callable[[str], str] | None:
        """What every rendered input goes through (``compact`` or nothing)."""
        return compact if self.compact else None

    def describe(self) -> str:
        """One line for ``templates show`` and the evaluation protocol."""
        fmt = (ATOMIC_FMT if self.ids == "atomic" else TEXT_FMT).format(7)
        ex = {"title": "Toy Story", "id": fmt, "id+title": f"{fmt} Toy Story"}
        return (f"items in inputs: {self.input} (e.g. {ex[self.input]!r}); targets: {self.target} "
                f"(e.g. {ex[self.target]!r}); ids: {self.ids}, a seeded permutation of the catalogue"
                + ("; compact: item tokens written back to back" if self.compact else ""))


def item_numbers(item_ids: list[str], seed: int) -> dict[str, int]:
    """Item id → its number (1 … n): the catalogue order shuffled by a seeded RNG.

    >>> item_numbers(["a", "b", "c", "d"], 0) == item_numbers(["a", "b", "c", "d"], 0)
    True
    >>> sorted(item_numbers(["a", "b", "c", "d"], 0).values())
    [1, 2, 3, 4]
    """
    order = list(item_ids)
    random.Random(f"{seed}/item-ids").shuffle(order)
    return {i: n for n, i in enumerate(order, 1)}


class ItemWriter:
    """The texts of every item under ``rule``: ``input[item]``, ``target[item]``, ``title[item]``,
    ``id[item]`` (the id string; ``""`` for every item when the rule uses no ids)."""

    def __init__(self, items: Mapping[str, Any], rule: ItemRule) -> None:
        self.rule = rule
        self.title = {str(i): it.title for i, it in items.items()}
        if rule.uses_ids:
            fmt = ATOMIC_FMT if rule.ids == "atomic" else TEXT_FMT
            self.number = item_numbers(list(self.title), rule.seed)
            self.id = {i: fmt.format(n) for i, n in self.number.items()}
        else:
            self.number, self.id = {}, {i: "" for i in self.title}
        self.input = self._texts(rule.input)
        self.target = self._texts(rule.target)

    @classmethod
    def for_split(cls, split: Any, cfg: Any) -> "ItemWriter":
        """The writer of ``split``'s catalogue under ``cfg``'s rule (a ``GenerateConfig``)."""
        return cls(split.items, ItemRule.from_config(cfg))

    def _texts(self, form: str) -> dict[str, str]:
        if form == "title":
            return self.title
        if form == "id":
            return self.id
        return {i: f"{self.id[i]} {t}" for i, t in self.title.items()}

    def tokens(self) -> list[str]:
        """The added vocabulary tokens, in number order (``[]`` unless the rule is atomic)."""
        if not self.rule.atomic:
            return []
        return [self.id[i] for i in sorted(self.number, key=self.number.__getitem__)]

    def mlm_words(self, items: list[str], sep: str = "; ") -> list[tuple[str, bool]]:
        """MLM's history text as ``(word, corruptible)`` pairs: title words are corrupted, never
        an id. With ``title`` inputs the words are exactly ``sep.join(titles).split()``, as before;
        with ids in the inputs (``id`` or ``id+title``) every title is preceded by its id, so MLM
        is the one task that ties an id to the words of its title.

        >>> from recalign.data.dataset import Item
        >>> w = ItemWriter({"1": Item("1", "Toy Story"), "2": Item("2", "Heat")}, ItemRule("id", "id", "text"))
        >>> w.mlm_words(["1", "2"])
        [('item_2', False), ('Toy', True), ('Story;', True), ('item_1', False), ('Heat', True)]
        """
        if self.rule.input == "title":
            return [(w, True) for w in sep.join(self.title[i] for i in items).split()]
        out: list[tuple[str, bool]] = []
        for k, i in enumerate(items):
            out.append((self.id[i], False))
            out.extend((w, True) for w in (self.title[i] + (sep if k < len(items) - 1 else "")).split())
        return out

__all__ = ["ItemRule", "ItemWriter", "compact", "item_numbers", "INPUT_FORMS", "TARGET_FORMS", "ID_FORMS"]

"""Item titles: cleaning and the deterministic rule that makes them unique.

Rule (documented in the README): titles are first cleaned (whitespace collapsed;
a trailing article moved back to the front, ``"Full Monty, The"`` → ``"The Full Monty"``).
Items whose cleaned titles collide are disambiguated, in this order, by appending
``(YEAR)`` if the year tells them apart, then ``(BRAND)``, and finally ``[id]``
for any that still collide. Items are considered in id order so the result is
the same on every run.

>>> disambiguate({"1": ("Hamlet", {"year": "1996"}), "2": ("Hamlet", {"year": "1948"})})
{'1': 'Hamlet (1996)', '2': 'Hamlet (1948)'}
"""
from __future__ import annotations

import re
from collections import defaultdict

_ARTICLE = re.compile(r"^(?P<body>.+), (?P<art>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$")


def clean_title(title: str) -> str:
    """Collapse whitespace and move a trailing article to the front.

    >>> clean_title("Full Monty, The")
    'The Full Monty'
    """
    t = " ".join(str(title).split())
    m = _ARTICLE.match(t)
    if m:
        art = m.group("art")
        t = f"{art}{'' if art.endswith(chr(39)) else ' '}{m.group('body')}"
    return t


def _id_key(item_id: str):
    return (0, int(item_id), item_id) if item_id.isdigit() else (1, 0, item_id)


def disambiguate(items: dict[str, tuple[str, dict[str, str]]]) -> dict[str, str]:
    """Map item id → unique title, given id → (clean title, fields)."""
    titles = {i: t for i, (t, _) in items.items()}
    for extra in ("year", "brand"):
        groups = defaultdict(list)
        for i in sorted(titles, key=_id_key):
            groups[titles[i]].append(i)
        for title, ids in groups.items():
            if len(ids) < 2:
                continue
            for i in ids:
                v = (items[i][1].get(extra) or "").strip()
                if v and f"({v})" not in title:
                    titles[i] = f"{title} ({v})"
    groups = defaultdict(list)
    for i in sorted(titles, key=_id_key):
        groups[titles[i]].append(i)
    for title, ids in groups.items():
        if len(ids) > 1:
            for i in ids:
                titles[i] = f"{title} [{i}]"
    # a suffixed title could in principle collide with an existing one: final guard
    seen: dict[str, str] = {}
    for i in sorted(titles, key=_id_key):
        if titles[i] in seen:
            titles[i] = f"{titles[i]} [{i}]"
        seen[titles[i]] = i
    return titles

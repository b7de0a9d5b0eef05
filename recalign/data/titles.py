"""Item titles: cleaning and the deterministic rule that makes them unique.

Rule (documented in the README): titles are first cleaned (whitespace collapsed;
a trailing article moved back to the front, ``"Full Monty, The"`` → ``"The Full Monty"``).
Items whose cleaned titles collide are disambiguated, in this order, by appending
``(YEAR)`` if the year tells them apart, then ``(BRAND)``, and finally, for items
that still collide (true duplicates in the catalogue), the first keeps the title
and the others get ``(version 2)``, ``(version 3)``, … — never an item id, which
must not appear in text. Items are considered in id order so the result is the
same on every run.

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
    taken = set(titles.values())
    for title, ids in groups.items():
        n = 1
        for i in ids[1:]:
            n += 1
            while f"{title} (version {n})" in taken:
                n += 1
            titles[i] = f"{title} (version {n})"
            taken.add(titles[i])
    return titles

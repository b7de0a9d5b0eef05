"""How an item is written for the embedder: its title, then every attribute field.

Format (documented in the README): ``"{title} | {field}: {value} | ..."`` in the item's field
order, long free text (``description``) left out; items are embedded without an instruction.

>>> from recalign.data import Item
>>> item_text(Item("i1", "Heat", fields={"year": "1995", "genres": "Action, Crime"}))
'Heat | year: 1995 | genres: Action, Crime'
"""
from __future__ import annotations

from ..data import Item

SKIP = {"description", "title"}


def item_text(item: Item) -> str:
    return " | ".join([item.title, *(f"{k}: {v}" for k, v in item.fields.items() if k not in SKIP and v)])


def query_text(query: str, instruction: str | None) -> str:
    """E5-mistral's query form: ``"Instruct: {instruction}\\nQuery: {query}"`` (none: the query).

    >>> query_text("Heat", "Given an item, retrieve a related item")
    'Instruct: Given an item, retrieve a related item\\nQuery: Heat'
    """
    return f"Instruct: {instruction}\nQuery: {query}" if instruction else query

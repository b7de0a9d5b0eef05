"""Domain vocabulary: the few words a template may take from the catalogue's domain, so
the shipped templates fit any catalogue ("interacted with") while a dataset of movies can
say "watched" and one of purchases "bought". Chosen per run by ``GenerateConfig.domain``;
every Example record carries it as ``domain``, so a template writes ``{{ domain.verb_past }}``.

>>> DOMAINS["movies"].verb_past, DOMAINS["products"].history, DOMAINS["generic"].verb
('watched', 'purchase history', 'try')
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import RecalignError, nearest


@dataclass(frozen=True)
class Domain:
    """Words for one kind of catalogue (``{{ domain.<field> }}`` in a template)."""

    name: str = "generic"
    item: str = "item"                       # "Which {{ domain.item }} comes next?"
    verb: str = "try"                        # "What should I {{ domain.verb }} next?"
    verb_past: str = "interacted with"       # "I have recently {{ domain.verb_past }} …"
    history: str = "interaction history"     # "Here is a user's {{ domain.history }}"


GENERIC = Domain()
DOMAINS = {d.name: d for d in (
    GENERIC,
    Domain("movies", "movie", "watch", "watched", "viewing history"),
    Domain("products", "product", "buy", "bought", "purchase history"),
    Domain("books", "book", "read", "read", "reading history"),
    Domain("music", "song", "listen to", "listened to", "listening history"),
)}


def get_domain(name: str) -> Domain:
    """The preset called ``name``; an unknown name raises with the nearest ones."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise RecalignError(f"unknown domain {name!r} (known: {', '.join(DOMAINS)}).{nearest(name, DOMAINS)}",
                            field="domain") from None

"""Inputs that fit: shorten an example to the model's source budget by dropping its oldest
history items — never a candidate, never the instruction, never a masked item — so that
training and evaluation see the same, whole text (no silent truncation of the newest items,
the candidates or the question at the end of a prompt).

``SourceFit(budget, count)``: ``count(text)`` is the number of source tokens the model's
tokenizer gives (EOS included); ``fit.shorten(example, render)`` re-renders ``example`` with
the first k history items dropped, for the smallest k that fits (at least one history item is
kept; an example that still does not fit is counted as ``over``). The history fields are
``history`` and, aligned with it, ``ratings``; in MIM only the items before the first mask
may go. Tasks without a ``history`` list (MLM) are never shortened.

>>> from dataclasses import dataclass
>>> @dataclass
... class Ex:
...     history: list
...     candidates: list
>>> fit = SourceFit(6, lambda s: len(s.split()))
>>> ex, text, k = fit.shorten(Ex(["a", "b", "c", "d", "e"], ["x", "y"]),
...                           lambda e: " ".join(e.history) + " | " + " ".join(e.candidates))
>>> text, k
('c d e | x y', 2)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import RecalignError


def _droppable(example: Any) -> int:
    """How many leading history items may go (all but one; MIM: those before the first mask)."""
    hist = getattr(example, "history", None)
    if not isinstance(hist, list) or len(hist) < 2:
        return 0
    n = len(hist) - 1
    mask = getattr(example, "mask_token", None)
    if mask is not None and mask in hist:
        n = min(n, hist.index(mask))
    return n


def drop_oldest(example: Any, k: int) -> Any:
    """A copy of ``example`` without its ``k`` oldest history items (and their ratings)."""
    if k <= 0:
        return example
    changes: dict[str, Any] = {"history": list(example.history[k:])}
    ratings = getattr(example, "ratings", None)
    if isinstance(ratings, list) and len(ratings) == len(example.history):
        changes["ratings"] = list(ratings[k:])
    return dataclasses.replace(example, **changes)


@dataclass
class SourceFit:
    """The source budget (tokens) and the token counter; ``shortened``/``over`` count examples."""

    budget: int
    count: Callable[[str], int]
    shortened: int = 0
    over: int = 0
    dropped: int = 0
    notes: list[str] = field(default_factory=list)

    def fits(self, text: str) -> bool:
        return self.count(text) <= self.budget

    def over_budget(self, texts: list[str]) -> list[int]:
        """Indices of ``texts`` over the budget, counted in one batch when the counter can
        (``TokenCounter.many``); texts that cannot exceed it (``TokenCounter.surely_fits``) are not
        tokenized."""
        many = getattr(self.count, "many", None)
        sure = getattr(self.count, "surely_fits", None)
        todo = [i for i, t in enumerate(texts) if sure is None or not sure(t, self.budget)]
        lengths = many([texts[i] for i in todo]) if many else [self.count(texts[i]) for i in todo]
        return [i for i, n in zip(todo, lengths) if n > self.budget]

    def shorten(self, example: Any, render: Callable[[Any], str]) -> tuple[Any, str, int]:
        """``(example, rendered input, items dropped)`` for an example whose input may not fit."""
        text = render(example)
        if self.fits(text):
            return example, text, 0
        n = _droppable(example)
        lo, hi, best = 1, n, None
        while lo <= hi:                    # fewer items → shorter text: binary search the smallest k
            mid = (lo + hi) // 2
            t = render(drop_oldest(example, mid))
            if self.fits(t):
                best, hi = (mid, t), mid - 1
            else:
                lo = mid + 1
        if best is None:
            self.over += 1
            if n == 0:
                return example, text, 0
            ex = drop_oldest(example, n)
            return ex, render(ex), n
        self.shortened += 1
        self.dropped += best[0]
        return drop_oldest(example, best[0]), best[1], best[0]

    def stats(self) -> dict[str, int]:
        return {"shortened": self.shortened, "over_budget": self.over, "items_dropped": self.dropped}


class TokenCounter:
    """``count(text)``: source tokens under ``tokenizer`` (special tokens such as EOS included);
    ``count.many(texts)`` counts a batch. A fast tokenizer is asked through its Rust encoder
    (the same ids, without the Python wrapper's per-call cost: every generated example is
    counted). With a byte-level BPE and no normalizer every token is at least one byte, so a
    text of ``budget - specials`` bytes or fewer fits without being tokenized (``surely_fits``)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        self.specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
        self.byte_level = self.backend is not None and self.backend.normalizer is None and \
            type(self.backend.pre_tokenizer).__name__ == "ByteLevel" and type(self.backend.model).__name__ == "BPE"

    def __call__(self, text: str) -> int:
        if self.backend is not None:
            return len(self.backend.encode(text))
        return len(self.tokenizer(text, add_special_tokens=True)["input_ids"])

    def many(self, texts: list[str]) -> list[int]:
        if self.backend is not None:
            return [len(e) for e in self.backend.encode_batch(texts)]
        return [self(t) for t in texts]

    def surely_fits(self, text: str, budget: int) -> bool:
        return self.byte_level and len(text.encode("utf-8")) + self.specials <= budget


def token_counter(tokenizer) -> TokenCounter:
    """The ``TokenCounter`` of ``tokenizer``."""
    return TokenCounter(tokenizer)


def fit_lines(fit: dict | None) -> list[str]:
    """What ``generate`` reports about the source budget (a manifest's ``fit``): per task, how
    many examples of each split were shortened, and those still over with one history item.

    >>> for line in fit_lines({"budget": 8, "tokenizer": "RUN/tokenizer", "tasks": {"ranking": {
    ...         "train": {"shortened": 3, "over_budget": 0, "items_dropped": 5},
    ...         "test": {"shortened": 1, "over_budget": 1, "items_dropped": 2}}}}):
    ...     print(line)
    source budget 8 tokens (RUN/tokenizer); examples shortened to fit:
      ranking    train 3, test 1; over budget even with one history item: 1
    """
    fit = fit or {}
    if not fit:
        return []
    if fit.get("note"):
        return [f"source budget {fit.get('budget')} tokens: {fit['note']}"]
    out = [f"source budget {fit.get('budget')} tokens ({fit.get('tokenizer')}); examples shortened to fit:"]
    for t, per in (fit.get("tasks") or {}).items():
        over = sum(v.get("over_budget", 0) for v in per.values())
        out.append(f"  {t:<10} " + ", ".join(f"{s} {v.get('shortened', 0):,}" for s, v in per.items())
                   + (f"; over budget even with one history item: {over:,}" if over else ""))
    return out


def load_counter(tokenizer_path: str, item_tokens: list[str] = ()) -> TokenCounter:
    """The token counter of the tokenizer saved at ``tokenizer_path`` (a checkpoint's directory,
    ``RUN/tokenizer`` or a hub name), with the run's atomic item tokens added (one token each)."""
    # lazy: heavy, and only a budgeted generate needs it; the loader training uses (a packaged
    # ``pretrained:`` source resolved, an encoder-only checkpoint's tokenizer converted alike)
    from ..t5_finetune.tokenizer import load_tokenizer

    try:
        tok = load_tokenizer(tokenizer_path)
    except RecalignError as e:
        raise RecalignError(f"cannot load the source tokenizer {str(tokenizer_path)!r}: {e.message[:300]}",
                            field="source_tokenizer") from None
    if item_tokens:
        vocab = tok.get_vocab()
        tok.add_tokens([t for t in item_tokens if t not in vocab])
    return token_counter(tok)


__all__ = ["SourceFit", "TokenCounter", "drop_oldest", "token_counter", "load_counter", "fit_lines"]

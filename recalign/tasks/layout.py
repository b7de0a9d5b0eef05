"""Where a task's history is written: in the encoder (the template's text, as always) or in the
decoder (``GenerateConfig.decoder_history``: the instruction in the encoder, the history as the
decoder's forced prefix).

With the history in the decoder, a template still describes the task: it is rendered with the
history replaced by ``HISTORY_PLACEHOLDER`` (one pseudo-item, ``[history]``), and the history's item
tokens, oldest first, follow ``DECODER_MARK`` in the materialized input::

    I have recently watched [history]. What should I watch next? <|decoder|><item_3><item_9>

The model reads the text before the mark with its encoder; the decoder is fed the items after it
and then writes the target. Training puts the loss on *every* decoder position — each history item
is the next-item target of the items before it (SASRec's signal from one sequence), and the target
is the last one; no held-out item is ever in a prefix (the prefix is the example's history, built
by the same leakage rule). At inference the prefix is forced and the next step is scored: for
atomic item tokens, one softmax over the catalogue (``eval/item_rank.py``).

The mark never reaches a tokenizer: ``split_decoder`` cuts every input before tokenizing.

>>> split_decoder("Next? <|decoder|><item_3><item_9>")
('Next?', '<item_3><item_9>')
>>> split_decoder("Next?")
('Next?', '')
>>> join_decoder("Next?", ["<item_3>", "<item_9>"])
'Next? <|decoder|><item_3><item_9>'
"""
from __future__ import annotations

from typing import Sequence

DECODER_MARK = "<|decoder|>"
HISTORY_PLACEHOLDER = "[history]"
RATING_PLACEHOLDER = "[rating]"
#: tasks whose history may be written in the decoder: their history is an item sequence whose every
#: item is the next item of those before it (the auxiliary tasks mask or corrupt theirs). Rating's
#: history carries the user's ratings: in the decoder each item is followed by its rating, so every
#: history rating is a rating target too, and the item to rate closes the prefix (``<item_3>4<item_9>5<item_7>``).
DECODER_TASKS = ("retrieval", "ranking", "rating")


def decoder_items(example) -> list[str]:
    """The decoder prefix of an example, one entry per history item (``item`` or ``item`` + ``rating``).
    A rated history ends with the item to rate, so its rating — the target — comes in the very place
    every history rating does (right after its item).

    >>> from types import SimpleNamespace as E
    >>> decoder_items(E(history=["<item_3>", "<item_9>"], ratings=["4", "5"], item="<item_7>"))
    ['<item_3>4', '<item_9>5', '<item_7>']
    """
    ratings = getattr(example, "ratings", None)
    if ratings is not None:
        return [f"{h}{r}" for h, r in zip(example.history, ratings)] + [example.item]
    return list(example.history)


def encoder_example(example):
    """The example as its template renders it in the encoder: the history (and its ratings) written
    as one placeholder item, ``[history]`` (``[rating]``)."""
    import dataclasses

    kw = {"history": [HISTORY_PLACEHOLDER]}
    if getattr(example, "ratings", None) is not None:
        kw["ratings"] = [RATING_PLACEHOLDER]
    return dataclasses.replace(example, **kw)


def join_decoder(encoder_text: str, prefix_items: Sequence[str]) -> str:
    """The materialized input: the encoder text, the mark, the prefix items back to back."""
    return f"{encoder_text} {DECODER_MARK}{''.join(prefix_items)}"


def split_decoder(text: str) -> tuple[str, str]:
    """``(encoder text, decoder prefix text)``; the prefix is ``""`` when the input has no mark."""
    enc, mark, prefix = text.partition(DECODER_MARK)
    return (enc.rstrip(), prefix.strip()) if mark else (text, "")


def split_inputs(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """``split_decoder`` over a batch: ``(encoder texts, prefixes)``."""
    pairs = [split_decoder(t) for t in texts]
    return [a for a, _ in pairs], [b for _, b in pairs]


def prefix_token_ids(tokenizer, prefixes: Sequence[str]) -> list[list[int]]:
    """Each prefix's token ids (no special tokens; ``[]`` for an empty prefix). Atomic item tokens are
    one id each."""
    if not any(prefixes):
        return [[] for _ in prefixes]
    ids = tokenizer(list(prefixes), add_special_tokens=False)["input_ids"]
    return [list(x) if p else [] for x, p in zip(ids, prefixes)]


def refuse_prefix(texts: Sequence[str], what: str) -> None:
    """One clear error where a decoding path that cannot force a prefix meets one."""
    if any(DECODER_MARK in t for t in texts):
        from ..errors import RecalignError

        raise RecalignError(f"{what} does not force a decoder prefix: inputs with the history in the decoder "
                            "(generate.decoder_history) are ranked over atomic item tokens and scored, not generated",
                            field="decoder_history")


__all__ = ["refuse_prefix", "decoder_items", "encoder_example", "RATING_PLACEHOLDER", "DECODER_MARK", "HISTORY_PLACEHOLDER", "DECODER_TASKS", "join_decoder", "split_decoder",
           "split_inputs", "prefix_token_ids"]

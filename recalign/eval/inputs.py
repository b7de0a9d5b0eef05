"""The one encode function of evaluation: rows (or their input texts) → what the model reads.

Every evaluation operation (exact item ranking, candidate scoring, trie-constrained beam search,
greedy answers) turns a batch of its inputs into model inputs here and nowhere else. An input is a
materialized row (a dict with ``input`` and the items it holds: ``history``, ``candidates``, …) or,
for callers outside a task, the input text itself. ``encode_texts`` is the text model's encoding:
the encoder text (with a decoder prefix, ``tasks/layout.py``, split off) tokenized, and each input's
forced decoder prefix as token ids. A model that reads more than text (soft item tokens, ILM) gives
the operations its own ``Encode`` — it sees the rows, so it knows which items each input holds —
and returns other keyword arguments (``inputs_embeds``) for the same forward pass.

>>> input_text({"input": "History: a b", "history": ["i1", "i2"]}), input_text("plain text")
('History: a b', 'plain text')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..tasks.evaluation import Row
from ..tasks.layout import prefix_token_ids, split_inputs


def input_text(row: Row) -> str:
    """The input text of a row (``row["input"]``) or the text itself."""
    return row if isinstance(row, str) else str(row["input"])


def input_texts(rows: Sequence[Row]) -> list[str]:
    return [input_text(r) for r in rows]


@dataclass
class Encoded:
    """A batch of model inputs: ``model_kwargs`` for the forward pass / ``generate`` (``input_ids`` or
    ``inputs_embeds``, and ``attention_mask``) and ``prefixes``: each input's forced decoder-prefix ids."""

    model_kwargs: dict
    prefixes: list[list[int]]

    @property
    def attention_mask(self):
        return self.model_kwargs["attention_mask"]

    def __len__(self) -> int:
        return len(self.prefixes)


#: ``encode(rows) -> Encoded`` on the model's device
Encode = Callable[[Sequence[Row]], Encoded]


def encode_texts(tokenizer, rows: Sequence[Row], *, device, max_length: int = 512) -> Encoded:
    """The text model's encoding: encoder texts tokenized (padded, truncated to ``max_length``) and
    each decoder prefix as token ids (``[]`` without one)."""
    texts, prefixes = split_inputs(input_texts(rows))
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length).to(device)
    return Encoded(dict(enc), prefix_token_ids(tokenizer, prefixes))


def text_encoder(tokenizer, device, max_length: int = 512) -> Encode:
    """``encode_texts`` bound to a tokenizer and device: the default ``Encode`` of every operation."""
    return lambda rows: encode_texts(tokenizer, rows, device=device, max_length=max_length)


__all__ = ["Encode", "Encoded", "Row", "encode_texts", "input_text", "input_texts", "text_encoder"]

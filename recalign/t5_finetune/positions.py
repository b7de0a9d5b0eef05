"""Absolute positions for a T5 encoder, counted back from the last source token.

T5 knows order only through relative attention biases inside the encoder; its decoder reads
the encoder through cross-attention, which has no position at all, so "which item is the
newest?" must be inferred. A SASRec-like model adds a learned position to every item; the
recipe search (benchmarks/seq_recipe.py, RESULTS.md) measured the same for the T5.

``PositionedEmbedding`` is the encoder's token embedding (an ``nn.Embedding`` that stays tied
to ``model.shared``) plus a learned table of *distance from the last real token*: 0 for the
last token (with T5's tokenizers the ``</s>``), 1 for the one before it, …, capped at
``n - 1``; padding gets none. Counting from the end keeps the newest history item and the
question at fixed distances whatever the length of the history.

With ``encoder_position_items`` (the atomic item tokens' id range, set by
``train.encoder_positions_over: items``) the distance is counted in *items* instead: each item
token learns how many items follow it (0 = the newest), other tokens get no position — the same
recency signal whatever words each template puts around the history.

``PositionedT5`` is ``T5ForConditionalGeneration`` that installs it when its config has
``encoder_positions > 0`` (saved in config.json, so ``load_checkpoint`` rebuilds the same
model); with 0 it is T5 unchanged.

>>> import torch
>>> distance_from_end(torch.tensor([[5, 6, 7, 1, 0, 0], [5, 1, 0, 0, 0, 0]]), pad_token_id=0, n=3).tolist()
[[2, 2, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]]
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import T5ForConditionalGeneration

CONFIG_KEY = "encoder_positions"
ITEMS_KEY = "encoder_position_items"   # [first, end) token ids of atomic items: count items, not tokens


def n_positions(config) -> int:
    """The encoder positions a config asks for (0: none); ``config`` is a ``T5Config`` or the
    mapping read from a saved config.json.

    >>> n_positions({"encoder_positions": 64}), n_positions({})
    (64, 0)
    """
    value = config.get(CONFIG_KEY) if isinstance(config, dict) else getattr(config, CONFIG_KEY, 0)
    return int(value or 0)


def item_range(config) -> tuple[int, int] | None:
    """The ``[first, end)`` item-token ids a config counts positions over, or None (count tokens).

    >>> item_range({"encoder_position_items": [8000, 9682]}), item_range({})
    ((8000, 9682), None)
    """
    value = config.get(ITEMS_KEY) if isinstance(config, dict) else getattr(config, ITEMS_KEY, None)
    return (int(value[0]), int(value[1])) if value else None


def items_from_end(input_ids: torch.Tensor, first: int, end: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each atomic item token, how many item tokens follow it in its row (0 = the newest item;
    capped at ``n - 1``), and the mask of item tokens. Whatever words a template puts around the
    history, the newest item gets 0 — the recency signal is the same for every template.

    >>> pos, is_item = items_from_end(torch.tensor([[3, 10, 11, 4, 12, 1]]), 10, 20, n=8)
    >>> pos.tolist(), is_item.tolist()
    ([[0, 2, 1, 0, 0, 0]], [[False, True, True, False, True, False]])
    """
    is_item = (input_ids >= first) & (input_ids < end)
    after = is_item.flip(1).long().cumsum(1).flip(1) - is_item.long()
    return torch.where(is_item, after, torch.zeros_like(after)).clamp(max=n - 1), is_item


def distance_from_end(input_ids: torch.Tensor, pad_token_id: int, n: int) -> torch.Tensor:
    """Each token's distance from its row's last non-pad token, capped at ``n - 1`` (pads: 0;
    right padding, as T5 tokenizers pad)."""
    real = input_ids != pad_token_id
    length = real.sum(1, keepdim=True)
    back = length - 1 - torch.arange(input_ids.shape[1], device=input_ids.device)[None]
    return back.clamp(min=0, max=n - 1)


class PositionedEmbedding(nn.Embedding):
    """Token embedding + learned distance-from-end embedding (zero on padding)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, n_positions: int, pad_token_id: int = 0,
                 init_std: float = 1.0, items: tuple[int, int] | None = None):
        super().__init__(num_embeddings, embedding_dim)
        self.n_positions, self.pad_token_id, self.items = int(n_positions), int(pad_token_id), items
        self.positions = nn.Embedding(self.n_positions, embedding_dim)
        nn.init.normal_(self.positions.weight, std=init_std)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = super().forward(input_ids)
        if self.items is not None:
            back, keep = items_from_end(input_ids, *self.items, self.n_positions)
        else:
            back, keep = distance_from_end(input_ids, self.pad_token_id, self.n_positions), input_ids != self.pad_token_id
        pos = self.positions(back) * keep.unsqueeze(-1).to(x.dtype)
        return x + pos.to(x.dtype)


class PositionedT5(T5ForConditionalGeneration):
    """T5 whose encoder input carries ``PositionedEmbedding`` when ``config.encoder_positions > 0``."""

    def __init__(self, config):
        super().__init__(config)
        n = n_positions(config)
        if n > 0:
            emb = PositionedEmbedding(config.vocab_size, config.d_model, n, config.pad_token_id,
                                      init_std=config.initializer_factor, items=item_range(config))
            emb.weight = self.shared.weight          # tied to the shared table, as T5's encoder embedding is
            self.encoder.embed_tokens = emb

    def set_input_embeddings(self, new_embeddings):
        """Resizing (``resize_token_embeddings``) swaps the table: the positions stay, re-tied."""
        pos = self.encoder.embed_tokens if isinstance(self.encoder.embed_tokens, PositionedEmbedding) else None
        super().set_input_embeddings(new_embeddings)
        if pos is not None:
            pos.weight, pos.num_embeddings = new_embeddings.weight, new_embeddings.num_embeddings
            self.encoder.embed_tokens = pos


__all__ = ["PositionedEmbedding", "PositionedT5", "distance_from_end", "items_from_end", "item_range", "n_positions",
           "CONFIG_KEY", "ITEMS_KEY"]

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


def n_positions(config) -> int:
    """The encoder positions a config asks for (0: none); ``config`` is a ``T5Config`` or the
    mapping read from a saved config.json.

    >>> n_positions({"encoder_positions": 64}), n_positions({})
    (64, 0)
    """
    value = config.get(CONFIG_KEY) if isinstance(config, dict) else getattr(config, CONFIG_KEY, 0)
    return int(value or 0)


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
                 init_std: float = 1.0):
        super().__init__(num_embeddings, embedding_dim)
        self.n_positions, self.pad_token_id = int(n_positions), int(pad_token_id)
        self.positions = nn.Embedding(self.n_positions, embedding_dim)
        nn.init.normal_(self.positions.weight, std=init_std)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = super().forward(input_ids)
        back = distance_from_end(input_ids, self.pad_token_id, self.n_positions)
        pos = self.positions(back) * (input_ids != self.pad_token_id).unsqueeze(-1).to(x.dtype)
        return x + pos.to(x.dtype)


class PositionedT5(T5ForConditionalGeneration):
    """T5 whose encoder input carries ``PositionedEmbedding`` when ``config.encoder_positions > 0``."""

    def __init__(self, config):
        super().__init__(config)
        n = n_positions(config)
        if n > 0:
            emb = PositionedEmbedding(config.vocab_size, config.d_model, n, config.pad_token_id,
                                      init_std=config.initializer_factor)
            emb.weight = self.shared.weight          # tied to the shared table, as T5's encoder embedding is
            self.encoder.embed_tokens = emb

    def set_input_embeddings(self, new_embeddings):
        """Resizing (``resize_token_embeddings``) swaps the table: the positions stay, re-tied."""
        pos = self.encoder.embed_tokens if isinstance(self.encoder.embed_tokens, PositionedEmbedding) else None
        super().set_input_embeddings(new_embeddings)
        if pos is not None:
            pos.weight, pos.num_embeddings = new_embeddings.weight, new_embeddings.num_embeddings
            self.encoder.embed_tokens = pos


__all__ = ["PositionedEmbedding", "PositionedT5", "distance_from_end", "n_positions", "CONFIG_KEY"]

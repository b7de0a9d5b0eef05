"""Item encoders: collaborative-filtering (CF) vectors → one soft token per item (ILM, issue 24).

Each item has one vector per CF source (``BPR``, ``SASRec``: ``baselines.cf_embeddings``, trained
on the train split only). Two designs map them to the backbone's width ``d_model``:

- ``MLPItemEncoder`` — the CoLLM design: the sources concatenated, a two-layer MLP;
- ``QFormerItemEncoder`` — BLIP-2's querying transformer as ILM uses it: ``n_queries`` learned
  query vectors self-attend and cross-attend to the item's CF tokens (one token per source,
  each cut into ``chunks`` pieces so cross-attention has more than one key), then the queries'
  mean is the item's representation (``represent``, what phase 1 trains).

Both end in a linear **adaptor** to ``d_model``, zero-initialised: before training, every soft
token is 0 and the backbone reads exactly what it read before (``soft_tokens``).

>>> import torch
>>> enc = QFormerItemEncoder([8, 8], d_model=16, width=12, n_queries=2, layers=1, heads=2, chunks=2)
>>> enc(torch.randn(5, 8), torch.randn(5, 8)).shape, float(enc(torch.randn(5, 8), torch.randn(5, 8)).abs().sum())
(torch.Size([5, 16]), 0.0)
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class ItemEncoder(nn.Module):
    """``represent(*cf) -> (items, width)`` then ``adaptor`` → ``(items, d_model)``."""

    width: int

    def __init__(self, width: int, d_model: int) -> None:
        super().__init__()
        self.width = width
        self.adaptor = nn.Linear(width, d_model)
        nn.init.zeros_(self.adaptor.weight)
        nn.init.zeros_(self.adaptor.bias)

    def represent(self, *cf: torch.Tensor) -> torch.Tensor:   # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, *cf: torch.Tensor) -> torch.Tensor:
        return self.adaptor(self.represent(*cf))


class MLPItemEncoder(ItemEncoder):
    """The CF sources concatenated → Linear → GELU → Linear (CoLLM's MLP mapping)."""

    def __init__(self, dims: Sequence[int], d_model: int, width: int = 128, dropout: float = 0.1) -> None:
        super().__init__(width, d_model)
        self.net = nn.Sequential(nn.Linear(sum(dims), width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, width))

    def represent(self, *cf: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat(cf, dim=-1))


class QFormerItemEncoder(ItemEncoder):
    """Learned queries over the item's CF tokens (self-attention, cross-attention, feed-forward)."""

    def __init__(self, dims: Sequence[int], d_model: int, width: int = 128, n_queries: int = 4, layers: int = 2,
                 heads: int = 4, chunks: int = 4, dropout: float = 0.1) -> None:
        super().__init__(width, d_model)
        for d in dims:
            if d % chunks:
                raise ValueError(f"a CF dimension ({d}) must be a multiple of chunks ({chunks})")
        self.chunks = chunks
        self.inputs = nn.ModuleList(nn.Linear(d // chunks, width) for d in dims)
        self.kv_pos = nn.Parameter(torch.randn(len(dims) * chunks, width) * 0.02)
        self.queries = nn.Parameter(torch.randn(n_queries, width) * 0.02)
        layer = nn.TransformerDecoderLayer(width, heads, dim_feedforward=4 * width, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.blocks = nn.TransformerDecoder(layer, layers)
        self.norm = nn.LayerNorm(width)

    def represent(self, *cf: torch.Tensor) -> torch.Tensor:
        n = cf[0].shape[0]
        kv = torch.cat([proj(x.reshape(n, self.chunks, -1)) for proj, x in zip(self.inputs, cf)], dim=1)
        q = self.queries.unsqueeze(0).expand(n, -1, -1)
        out = self.blocks(q, kv + self.kv_pos)      # no masks: every query sees every query and every CF token
        return self.norm(out.mean(dim=1))


def build_encoder(kind: str, dims: Sequence[int], d_model: int, **kw) -> ItemEncoder:
    """``kind`` in ``mlp`` / ``qformer``."""
    if kind == "mlp":
        return MLPItemEncoder(dims, d_model, **{k: v for k, v in kw.items() if k in ("width", "dropout")})
    if kind == "qformer":
        return QFormerItemEncoder(dims, d_model, **kw)
    raise ValueError(f"unknown item encoder {kind!r} (known: mlp, qformer)")


__all__ = ["ItemEncoder", "MLPItemEncoder", "QFormerItemEncoder", "build_encoder"]

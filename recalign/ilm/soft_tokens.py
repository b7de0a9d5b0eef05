"""Soft item tokens into a frozen seq2seq backbone (ILM, issue 24).

The backbone is an instruction-tuned recalign model whose items are atomic tokens
(``<item_N>``, ``tasks.items``): an item's token is where the prompt — encoder input or decoder
history — holds that item. ``SoftItemEmbedding`` wraps the backbone's (frozen) input embedding:
at every position holding an item token it adds that item's soft token, ``encoder(cf)[item]``,
to the token's own row; every other position is unchanged. So the item encoder's output is
interleaved with the prompt's text exactly where the items are, one soft token per item
(ILM uses a few query tokens per item; one keeps the backbone's sequence layout, its decoder
history included), and a zero adaptor leaves the backbone exactly as it was.

The output side (the tied LM head that ranks item tokens) is the backbone's own, untouched.

>>> # install(model, SoftItems(encoder, cf, token_ids, len(tokenizer))); ...; uninstall(model)
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import torch
from torch import nn

from .encoder import ItemEncoder


class SoftItems(nn.Module):
    """The item encoder and the CF vectors it reads; ``token_ids[k]`` is the vocabulary id of the
    item whose CF vectors are row ``k`` of every tensor in ``cf``."""

    def __init__(self, encoder: ItemEncoder, cf: Sequence[torch.Tensor], token_ids: Sequence[int],
                 vocab_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        for k, t in enumerate(cf):
            self.register_buffer(f"cf_{k}", t.detach().float().clone(), persistent=False)
        self.n_sources = len(cf)
        row = torch.full((vocab_size,), -1, dtype=torch.long)
        row[torch.as_tensor(list(token_ids), dtype=torch.long)] = torch.arange(len(token_ids))
        self.register_buffer("row_of_token", row, persistent=False)

    def cf(self) -> list[torch.Tensor]:
        return [getattr(self, f"cf_{k}") for k in range(self.n_sources)]

    def forward(self) -> torch.Tensor:
        """``(items, d_model)``: every item's soft token — recomputed while gradients flow (they reach
        the encoder), else computed once per state of the CF vectors and the encoder's weights."""
        if torch.is_grad_enabled() or self.encoder.training:
            self._cached = None
            return self.encoder(*self.cf())
        key = tuple(t._version for t in self.cf()) + tuple((id(p), p._version) for p in self.encoder.parameters())
        cached = getattr(self, "_cached", None)
        if cached is None or cached[0] != key:
            self._cached = (key, self.encoder(*self.cf()))
        return self._cached[1]

    def add_to(self, x: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """``x`` (the token embeddings of ``input_ids``) plus the soft token at every item position."""
        rows = self.row_of_token[input_ids.clamp(min=0, max=self.row_of_token.shape[0] - 1)]
        hit = rows >= 0
        if not bool(hit.any()):
            return x
        if torch.is_grad_enabled() or self.encoder.training:
            # training: encode only the items this batch holds (each item's soft token depends on its own
            # CF vectors alone, so this equals indexing the whole table — at a fraction of the cost)
            uniq, inv = torch.unique(rows[hit], return_inverse=True)
            soft_u = self.encoder(*[c[uniq] for c in self.cf()]).to(x.dtype)
            add = torch.zeros_like(x)
            add[hit] = soft_u[inv]
            return x + add
        soft = self().to(x.dtype)[rows.clamp(min=0)]
        return x + torch.where(hit.unsqueeze(-1), soft, torch.zeros((), dtype=x.dtype))


class SoftItemEmbedding(nn.Module):
    """A stack's own token embedding (``base``: T5's shared table, or the encoder's positioned
    one) followed by ``items.add_to``."""

    def __init__(self, base: nn.Module, items: SoftItems) -> None:
        super().__init__()
        self.base, self.items = base, items

    @property
    def weight(self) -> torch.Tensor:          # what callers of an nn.Embedding read (dtype, shape)
        return self.base.weight

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.items.add_to(self.base(input_ids), input_ids)


def install(model, items: SoftItems) -> None:
    """Wrap the token embedding the backbone's encoder and decoder read (the shared matrix, hence
    the tied LM head, is not replaced)."""
    for stack in (model.get_encoder(), model.get_decoder()):
        if not isinstance(stack.embed_tokens, SoftItemEmbedding):
            stack.embed_tokens = SoftItemEmbedding(stack.embed_tokens, items)


def uninstall(model) -> None:
    """Undo ``install``: each stack reads its own embedding again."""
    for stack in (model.get_encoder(), model.get_decoder()):
        if isinstance(stack.embed_tokens, SoftItemEmbedding):
            stack.embed_tokens = stack.embed_tokens.base


def freeze(model) -> str:
    """Freeze every backbone parameter; returns ``weights_hash(model)``."""
    for p in model.parameters():
        p.requires_grad_(False)
    return weights_hash(model)


def weights_hash(model) -> str:
    """sha256 over every parameter and buffer of ``model`` (name, dtype, bytes), in name order."""
    h = hashlib.sha256()
    for name, t in sorted({**dict(model.named_parameters()), **dict(model.named_buffers())}.items()):
        if isinstance(t, torch.Tensor):
            h.update(name.encode())
            h.update(str(t.dtype).encode())
            h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


__all__ = ["SoftItems", "SoftItemEmbedding", "install", "uninstall", "freeze", "weights_hash"]

"""Atomic item IDs in the model: one added vocabulary token per item (``tasks.items``).

``add_item_tokens(tokenizer, run)`` reads the item rule the run's ``RUN/text/manifest.json``
records; when it is atomic it adds the catalogue's ``<item_N>`` tokens (in number order, as
ordinary added tokens: ``decode`` keeps them) and returns the ``ItemWriter``, else None. The
tokens are saved with the tokenizer (``save_pretrained``) and reload with the same ids.

``init_item_rows(model, tokenizer, writer)`` is for a pretrained checkpoint: the embedding
matrix is resized when it is smaller than the tokenizer, and each item token's row (input
embedding, and the output embedding when it is not tied) starts as the mean of the rows of
its title's tokens — the model starts from what it knows of the title, not from noise.

>>> # tok = load_tokenizer("models/flan-t5-base"); w = add_item_tokens(tok, "runs/x")
>>> # model = build_model("models/flan-t5-base", tok); init_item_rows(model, tok, w)
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..run_dir import RunDir
from ..tasks.items import ItemWriter


def run_item_writer(run_dir: str | Path) -> ItemWriter | None:
    """The run's ``ItemWriter`` when its manifest asks for atomic ids (else None)."""
    run = RunDir(run_dir)
    if not run.has_manifest():
        return None
    rule = run.generated_text().item_rule
    if not rule.atomic or not run.has_split():
        return None
    return ItemWriter(run.split().items, rule)


def add_item_tokens(tokenizer, run_dir: str | Path) -> ItemWriter | None:
    """Add the run's atomic item tokens to ``tokenizer`` (those it lacks); the writer or None."""
    writer = run_item_writer(run_dir)
    if writer is None:
        return None
    vocab = tokenizer.get_vocab()
    missing = [t for t in writer.tokens() if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=False)
    return writer


@torch.no_grad()
def init_item_rows(model, tokenizer, writer: ItemWriter) -> int:
    """Resize ``model``'s embeddings to the tokenizer if needed and set each item token's row to
    the mean of its title tokens' rows; returns the number of rows set."""
    from .warm_start import resize_embeddings

    resize_embeddings(model, len(tokenizer))
    inp = model.get_input_embeddings().weight
    # every distinct matrix with a row per token: the input embedding, an encoder-decoder's
    # decoder input embedding (BERT2BERT keeps its own) and the output embedding when untied
    others = [getattr(model.get_decoder(), "get_input_embeddings", lambda: None)()
              if hasattr(model, "get_decoder") else None, model.get_output_embeddings()]
    outs, seen = [], {inp.data_ptr()}
    for m in others:
        if m is not None and m.weight.data_ptr() not in seen and m.weight.shape[0] == inp.shape[0]:
            seen.add(m.weight.data_ptr())
            outs.append(m.weight)
    ids = tokenizer.convert_tokens_to_ids(writer.tokens())
    added = set(ids)
    titles = [writer.title[i] for i in sorted(writer.number, key=writer.number.__getitem__)]
    enc = tokenizer(titles, add_special_tokens=False)["input_ids"]
    n = 0
    for tid, pieces in zip(ids, enc):
        pieces = [p for p in pieces if p < inp.shape[0] and p not in added] or [tokenizer.unk_token_id]
        idx = torch.tensor(pieces, dtype=torch.long, device=inp.device)
        inp[tid] = inp.index_select(0, idx).mean(0)
        for w in outs:
            w[tid] = w.index_select(0, idx).mean(0)
        n += 1
    return n


__all__ = ["add_item_tokens", "init_item_rows", "run_item_writer"]

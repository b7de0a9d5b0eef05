"""Exact full ranking for atomic item IDs: one decoder step, one softmax, the whole catalogue.

When the run's target is an atomic item token (``item_target: id``, ``item_ids: atomic``,
see ``tasks.items``) an item is one vocabulary token, so the model's first decoding step
already holds a score for every item: the encoder runs once per user, the decoder runs one
step from the start token (after the forced history when the input has a decoder prefix,
``tasks/layout.py``), and ``log_softmax`` over the item tokens' logits (only those: the
catalogue is the event space) ranks the whole catalogue exactly. The user's masking set is set
to ``-inf`` before sorting; ties keep catalogue order. No beam, no trie: the ranking is what
the model assigns, not what a search found.

>>> # rank_items(model, tok, ["History: <item_3> <item_9>"], ["a", "b", "c"], [301, 302, 303],
>>> #            [["a"]], top_k=2)  →  [[("c", -0.4), ("b", -1.1)]]
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from tqdm.auto import tqdm

from ..progress import bars
from ..errors import RecalignError
from .inputs import Encode, Row, text_encoder


def atomic_token_ids(item_texts: Mapping[str, str], tokenizer) -> tuple[list[str], list[int]]:
    """``(items, token ids)``: each item's target text must be exactly one vocabulary token."""
    items = list(item_texts)
    ids = tokenizer.convert_tokens_to_ids([item_texts[i] for i in items])
    unk = tokenizer.unk_token_id
    bad = [item_texts[i] for i, t in zip(items, ids) if t is None or t == unk]
    if bad:
        raise RecalignError(f"{len(bad)} item tokens are not in the model's vocabulary (e.g. {bad[0]!r}): "
                            "was the model trained on this run's atomic-ID text?", field="item_ids")
    return items, [int(t) for t in ids]


def decoder_prefix(prefix_ids: Sequence[Sequence[int]], start: int, pad: int, device) -> tuple:
    """``(decoder_input_ids, last)``: per row the start token then the prefix, right-padded (the decoder
    is causal: padding after a row's last token changes nothing before it), and each row's last
    position, whose logits score the next token.

    >>> decoder_prefix([[7, 8], []], start=0, pad=0, device="cpu")
    (tensor([[0, 7, 8],
            [0, 0, 0]]), tensor([2, 0]))
    """
    width = 1 + max((len(p) for p in prefix_ids), default=0)
    dec = torch.full((len(prefix_ids), width), pad, dtype=torch.long)
    dec[:, 0] = start
    for r, p in enumerate(prefix_ids):
        if p:
            dec[r, 1:1 + len(p)] = torch.tensor(list(p), dtype=torch.long)
    last = torch.tensor([len(p) for p in prefix_ids], dtype=torch.long)
    return dec.to(device), last.to(device)


@torch.inference_mode()
def rank_items(model, tokenizer, inputs: Sequence[Row], items: Sequence[str], token_ids: Sequence[int],
               exclude: Sequence[Sequence[str]], *, top_k: int | None = None, batch_size: int = 64,
               max_input_length: int = 512, progress: bool = False,
               encode: Encode | None = None) -> list[list[tuple[str, float]]]:
    """Per input: the catalogue (``items``, whose tokens are ``token_ids``) minus ``exclude[u]``,
    best first, with log-probabilities (normalized over the item tokens); the first ``top_k``
    (default: every non-excluded item). ``inputs``: rows or input texts, encoded by ``encode``
    (default: the text encoding, ``eval.inputs``)."""
    if len(exclude) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(exclude)} exclusion lists")
    model.eval()
    device = next(model.parameters()).device
    tid = torch.tensor(list(token_ids), dtype=torch.long, device=device)
    pos = {it: k for k, it in enumerate(items)}
    start = model.config.decoder_start_token_id
    start = tokenizer.pad_token_id if start is None else start
    encode = encode or text_encoder(tokenizer, device, max_input_length)
    out: list[list[tuple[str, float]]] = []
    bar = tqdm(total=len(inputs), desc="item ranking", unit="user", disable=not bars(progress), leave=False)
    for b in range(0, len(inputs), batch_size):
        chunk = inputs[b:b + batch_size]
        enc = encode(chunk)
        dec, last = decoder_prefix(enc.prefixes, start, tokenizer.pad_token_id, device)
        logits = model(**enc.model_kwargs, decoder_input_ids=dec).logits
        logits = logits[torch.arange(len(chunk), device=device), last, :].float()
        lp = torch.log_softmax(logits.index_select(1, tid), dim=-1)
        for r, ex in enumerate(exclude[b:b + batch_size]):
            idx = [pos[e] for e in ex if e in pos]
            if idx:
                lp[r, idx] = float("-inf")
        vals, order = torch.sort(lp, dim=1, descending=True, stable=True)
        vals, order = vals.cpu().tolist(), order.cpu().tolist()
        for v, o in zip(vals, order):
            n = sum(1 for x in v if x != float("-inf"))
            k = n if top_k is None else min(top_k, n)
            out.append([(items[j], s) for j, s in zip(o[:k], v[:k])])
        bar.update(len(chunk))
    bar.close()
    return out


__all__ = ["rank_items", "atomic_token_ids"]

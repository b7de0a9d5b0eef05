"""Phase 1: pretrain the item encoder on item–text pairs (BLIP-2's losses) and co-occurring items.

For a batch of items, ``encoder.represent(cf)`` is matched with the item's text — what recalign
writes for an item (``embed.items.item_text``: title, year, genres) embedded once by the frozen
pretrained MiniLM (``minilm``; BLIP-2 pairs its Q-Former with a frozen image encoder and BERT):

- **ITC**, item–text contrastive: in-batch InfoNCE both ways between the item and text projections;
- **ITG**, item-grounded text generation: the item's representation predicts its text's WordPiece
  tokens (the log-likelihood of the text's tokens as an unordered bag — BLIP-2 decodes the text
  with the Q-Former itself; a bag keeps phase 1 cheap on a CPU; said so in the README);
- **ITM**, item–text matching: a binary classifier on (item, text) pairs, each item's negative the
  batch's most similar other text (BLIP-2's hard negatives);
- **IIC**, item–item contrastive (ILM's addition, optional): pairs of items that follow each other
  within a window in a user's *train* items (``data.cooccurring_pairs``), in-batch InfoNCE.

The projections and heads are phase 1's own and are dropped after it; the encoder keeps what
they taught it.
"""
from __future__ import annotations

import random
import time
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import ItemEncoder

LOSSES = ("itc", "itg", "itm", "iic")


def item_texts_embedded(texts: Sequence[str], model: str = "minilm", batch_size: int = 128):
    """``(embeddings (n, dim), token ids per text, vocab size)`` from the frozen sentence encoder."""
    from ..embed.model import load_embedder

    st = load_embedder(model)
    emb = st.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True,
                    show_progress_bar=False).float().cpu()
    tok = st.tokenizer
    ids = [sorted(set(tok(t, add_special_tokens=False)["input_ids"])) for t in texts]
    return emb, ids, len(tok)


class Phase1Heads(nn.Module):
    def __init__(self, width: int, text_dim: int, vocab: int, proj: int = 128) -> None:
        super().__init__()
        self.item_proj, self.text_proj = nn.Linear(width, proj), nn.Linear(text_dim, proj)
        self.pair_proj = nn.Linear(width, proj)
        self.itm = nn.Sequential(nn.Linear(2 * proj, proj), nn.GELU(), nn.Linear(proj, 1))
        self.itg = nn.Linear(width, vocab)
        self.log_temp = nn.Parameter(torch.tensor(0.07).log())


def _infonce(a: torch.Tensor, b: torch.Tensor, temp: torch.Tensor) -> torch.Tensor:
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temp
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target)) / 2


def pretrain(encoder: ItemEncoder, cf: Sequence[torch.Tensor], text_emb: torch.Tensor, text_ids: list[list[int]],
             vocab: int, pairs: list[tuple[int, int]] | None, *, steps: int = 300, batch_size: int = 128,
             lr: float = 1e-3, seed: int = 0, log=print) -> dict:
    """Train ``encoder.represent`` (not its adaptor) with ITC + ITG + ITM (+ IIC when ``pairs``).
    Returns the first and last loss of each term and the seconds taken."""
    torch.manual_seed(seed)
    rng = random.Random(f"{seed}/ilm-phase1")
    n, dev = cf[0].shape[0], cf[0].device
    heads = Phase1Heads(encoder.width, text_emb.shape[1], vocab).to(dev)
    text_emb = text_emb.to(dev)
    params = [p for name, p in encoder.named_parameters() if not name.startswith("adaptor.")]
    opt = torch.optim.AdamW([*params, *heads.parameters()], lr=lr, weight_decay=0.01)
    encoder.train()
    history: dict[str, list[float]] = {k: [] for k in LOSSES}
    t0 = time.perf_counter()
    bs = min(batch_size, n)
    for step in range(steps):
        idx = torch.tensor(rng.sample(range(n), bs), device=dev)
        z = encoder.represent(*[c[idx] for c in cf])
        temp = heads.log_temp.exp().clamp(min=0.01)
        zi, zt = heads.item_proj(z), heads.text_proj(text_emb[idx])
        terms = {"itc": _infonce(zi, zt, temp)}
        logp = F.log_softmax(heads.itg(z), dim=-1)
        terms["itg"] = torch.stack([-logp[k, torch.tensor(text_ids[int(i)], device=dev)].mean()
                                    for k, i in enumerate(idx) if text_ids[int(i)]]).mean()
        with torch.no_grad():
            s = F.normalize(zi, dim=-1) @ F.normalize(zt, dim=-1).T
            s.fill_diagonal_(-float("inf"))
            hard = s.argmax(1)
        pos = heads.itm(torch.cat([zi, zt], -1)).squeeze(-1)
        neg = heads.itm(torch.cat([zi, zt[hard]], -1)).squeeze(-1)
        terms["itm"] = F.binary_cross_entropy_with_logits(torch.cat([pos, neg]),
                                                          torch.cat([torch.ones(bs, device=dev), torch.zeros(bs, device=dev)]))
        if pairs:
            pb = [pairs[rng.randrange(len(pairs))] for _ in range(bs)]
            a = torch.tensor([p[0] for p in pb], device=dev)
            b = torch.tensor([p[1] for p in pb], device=dev)
            za = heads.pair_proj(encoder.represent(*[c[a] for c in cf]))
            zb = heads.pair_proj(encoder.represent(*[c[b] for c in cf]))
            terms["iic"] = _infonce(za, zb, temp)
        loss = sum(terms.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k, v in terms.items():
            history[k].append(float(v.detach()))
        if log and (step + 1) % max(1, steps // 5) == 0:
            log(f"[ilm phase 1] step {step + 1}/{steps}: " + ", ".join(f"{k} {v:.3f}" for k, v in terms.items()))
    encoder.eval()
    return {"steps": steps, "batch_size": bs, "seconds": round(time.perf_counter() - t0, 1),
            "losses": {k: {"first": round(v[0], 4), "last": round(sum(v[-10:]) / len(v[-10:]), 4)}
                       for k, v in history.items() if v}}


__all__ = ["pretrain", "item_texts_embedded", "LOSSES"]

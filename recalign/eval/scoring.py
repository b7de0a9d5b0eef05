"""Log-likelihood scoring of candidate titles under a seq2seq model.

``score(x, title) = sum_t log p(title_t | title_<t, x)`` over the title's tokens
*including* EOS (exactly what constrained beam search accumulates with no length
penalty); the length-normalized score divides by that token count.

Two uses:

- the **ranking** task: score the candidate list stored with each example;
- the **exact** retrieval mode: score every title in the catalogue for every user
  (full ranking by scoring, for small catalogues), to measure what beam search loses.

An input with a decoder prefix (``tasks/layout.py``) has it forced before every candidate: the
prefix's tokens are fed, not scored. Each input is encoded once; its candidates are decoded in batches of
``pair_batch_size`` (input, title) pairs that reuse the encoder states.

Example (a model and its tokenizer; tests/test_scoring.py checks it against a forward pass)::

    s = score_token_ids(model, tok, ["user text"], [[[71, 3], [8, 9, 4]]])
    s[0].logp, s[0].n_tokens   # (array([-4.2, -7.9]), array([3, 4])): log-prob sums, tokens with EOS
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..progress import bars
from ..tasks.evaluation import rank_by_score  # noqa: F401 — re-exported
from .inputs import Encode, Row, text_encoder
from .trie import Exclusion, TitleTrie, item_token_ids


@dataclass
class Scores:
    """Scores of one input's candidates, in the candidates' order."""

    logp: np.ndarray        # sum of token log-probs (EOS included)
    n_tokens: np.ndarray    # tokens scored per candidate

    @property
    def normalized(self) -> np.ndarray:
        return self.logp / np.maximum(self.n_tokens, 1)


def _progress(total: int, desc: str, enabled: bool):
    return tqdm(total=total, desc=desc, unit="user", disable=not bars(enabled), leave=False)


@torch.inference_mode()
def score_token_ids(model, tokenizer, inputs: Sequence[Row], candidates: Sequence[Sequence[Sequence[int]]], *,
                    eos_token_id: int | None = None, user_batch_size: int = 32, pair_batch_size: int = 256,
                    max_input_length: int = 512, progress: bool = False, desc: str = "scoring",
                    encode: Encode | None = None) -> list[Scores]:
    """Score ``candidates[u]`` (token ids without EOS; EOS is appended) given ``inputs[u]`` (a row or
    its input text, encoded by ``encode``; default: the text encoding, ``eval.inputs``)."""
    n = len(inputs)
    if len(candidates) != n:
        raise ValueError(f"{n} inputs but {len(candidates)} candidate lists")
    model.eval()
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
    encoder = model.get_encoder()
    encode = encode or text_encoder(tokenizer, device, max_input_length)
    out: list[Scores] = [Scores(np.zeros(0), np.zeros(0, dtype=np.int64))] * n
    bar = _progress(n, desc, progress)
    for s in range(0, n, user_batch_size):
        ub = list(range(s, min(n, s + user_batch_size)))
        enc = encode([inputs[u] for u in ub])
        pre = enc.prefixes                                            # a decoder prefix is forced, not scored
        hidden = encoder(**{k: v for k, v in enc.model_kwargs.items()
                            if k in ("input_ids", "inputs_embeds", "attention_mask")}).last_hidden_state
        pairs = [(k, list(c) + [eos]) for k, u in enumerate(ub) for c in candidates[u]]
        logp = np.zeros(len(pairs))
        ntok = np.array([len(p[1]) for p in pairs], dtype=np.int64)
        by_len = np.argsort(ntok + np.array([len(pre[k]) for k, _ in pairs], dtype=np.int64), kind="stable")
        for p0 in range(0, len(pairs), pair_batch_size):   # similar lengths together: little padding
            sel = by_len[p0:p0 + pair_batch_size]
            chunk = [pairs[j] for j in sel]
            rows = torch.tensor([k for k, _ in chunk], device=device)
            width = max(len(pre[k]) + len(t) for k, t in chunk)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            scored = torch.zeros((len(chunk), width), dtype=torch.bool)
            for r, (k, t) in enumerate(chunk):
                labels[r, :len(pre[k]) + len(t)] = torch.tensor(pre[k] + t)
                scored[r, len(pre[k]):len(pre[k]) + len(t)] = True
            labels, scored = labels.to(device), scored.to(device)
            dec_in = model.prepare_decoder_input_ids_from_labels(labels=labels)
            logits = model(encoder_outputs=(hidden[rows],), attention_mask=enc.attention_mask[rows],
                           decoder_input_ids=dec_in).logits
            lp = torch.log_softmax(logits.float(), dim=-1)
            tok_lp = lp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * scored
            logp[sel] = tok_lp.sum(-1).double().cpu().numpy()
        pos = 0
        for u in ub:
            m = len(candidates[u])
            out[u] = Scores(logp[pos:pos + m], ntok[pos:pos + m])
            pos += m
        bar.update(len(ub))
    bar.close()
    return out


def score_titles(model, tokenizer, inputs: Sequence[Row], candidates: Sequence[Sequence[str]],
                 titles: Mapping[str, str], **kw) -> list[Scores]:
    """Score candidate *item ids* by their titles (``titles``: item id → title)."""
    needed = {i: titles[i] for c in candidates for i in c}
    ids = item_token_ids(needed, tokenizer)
    return score_token_ids(model, tokenizer, inputs, [[ids[i] for i in c] for c in candidates], **kw)


def exact_rankings(model, tokenizer, inputs: Sequence[Row], trie: TitleTrie,
                   exclusions: Sequence[Exclusion | None], *, top_k: int | None = None,
                   normalized: bool = False, **kw) -> list[list[tuple[str, float]]]:
    """Full ranking by scoring: every non-excluded title, by log-likelihood (sum of token
    log-probs, or per token if ``normalized``), best first; ``top_k`` keeps the head only.

    Costs one decoder pass per (user, title): meant for small catalogues and checks.
    """
    items = list(trie.paths)
    seqs = [trie.token_ids[i] for i in items]
    keep = [[k for k, it in enumerate(items) if ex is None or it not in ex.items] for ex in exclusions]
    sc = score_token_ids(model, tokenizer, inputs, [[seqs[k] for k in kk] for kk in keep],
                         eos_token_id=trie.eos_token_id, desc="exact scoring", **kw)
    res = []
    for kk, s in zip(keep, sc):
        v = s.normalized if normalized else s.logp
        order = np.argsort(-v, kind="stable")[:top_k]
        res.append([(items[kk[o]], float(v[o])) for o in order])
    return res


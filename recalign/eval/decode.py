"""Retrieval by trie-constrained beam search: every beam is a real item title.

The beams, best first, are the ranking. Items in the user's input history are
excluded *inside* the search (the trie forbids every token that only leads to
excluded titles), so no beam is wasted on them and none is ever ranked.

Scores: with ``length_penalty=0`` (the default) a beam's score is the sum of its
tokens' log-probabilities under the model — the title's true log-likelihood,
identical to what ``scoring.score_token_ids`` computes for it. A positive
length penalty divides by ``len ** length_penalty`` (Hugging Face's rule; the
library default is 1.0). Ranking by the true probability does better, hence
the default: on ml-100k valid (943 users, t5-tiny trained 2,000 steps on
retrieval, beam 20) length_penalty 0 gave Recall@10 0.055 / NDCG@10 0.024 and
length_penalty 1 gave 0.041 / 0.018 (benchmarks/RESULTS.md, "Evaluation speed").

Beams whose score is ``-inf`` (fewer titles left than beams) are dropped: a user
can get fewer than ``beam`` ranked items, and the items after the last beam are
simply not ranked. Top-K metrics with ``K <= beam`` are therefore exact for what
the search found; items beyond the beam count as misses.

Example (a trained model and its tokenizer; see tests/test_decode.py for a runnable one)::

    trie = TitleTrie.from_titles(titles, tok)
    ranked = constrained_beam_search(model, tok, ["user history ..."], trie,
                                     [trie.exclusion(history)], beam=20)
    ranked[0][:2]   # [('i42', -3.1), ('i7', -3.9)]: (item id, log-likelihood), best first
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ..progress import bars
from ..tasks.layout import refuse_prefix
from .inputs import Encode, Row, input_texts, text_encoder
from .trie import Exclusion, TitleTrie

DEFAULT_BEAM = 20
DEFAULT_LENGTH_PENALTY = 0.0


def _progress(total: int, desc: str, enabled: bool):
    return tqdm(total=total, desc=desc, unit="user", disable=not bars(enabled), leave=False)


def _generation_config(model, *, beam: int, length_penalty: float, max_new_tokens: int, eos: int, pad: int):
    gc = copy.deepcopy(model.generation_config)
    gc.update(num_beams=beam, num_return_sequences=beam, do_sample=False, length_penalty=float(length_penalty),
              early_stopping=False, max_new_tokens=max_new_tokens, max_length=None, min_length=0,
              min_new_tokens=None, no_repeat_ngram_size=0, repetition_penalty=1.0, bad_words_ids=None,
              forced_bos_token_id=None, forced_eos_token_id=None, num_beam_groups=1, diversity_penalty=0.0,
              output_scores=True, return_dict_in_generate=True, eos_token_id=eos, pad_token_id=pad,
              temperature=None, top_k=None, top_p=None)
    return gc


@torch.inference_mode()
def constrained_beam_search(model, tokenizer, inputs: Sequence[Row], trie: TitleTrie,
                            exclusions: Sequence[Exclusion | None] | None = None, *,
                            beam: int = DEFAULT_BEAM, length_penalty: float = DEFAULT_LENGTH_PENALTY,
                            batch_size: int = 16, max_input_length: int = 512,
                            progress: bool = False, encode: Encode | None = None) -> list[list[tuple[str, float]]]:
    """Rank items for each input (a row or its text, encoded by ``encode``; default: the text
    encoding, ``eval.inputs``) by trie-constrained beam search.

    Returns, per input, ``[(item_id, score), ...]`` best first: at most ``beam`` items, never
    an excluded one, each item once. Inputs are batched (sorted by length to limit padding);
    the output keeps the input order.
    """
    texts = input_texts(inputs)
    refuse_prefix(texts, "trie-constrained beam search")
    n = len(inputs)
    if exclusions is None:
        exclusions = [None] * n
    if len(exclusions) != n:
        raise ValueError(f"{n} inputs but {len(exclusions)} exclusions")
    model.eval()
    device = next(model.parameters()).device
    eos = trie.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.config.pad_token_id
    gc = _generation_config(model, beam=beam, length_penalty=length_penalty, max_new_tokens=trie.max_len,
                            eos=eos, pad=pad)
    encode = encode or text_encoder(tokenizer, device, max_input_length)
    lengths = [len(x) for x in tokenizer(texts, truncation=True, max_length=max_input_length)["input_ids"]]
    order = sorted(range(n), key=lambda i: -lengths[i])
    results: list[list[tuple[str, float]]] = [[] for _ in range(n)]
    bar = _progress(n, f"beam search (beam {beam})", progress)
    for s in range(0, n, batch_size):
        idx = order[s:s + batch_size]
        exs = [exclusions[i] for i in idx]
        enc = encode([inputs[i] for i in idx]).model_kwargs

        def allowed(batch_id: int, sent: torch.Tensor, _exs=exs) -> list[int]:
            node = trie.node(sent.tolist()[1:])   # position 0 is the decoder start token
            if node is None:
                return [eos]          # a dead beam (already -inf): any token keeps it dead
            lst = trie.allowed_at(node, _exs[batch_id])
            return lst if lst else [eos]

        # transformers fills every unset (None) value of ``gc`` from ``model.generation_config``: the
        # checkpoint's own settings (min_new_tokens, bad_words_ids, forced tokens …) would come back
        saved, model.generation_config = model.generation_config, gc
        try:
            out = model.generate(**enc, generation_config=gc, prefix_allowed_tokens_fn=allowed)
        finally:
            model.generation_config = saved
        seqs = out.sequences.view(len(idx), beam, -1)[:, :, 1:].tolist()
        scores = out.sequences_scores.view(len(idx), beam).tolist()
        for j, i in enumerate(idx):
            ranked, seen = [], set()
            for seq, sc in zip(seqs[j], scores[j]):
                if not math.isfinite(sc) or sc <= -1e8:   # -1e9 marks an unfilled beam slot
                    continue
                for item in trie.items_at(seq, exs[j]):
                    if item not in seen:
                        seen.add(item)
                        ranked.append((item, float(sc)))
            results[i] = ranked
        bar.update(len(idx))
    bar.close()
    return results

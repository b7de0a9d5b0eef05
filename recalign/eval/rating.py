"""Rating prediction with a model: greedy short answers, and every scale value scored.

The rating answer format (``fmt_rating`` writes a target, ``parse_rating`` reads an answer
back) and the rating evaluator live with the task, in ``recalign.tasks.rating``; this
module holds the model side.

``scored_ratings`` needs no parsing: it scores each rating value of the scale as the
target text (``"1"`` … ``"5"``, as ``fmt_rating`` writes them) by its log-likelihood,
normalizes over the scale, and predicts the expected value (``E[r]``) and the most likely
value (``argmax``). Every user gets a prediction, whatever the model would have generated.

>>> rating_report(["4", "five", "n/a"], [4.0, 3.0, 2.0], scale=(1.0, 5.0), fallback=3.0)[0]["unparsable"]
1
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ..progress import bars
from ..tasks import rating as rating_task
from ..tasks.rating import expected_ratings, fmt_rating, parse_rating
from ..tasks.layout import prefix_token_ids, split_inputs
from .inputs import Encode, Row, input_texts, text_encoder
from .metrics import rating_metrics
from .scoring import score_token_ids
from .trie import item_token_ids

__all__ = ["generate_answers", "scored_ratings", "rating_report", "parse_rating", "fmt_rating"]


@torch.inference_mode()
def generate_answers(model, tokenizer, inputs: Sequence[Row], *, batch_size: int = 32, max_new_tokens: int = 8,
                     max_input_length: int = 512, progress: bool = False, encode: Encode | None = None) -> list[str]:
    """Greedy generation of a short answer per input (batched, order kept). An input with a decoder
    prefix (``tasks/layout.py``) has it forced: inputs are batched by prefix length, the prefix is fed
    after the start token and only what follows it is the answer. ``inputs``: rows or their texts,
    encoded by ``encode`` (default: the text encoding, ``eval.inputs``)."""
    model.eval()
    device = next(model.parameters()).device
    gc = copy.deepcopy(model.generation_config)
    gc.update(num_beams=1, do_sample=False, max_new_tokens=max_new_tokens, max_length=None, min_length=0,
              num_return_sequences=1, temperature=None, top_k=None, top_p=None,
              eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    texts, prefixes = split_inputs(input_texts(inputs))
    pre = prefix_token_ids(tokenizer, prefixes)            # the batching order only
    encode = encode or text_encoder(tokenizer, device, max_input_length)
    start = model.config.decoder_start_token_id
    start = tokenizer.pad_token_id if start is None else start
    order = sorted(range(len(texts)), key=lambda i: len(pre[i]))      # one prefix length per batch
    out: list[str] = [""] * len(texts)
    bar = tqdm(total=len(inputs), desc="rating", unit="user", disable=not bars(progress), leave=False)
    s = 0
    while s < len(order):
        n = len(pre[order[s]])
        chunk = [i for i in order[s:s + batch_size] if len(pre[i]) == n]
        enc = encode([inputs[i] for i in chunk]).model_kwargs
        kw = {}
        if n:
            kw["decoder_input_ids"] = torch.tensor([[start, *pre[i]] for i in chunk], device=device)
        seqs = model.generate(**enc, generation_config=gc, **kw)
        answers = tokenizer.batch_decode(seqs[:, 1 + n:] if n else seqs, skip_special_tokens=True)
        for i, t in zip(chunk, answers):
            out[i] = t.strip()
        bar.update(len(chunk))
        s += len(chunk)
    bar.close()
    return out


@torch.inference_mode()
def scored_ratings(model, tokenizer, inputs: Sequence[str], values: Sequence[float], *, batch_size: int = 32,
                   max_input_length: int = 512, progress: bool = False) -> tuple[list[float], list[float], list[list[float]]]:
    """Per input: (expected rating, most likely rating, probabilities over ``values``).

    ``values`` are the rating scale's values, scored as target text ``fmt_rating(v)``.
    """
    values = [float(v) for v in values]
    ids = list(item_token_ids({str(k): fmt_rating(v) for k, v in enumerate(values)}, tokenizer).values())
    sc = score_token_ids(model, tokenizer, inputs, [ids] * len(inputs), user_batch_size=batch_size,
                         max_input_length=max_input_length, progress=progress, desc="rating (scored)")
    return expected_ratings([s.logp for s in sc], values)


def rating_report(answers: Sequence[str], true: Sequence[float], *, scale: tuple[float, float],
                  fallback: float) -> tuple[dict, list[float | None]]:
    """``tasks.rating.rating_report`` with the one metric implementation (``eval.metrics``)."""
    return rating_task.rating_report(answers, true, scale=scale, fallback=fallback, rating_metrics=rating_metrics)

"""Rating prediction: generate a short answer, parse a number from it, count what fails.

Parsing rule (``parse_rating``): the first number in the text (``"4"``, ``" 4.0 stars"``,
``"3,5"`` → 3.5, ``"4/5"`` → 4), else the first English number word from zero to
ten (``"four"``); anything else — including an empty answer — is unparsable
(``None``). Parsed values are clipped to the rating scale seen in training
before RMSE/MAE (the count of clipped answers is reported); unparsable answers
are counted and left out of RMSE/MAE, and a second pair of figures
(``rmse_fallback``/``mae_fallback``) scores them as the train mean rating, so a
model cannot look good by refusing to answer.

A second predictor needs no parsing (``scored_ratings``): score each rating value of the
scale as the target text (``"1"`` … ``"5"``, as the rating templates write them) by its
log-likelihood, normalize over the scale, and predict the expected value (``E[r]``) and
the most likely value (``argmax``). Every user gets a prediction, whatever the model would
have generated.

>>> [parse_rating(t) for t in ["4", " 4.0 stars", "four", "", "n/a", "3,5", "-1"]]
[4.0, 4.0, 4.0, None, None, 3.5, -1.0]
"""
from __future__ import annotations

import copy
import math
import re
from typing import Sequence

import torch

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_WORDS = {w: float(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten".split())}
_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)


def parse_rating(text: str | None) -> float | None:
    """The rating a generated answer states, or None if it states none."""
    if not text:
        return None
    m = _NUMBER.search(text)
    if m:
        v = float(m.group(0).replace(",", "."))
        return v if math.isfinite(v) else None
    m = _WORD.search(text)
    return _WORDS[m.group(1).lower()] if m else None


@torch.inference_mode()
def generate_answers(model, tokenizer, inputs: Sequence[str], *, batch_size: int = 32, max_new_tokens: int = 8,
                     max_input_length: int = 512, progress: bool = False) -> list[str]:
    """Greedy generation of a short answer per input (batched, order kept)."""
    from tqdm.auto import tqdm

    model.eval()
    device = next(model.parameters()).device
    gc = copy.deepcopy(model.generation_config)
    gc.update(num_beams=1, do_sample=False, max_new_tokens=max_new_tokens, max_length=None, min_length=0,
              num_return_sequences=1, temperature=None, top_k=None, top_p=None,
              eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    out: list[str] = []
    bar = tqdm(total=len(inputs), desc="rating", unit="user", disable=not progress, leave=False)
    for s in range(0, len(inputs), batch_size):
        chunk = list(inputs[s:s + batch_size])
        enc = tokenizer(chunk, return_tensors="pt", padding=True, truncation=True,
                        max_length=max_input_length).to(device)
        seqs = model.generate(**enc, generation_config=gc)
        out += [t.strip() for t in tokenizer.batch_decode(seqs, skip_special_tokens=True)]
        bar.update(len(chunk))
    bar.close()
    return out


@torch.inference_mode()
def scored_ratings(model, tokenizer, inputs: Sequence[str], values: Sequence[float], *, batch_size: int = 32,
                   max_input_length: int = 512, progress: bool = False) -> tuple[list[float], list[float], list[list[float]]]:
    """Per input: (expected rating, most likely rating, probabilities over ``values``).

    ``values`` are the rating scale's values, scored as target text ``fmt_rating(v)``.
    """
    import numpy as np

    from ..generators.sampling import fmt_rating
    from .scoring import score_token_ids
    from .trie import item_token_ids

    values = [float(v) for v in values]
    ids = list(item_token_ids({str(k): fmt_rating(v) for k, v in enumerate(values)}, tokenizer).values())
    sc = score_token_ids(model, tokenizer, inputs, [ids] * len(inputs), user_batch_size=batch_size,
                         max_input_length=max_input_length, progress=progress, desc="rating (scored)")
    v = np.asarray(values)
    exp, top, probs = [], [], []
    for s in sc:
        p = np.exp(s.logp - s.logp.max())
        p /= p.sum()
        exp.append(float(p @ v))
        top.append(float(v[int(np.argmax(p))]))
        probs.append([round(float(x), 5) for x in p])
    return exp, top, probs


def rating_report(answers: Sequence[str], true: Sequence[float], *, scale: tuple[float, float],
                  fallback: float) -> tuple[dict, list[float | None]]:
    """Metrics for generated rating answers against ``true``.

    Returns ``(metrics, parsed)``: ``metrics`` has ``rmse``, ``mae``, ``n`` (parsed answers,
    through ``recalign.eval.metrics.rating_metrics``), ``unparsable``, ``clipped``,
    ``rmse_fallback``/``mae_fallback`` (unparsable → ``fallback``) and ``scale``.
    """
    from .metrics import rating_metrics

    lo, hi = scale
    parsed = [parse_rating(a) for a in answers]
    ok = [i for i, p in enumerate(parsed) if p is not None]
    clipped = sum(1 for i in ok if not lo <= parsed[i] <= hi)
    pred = [min(hi, max(lo, parsed[i])) for i in ok]
    m = dict(rating_metrics(pred, [true[i] for i in ok])) if ok else {"rmse": None, "mae": None, "n": 0}
    fb = rating_metrics([min(hi, max(lo, p)) if p is not None else fallback for p in parsed], list(true))
    m.update(unparsable=len(parsed) - len(ok), clipped=clipped, rmse_fallback=fb["rmse"], mae_fallback=fb["mae"],
             fallback=fallback, scale=[lo, hi])
    return m, parsed

"""Rating: the history with the user's ratings + one item → its rating as text.

Positions are those of retrieval; examples whose target has no rating (NaN) are skipped.

Answer format (``RATING``): written by ``fmt_rating`` (``4.0`` → ``"4"``, ``3.5`` → ``"3.5"``);
a template's target must render to exactly that text (the scored evaluation scores it).
A generated answer is read back by ``parse_rating``: the first number in the text
(``"4"``, ``" 4.0 stars"``, ``"3,5"`` → 3.5, ``"4/5"`` → 4), else the first English number
word from zero to ten (``"four"``); anything else — including an empty answer — is
unparsable (None).

Evaluation: greedy answers, parsed, clipped to the train scale, RMSE/MAE (unparsable ones
counted, and scored as the train mean in ``*_fallback``); on a discrete scale every value is
also scored as the target text, giving ``rmse_expected`` (E[r]) and ``rmse_argmax``.

>>> # [Toy Story (5), Heat (3)] + Alien → "4"
>>> [parse_rating(t) for t in ["4", " 4.0 stars", "four", "", "n/a", "3,5", "-1"]]
[4.0, 4.0, 4.0, None, None, 3.5, -1.0]
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from ..data import Split
from .base import SAMPLE_HISTORY, AnswerFormat, Meta, Task
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .evaluation import EvalContext, by_template
from .items import ItemWriter
from .sampling import next_item_positions

NAME = "rating"
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_WORDS = {w: float(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)


def fmt_rating(r: float | None) -> str:
    """``4.0`` → ``"4"``, ``3.5`` → ``"3.5"``, NaN → ``"?"``."""
    return "?" if r is None or math.isnan(r) else f"{r:g}"


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


def _exact_rating(example, rendered: str) -> str | None:
    want = str(example.target)
    if rendered == want:
        return None
    return (f"renders {rendered[:80]!r} for the rating {want!r}: the target must be exactly the rating "
            "as written (the scored evaluation scores that text)")


RATING = AnswerFormat("rating", write=fmt_rating, parse=parse_rating, check=_exact_rating)


@dataclass
class RatingExample:
    """History with the user's ratings (``ratings[i]`` rates ``history[i]``, as text)
    + an item → its rating as text, e.g. ``"4"``."""

    history: list[str]
    ratings: list[str]
    item: str
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "RatingExample":
        return cls(list(SAMPLE_HISTORY), ["5", "3", "4", "1"], "The Matrix", "5")


class _RatingText(dict):
    """Memoized ``fmt_rating``: ratings repeat, formatting them once is enough."""

    def __missing__(self, r: float) -> str:
        v = self[r] = fmt_rating(r)
        return v


def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[RatingExample, Meta]]:
    fmt = _RatingText()
    text = ItemWriter.for_split(split, cfg).input  # the rated item is written like the history
    rows, dom = [], get_domain(cfg.domain)
    for p in next_item_positions(split, which, cfg, NAME, users):
        if p.rating is None or math.isnan(p.rating):
            continue
        rows.append((RatingExample(p.history_titles, [fmt[r] for r in p.history_ratings],
                                   text[p.target], fmt_rating(p.rating), dom),
                     Meta(p.user, p.target, [], list(p.history), float(p.rating))))
    return rows


def expected_ratings(logps: Sequence[np.ndarray], values: Sequence[float]
                     ) -> tuple[list[float], list[float], list[list[float]]]:
    """Per input, from the log-likelihood of each scale value: (E[r], argmax r, probabilities).

    >>> exp, top, probs = expected_ratings([np.log([0.25, 0.75])], [1.0, 5.0])
    >>> round(exp[0], 9), top, probs
    (4.0, [5.0], [[0.25, 0.75]])
    """
    v = np.asarray(values, dtype=float)
    exp, top, probs = [], [], []
    for lp in logps:
        p = np.exp(lp - lp.max())
        p /= p.sum()
        exp.append(float(p @ v))
        top.append(float(v[int(np.argmax(p))]))
        probs.append([round(float(x), 5) for x in p])
    return exp, top, probs


def rating_report(answers: Sequence[str], true: Sequence[float], *, scale: tuple[float, float], fallback: float,
                  rating_metrics: Callable[[list, list], dict]) -> tuple[dict, list[float | None]]:
    """Metrics for generated rating answers against ``true``.

    Returns ``(metrics, parsed)``: ``metrics`` has ``rmse``, ``mae``, ``n`` (parsed answers,
    through ``rating_metrics``), ``unparsable``, ``clipped``, ``rmse_fallback``/``mae_fallback``
    (unparsable → ``fallback``) and ``scale``.
    """
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


def evaluate(ctx: EvalContext, rows: list[dict]) -> dict:
    """Greedy answers parsed → RMSE/MAE; every scale value scored → E[r] and argmax."""
    M, split = ctx.metrics, ctx.split
    rows = [r for r in rows if r.get("rating") is not None and not math.isnan(float(r["rating"]))]
    if not rows:
        ctx.notes.append(f"rating/{ctx.data_split}: no example with a known rating; skipped")
        return {}
    train = np.array([x for u in split.users for x in split.train_ratings(u)], dtype=float)
    train = train[~np.isnan(train)]
    scale = (float(train.min()), float(train.max())) if len(train) else (1.0, 5.0)
    fallback = float(train.mean()) if len(train) else sum(scale) / 2
    t0 = time.perf_counter()
    answers = ctx.generate(rows, max_new_tokens=8)
    wall = time.perf_counter() - t0
    true = [float(r["rating"]) for r in rows]
    m, parsed = rating_report(answers, true, scale=scale, fallback=fallback, rating_metrics=M.rating_metrics)
    m.update(wall_s=round(wall, 2))
    values = sorted(set(train.tolist()))
    values = values if 0 < len(values) <= 20 else None
    exp = top = probs = [None] * len(rows)
    if values:       # a discrete scale: also score every value (no parsing, every user answered)
        logps = ctx.score_texts(rows, [fmt_rating(v) for v in values], desc="rating (scored)")
        exp, top, probs = expected_ratings(logps, values)
        me, mt = M.rating_metrics(exp, true), M.rating_metrics(top, true)
        m.update(rmse_expected=me["rmse"], mae_expected=me["mae"], rmse_argmax=mt["rmse"], mae_argmax=mt["mae"],
                 scored_values=values)
        m["by_template"] = by_template(rows, lambda ix: {
            "rmse_expected": M.rating_metrics([exp[i] for i in ix], [true[i] for i in ix])["rmse"],
            "unparsable": sum(parsed[i] is None for i in ix)}, ["rmse_expected", "unparsable"])
    m["per_user"] = M.per_user_rating([str(r["user"]) for r in rows], {"": parsed, "_expected": exp}, true,
                                      scale=scale)
    ctx.write_predictions("rating", [
        {"user": str(r["user"]), "item": str(r["target_item"]), "true": t, "answer": a, "parsed": p,
         "expected": e, "argmax": b, "probs": q}
        for r, t, a, p, e, b, q in zip(rows, true, answers, parsed, exp, top, probs)])
    return {"rating": m}


TASK = Task(NAME, RatingExample, build, "rated history + item → its rating",
            metrics=("rmse", "mae", "rmse_expected"), answer=RATING, evaluator=evaluate)

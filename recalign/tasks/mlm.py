"""Masked language modeling: T5 span corruption over the words of the user's history
text (train titles joined by ``text_sep``), in exactly T5's format.

>>> span_corrupt("The cute dog walks in the park".split(), [False, True, True, False, False, True, False])
('The <extra_id_0> walks in <extra_id_1> park', '<extra_id_0> cute dog <extra_id_1> the <extra_id_2>')

The noise mask follows ``t5.data.preprocessors.random_spans_noise_mask``:
round(length × noise_density) noise tokens in round(noise / mean_span_length) spans,
span lengths a uniform random composition, non-noise first. Auxiliary task: train
items only in every split (windows as in MIM).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..data import Split
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .base import Meta, Task
from .items import ItemWriter
from .sampling import task_rng, train_windows

NAME = "mlm"
MAX_SENTINELS = 100  # T5's vocabulary has <extra_id_0> .. <extra_id_99>


def _segmentation(num_items: int, num_segments: int, rnd: random.Random) -> list[int]:
    """A uniformly random split of ``num_items`` into ``num_segments`` non-empty parts."""
    cuts = sorted(rnd.sample(range(1, num_items), num_segments - 1))
    bounds = [0, *cuts, num_items]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def random_spans_noise_mask(length: int, noise_density: float, mean_span_length: float,
                            rnd: random.Random) -> list[bool]:
    """T5's noise mask (True = corrupted) for ``length`` tokens."""
    orig, length = length, max(length, 2)
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_span_length)), 1)
    num_spans = min(num_spans, num_noise, length - num_noise, MAX_SENTINELS - 1)
    noise = _segmentation(num_noise, num_spans, rnd)
    nonnoise = _segmentation(length - num_noise, num_spans, rnd)
    mask: list[bool] = []
    for a, b in zip(nonnoise, noise):
        mask += [False] * a + [True] * b
    return mask[:orig]


def span_corrupt(tokens: Sequence[str], mask: Sequence[bool]) -> tuple[str, str]:
    """Replace each noise span by a sentinel → ``(input, target)``; the target lists
    sentinel + span for each span and ends with one more sentinel."""
    inp: list[str] = []
    tgt: list[str] = []
    k, prev = 0, False
    for tok, m in zip(tokens, mask):
        if m:
            if not prev:
                s = f"<extra_id_{k}>"
                inp.append(s)
                tgt.append(s)
                k += 1
            tgt.append(tok)
        else:
            inp.append(tok)
        prev = m
    tgt.append(f"<extra_id_{k}>")
    return " ".join(inp), " ".join(tgt)


@dataclass
class MlmExample:
    """T5 span corruption over the history text: ``corrupted`` has ``<extra_id_k>``
    sentinels where spans were dropped; ``target`` lists each sentinel and its span,
    ending with a final sentinel."""

    corrupted: str
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "MlmExample":
        return cls("Toy Story; <extra_id_0> Alien; Fargo", "<extra_id_0> Heat; <extra_id_1>")



def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[MlmExample, Meta]]:
    iw = ItemWriter.for_split(split, cfg)
    rnd = task_rng(cfg.seed, NAME, which)
    rows, dom = [], get_domain(cfg.domain)
    for u, w in train_windows(split, which, cfg, NAME, 1, users):
        h = list(w)
        words = iw.mlm_words(h, cfg.text_sep)  # title words (ids, when inputs carry them, stay intact)
        tokens = [x for x, _ in words]
        free = [k for k, (_, ok) in enumerate(words) if ok]
        if len(free) < 2:
            continue
        mask = [False] * len(tokens)
        for k, m in zip(free, random_spans_noise_mask(len(free), cfg.noise_density, cfg.mean_span_length, rnd)):
            mask[k] = m
        inp, tgt = span_corrupt(tokens, mask)
        rows.append((MlmExample(inp, tgt, dom), Meta(u, "", [], h, math.nan)))
    return rows


TASK = Task(NAME, MlmExample, build, "T5 span corruption of the history text", auxiliary=True)

"""Masked item modeling (as in BERT4Rec): a window of train titles with one or more
replaced by a mask token → the masked titles, in order, joined by ``"; "``.

Auxiliary task, train items only in every split: train windows end every
``aux_stride`` items; valid/test use each user's newest window with their own masks.
Each item is masked with probability ``mim_mask_prob`` (at least 1, at most
``mim_max_masks``, never the whole window).

>>> # [Toy Story, [MASK], Alien] → Heat
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterable

from ..data import Split
from .config import GenerateConfig
from .domain import GENERIC, Domain, get_domain
from .base import Meta, Task
from .items import ItemWriter
from .sampling import task_rng, train_windows

NAME = "mim"


def mask_positions(n: int, prob: float, max_masks: int, rnd: random.Random) -> list[int]:
    """Sorted positions to mask in a window of ``n`` (1 ≤ count ≤ min(max_masks, n-1))."""
    pos = [i for i in range(n) if rnd.random() < prob]
    limit = max(1, min(max_masks, n - 1))
    if not pos:
        pos = [rnd.randrange(n)]
    elif len(pos) > limit:
        pos = sorted(rnd.sample(pos, limit))
    return pos


@dataclass
class MimExample:
    """History with some titles replaced by ``mask_token`` → the masked titles
    (``masked``, in order; ``target`` = them joined by ``"; "``)."""

    history: list[str]
    mask_token: str
    masked: list[str]
    num_masked: int
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "MimExample":
        return cls(["Toy Story", "[MASK]", "Alien", "Fargo"], "[MASK]", ["Heat"], 1, "Heat")



def build(split: Split, which: str, cfg: GenerateConfig,
          users: Iterable[str] | None = None) -> list[tuple[MimExample, Meta]]:
    iw = ItemWriter.for_split(split, cfg)  # shown items in the input form, masked ones in the target form
    rnd = task_rng(cfg.seed, NAME, which)
    tok = cfg.mim_mask_token
    rows, dom = [], get_domain(cfg.domain)
    for u, w in train_windows(split, which, cfg, NAME, 2, users):
        h = list(w)
        shown = [iw.input[i] for i in h]
        pos = mask_positions(len(h), cfg.mim_mask_prob, cfg.mim_max_masks, rnd)
        masked = [iw.target[h[p]] for p in pos]
        for p in pos:
            shown[p] = tok
        target_item = h[pos[0]] if len(pos) == 1 else ""
        rows.append((MimExample(shown, tok, masked, len(masked), "; ".join(masked), dom),
                     Meta(u, target_item, [], h, math.nan)))
    return rows


TASK = Task(NAME, MimExample, build, "history with masked titles → masked titles", auxiliary=True)

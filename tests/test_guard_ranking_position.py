"""Guard: the ranking task's target sits at a uniformly random position of its candidate list.

A model can learn "the answer is first" (or last, or third) if the builder puts it there;
the generator tests sort candidates before comparing, so only a position count catches it.
"""
from __future__ import annotations

from collections import Counter

import pytest

from recalign.tasks.config import GenerateConfig
from recalign.tasks.ranking import build

N_CAND = 5


@pytest.mark.parametrize("which, users", [("train", 40), ("valid", None), ("test", None)])
def test_target_position_is_spread_over_every_slot(ml100k_split, which, users):
    cfg = GenerateConfig(num_candidates=N_CAND, history_len=5, progress=False)
    rows = build(ml100k_split, which, cfg, users=ml100k_split.users[:users] if users else None)
    assert len(rows) > 900
    pos = Counter()
    for ex, meta in rows:
        assert len(meta.candidates) == N_CAND == len(set(meta.candidates))
        k = meta.candidates.index(meta.target_item)
        assert ex.candidates[k] == ex.target                    # the text shows the same order
        pos[k] += 1
    expected = len(rows) / N_CAND
    for k in range(N_CAND):                                      # every slot within ±30% of uniform
        assert 0.7 * expected < pos[k] < 1.3 * expected, (which, sorted(pos.items()))
    # and the slot is not a function of the user or of the previous example
    firsts = [meta.candidates.index(meta.target_item) for _, meta in rows[:200]]
    assert sum(a == b for a, b in zip(firsts, firsts[1:])) < 0.4 * len(firsts)

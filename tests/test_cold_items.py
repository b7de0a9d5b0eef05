"""The cold-item check (benchmarks/cold_items.py): cold items leave training entirely but stay
in the catalogue, in test histories and as test targets; their IDs are numbered as before."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from recalign.tasks import GenerateConfig, TASKS
from recalign.tasks.items import ItemWriter

_spec = importlib.util.spec_from_file_location(
    "cold_items", Path(__file__).resolve().parents[1] / "benchmarks" / "cold_items.py")
cold_items = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cold_items)


def test_cold_items_are_a_seeded_tenth_of_the_catalogue(tiny_split):
    a = cold_items.cold_items(tiny_split, share=0.25, seed=0)
    assert a == cold_items.cold_items(tiny_split, share=0.25, seed=0) and len(a) == 2 <= len(tiny_split.items)
    assert a != cold_items.cold_items(tiny_split, share=0.25, seed=1) or len(tiny_split.items) < 3


def test_warm_split_drops_only_train_interactions_with_cold_items(tiny_split):
    cold = {"i3", "i6"}          # u1: i1 i2 i3 | i4 i5 → train i1 i2; u2: i2 i6 | i7 i8 → train i2
    warm = cold_items.warm_split(tiny_split, cold)
    assert warm.train_items("u1") == ("i1", "i2") and warm.train_items("u2") == ("i2",)
    assert warm.history("u1", "test") == ("i1", "i2", "i4")
    for u in tiny_split.users:                                     # valid and test are untouched
        for s in ("valid", "test"):
            assert warm.target(u, s) == tiny_split.target(u, s)
        assert not set(warm.train_items(u)) & cold
    assert warm.items is tiny_split.items                           # same catalogue → same id numbers
    cfg = GenerateConfig(item_input="id", item_target="id", progress=False)
    assert ItemWriter.for_split(warm, cfg).id == ItemWriter.for_split(tiny_split, cfg).id
    rows = TASKS.get("retrieval").build(warm, "train", GenerateConfig(history_len=5, progress=False))
    seen = {i for _, m in rows for i in [*m.history, m.target_item]}
    assert seen and not seen & cold                                 # no train example mentions a cold item

"""No leakage on ml-100k, for every task and split: inputs are built from the items
the Split allows, held-out titles never show up where they must not, negatives are
items the user never touched, titles only (no ids) in the text."""
from __future__ import annotations

import pytest

from recalign.materialize import TEXT_SPLITS as SPLITS, generate, load_task_data
from recalign.tasks import TASKS, GenerateConfig

L = 20
AUX = {"mim", "mlm", "bpr"}


@pytest.fixture(scope="module")
def ml100k_text(ml100k_split, tmp_path_factory):
    run = tmp_path_factory.mktemp("ml100k")
    manifest = generate(ml100k_split, TASKS.names(), run, GenerateConfig(progress=False))
    return run, manifest


@pytest.mark.parametrize("task", ["retrieval", "ranking", "rating", "mim", "mlm", "bpr"])
def test_no_leakage(ml100k_split, ml100k_text, task):
    sp = ml100k_split
    run, manifest = ml100k_text
    title = {i: it.title for i, it in sp.items.items()}
    train = {u: sp.train_items(u) for u in sp.users}
    at = {u: {i: k for k, i in enumerate(tr)} for u, tr in train.items()}   # a user rates an item once
    touched = {u: set(sp.sequences[u].items) for u in sp.users}
    for split in SPLITS:
        ds = load_task_data(run, task, split)
        assert len(ds) == manifest.counts[task][split] > 0
        base = split.replace("_unseen", "")
        if base != "train":
            assert len(ds) <= len(sp.users) and len(set(ds["user"])) == len(ds)  # one per user
        cols = ds.select_columns(["input", "user", "target_item", "candidates", "history"]).to_dict()
        for inp, u, tgt, cands, hist in zip(cols["input"], cols["user"], cols["target_item"],
                                            cols["candidates"], cols["history"]):
            tr = train[u]
            if task in AUX or base == "train":
                allowed, forbidden = tr, (sp.target(u, "valid"), sp.target(u, "test"))
                n = len(hist)  # a contiguous window of the train sequence
                k = at[u].get(hist[0]) if n else None
                assert k is not None and tr[k:k + n] == tuple(hist), (task, split, u)
                assert not tgt or tgt in tr
            else:
                allowed = sp.history(u, base)
                forbidden = (sp.target(u, "test"),) if base == "valid" else ()
                assert tuple(hist) == allowed[-L:] and tgt == sp.target(u, base)
            negatives = [c for c in cands if c != tgt]
            assert touched[u].isdisjoint(negatives)  # never an item of the user's whole sequence
            shown = [title[i] for i in (*hist, *cands, *([tgt] if task == "rating" else []))]
            for f in forbidden:  # a held-out title appears only as part of another shown title
                t = title[f]
                if t in inp:
                    assert any(t in s for s in shown if s != t), (task, split, u, t)
            for i in hist:
                if task != "mlm" and title[i] not in inp:  # mim may mask it; every other shown title is whole
                    assert task == "mim", (task, split, u, title[i])


def test_sizes_and_templates(ml100k_text):
    _, manifest = ml100k_text
    c = manifest.counts
    assert c["retrieval"]["train"] == c["ranking"]["train"] == c["bpr"]["train"] > 90_000
    assert c["retrieval"]["test"] == 943 and c["mlm"]["train"] > 10_000
    assert all(len(v["seen"]) >= 6 and len(v["unseen"]) >= 2 for v in manifest.templates.values())

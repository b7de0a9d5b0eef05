"""Guard: the one masking rule (DESIGN.md) — every item before the target is never ranked:
valid masks the train items, test masks train + valid; the whole history, not the input window.

On the handmade split (conftest): u1 i1 i2 i3 | i4 | i5, u2 i2 i6 | i7 | i8, u3 i1 | i3 | i5.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_decode_helpers import tiny_seq2seq

CATALOGUE = ["i1", "i2", "i3", "i6", "i4", "i7", "i8", "i5"]   # catalogue order: first interaction
# the whole history before each target, written out by hand
HISTORY = {"valid": {"u1": {"i1", "i2", "i3"}, "u2": {"i2", "i6"}, "u3": {"i1"}},
           "test": {"u1": {"i1", "i2", "i3", "i4"}, "u2": {"i2", "i6", "i7"}, "u3": {"i1", "i3"}}}
TARGET = {"valid": {"u1": "i4", "u2": "i7", "u3": "i3"}, "test": {"u1": "i5", "u2": "i8", "u3": "i5"}}


def test_handmade_split_is_what_the_constants_say(tiny_split):
    assert list(tiny_split.items) == CATALOGUE and tiny_split.users == ["u1", "u2", "u3"]
    for which in ("valid", "test"):
        for u in tiny_split.users:
            assert set(tiny_split.history(u, which)) == HISTORY[which][u]
            assert tiny_split.target(u, which) == TARGET[which][u]


@pytest.fixture
def window_run(tmp_path, tiny_split):
    """A run directory whose retrieval rows carry only the input WINDOW (the newest item) as
    ``history``, as the generators write it with history_len=1 — shorter than the user's history."""
    from datasets import Dataset

    from recalign.data import write_split

    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    title = {i: it.title for i, it in tiny_split.items.items()}
    for which in ("valid", "test"):
        rows = []
        for u in tiny_split.users:
            window = list(tiny_split.history(u, which))[-1:]
            t = tiny_split.target(u, which)
            rows.append(dict(user=u, target_item=t, history=window, rating=tiny_split.target_rating(u, which),
                             input=f"user watched {title[window[0]]} next movie", target=title[t],
                             candidates=[], _task="retrieval", _template_id="r0", _template_split="seen"))
        Dataset.from_list(rows).save_to_disk(str(run / "text" / "retrieval" / which))
    return run


@pytest.fixture(scope="module")
def fresh_model(tmp_path_factory):
    from conftest import TINY_ITEMS

    titles = [line.split("\t")[1] for line in TINY_ITEMS.splitlines()[1:]]
    return tiny_seq2seq(extra_texts=titles + ["next movie"], tmp_dir=tmp_path_factory.mktemp("tok"))


@pytest.mark.parametrize("which", ["valid", "test"])
def test_t5_evaluation_masks_the_whole_history_of_the_split(window_run, fresh_model, which):
    """Beam 20 > 8 titles: every title that is not masked comes back, so the ranked set is exactly
    catalogue − history. Fails if only the input window were masked (older items would come back),
    or if valid were masked with the test history (the valid target could never be hit)."""
    from recalign.eval.evaluate import evaluate

    model, tok = fresh_model
    m = evaluate(window_run, which, model=model, tokenizer=tok, tasks=("retrieval",), templates=("seen",),
                 beam=20, progress=False)
    preds = [json.loads(x) for x in
             (window_run / "results" / "recalign-t5" / f"predictions_retrieval_{which}.jsonl").read_text().splitlines()]
    assert [p["user"] for p in preds] == ["u1", "u2", "u3"]
    for p in preds:
        assert sorted(p["ranked"]) == sorted(set(CATALOGUE) - HISTORY[which][p["user"]]), p["user"]
        assert p["masked"] == len(HISTORY[which][p["user"]])
        assert p["rank"] is not None                      # the target is never masked on its own split
    assert m["retrieval"]["targets_in_history"] == 0
    assert m["retrieval"]["recall@20"] == 1.0


@pytest.mark.parametrize("which", ["valid", "test"])
def test_baseline_ranking_masks_the_split_history(tiny_split, which):
    """``ranking_for`` (every baseline's ranking): equal scores → catalogue order minus the history."""
    from recalign.baselines.scoring import ranking_for

    users = ["u1", "u2", "u3"]
    r = ranking_for(tiny_split, which, users, np.zeros((3, 8)), CATALOGUE, k=8)
    assert r.targets == [TARGET[which][u] for u in users]
    assert r.ranked == [[i for i in CATALOGUE if i not in HISTORY[which][u]] for u in users]


def test_pop_baseline_valid_and_test_metrics_by_hand(tiny_split, tmp_path):
    """Pop on the handmade split. Train counts: i1 2, i2 2, i3 1, i6 1, others 0; ties in catalogue
    order, so Pop's full order is i1 i2 i3 i6 i4 i7 i8 i5.
    valid (mask train):       u1 [i6 i4]          → rank 2; u2 [i1 i3 i4 i7] → 4; u3 [i2 i3] → 2
    test  (mask train+valid): u1 [i6 i7 i8 i5]    → rank 4; u2 [i1 i3 i4 i8] → 4; u3 [i2 i6 i4 i7 i8 i5] → 6
    Masking valid with the test history would drop every valid target (all zeros).
    No sampled negatives: RecBole's Pop counts the negative items of its pointwise training rows too
    (and a batch's repeated item once), which would make the counts random."""
    from recalign.baselines import run_baseline
    from recalign.data import write_split

    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    r = run_baseline(run, "Pop", overrides={"train_neg_sample_args": None})
    v, t = r["valid_retrieval"], r["retrieval"]
    assert v["recall@5"] == 1.0 and v["mrr@5"] == pytest.approx((1 / 2 + 1 / 4 + 1 / 2) / 3)
    assert v["ndcg@5"] == pytest.approx((2 / np.log2(3) + 1 / np.log2(5)) / 3)
    assert (t["recall@5"], t["recall@10"]) == (pytest.approx(2 / 3), 1.0)
    assert t["mrr@10"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 6) / 3)
    assert t["ndcg@10"] == pytest.approx((2 / np.log2(5) + 1 / np.log2(7)) / 3)
    saved = json.loads((run / "results" / "Pop" / "valid_metrics.json").read_text())
    assert saved["mrr@5"] == pytest.approx(1.25 / 3)


def test_learning_curve_masks_train_only(window_run, fresh_model):
    """The valid curve drawn during training: 7 or fewer rankable titles, beam 20, so every valid
    target is in the top 10 — unless valid were masked with the test history (then none is)."""
    from recalign.eval.curves import curve_evaluator

    evaluate_fn = curve_evaluator(window_run, users=3, beam=20)
    assert evaluate_fn is not None
    m = evaluate_fn(*fresh_model)
    assert (m["recall@10"], m["users"]) == (1.0, 3) and 1 / 3 <= m["ndcg@10"] <= 1.0

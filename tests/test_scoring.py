"""Likelihood scoring equals a manual forward pass; rating answers parse robustly."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recalign.eval.rating import generate_answers, rating_report, scored_ratings
from recalign.eval.scoring import rank_by_score, score_titles
from recalign.tasks.rating import parse_rating

from test_decode_helpers import TITLES, tiny_seq2seq


@pytest.fixture(scope="module")
def model_tok():
    return tiny_seq2seq(seed=1)


def test_scores_equal_manual_forward_pass(model_tok):
    model, tok = model_tok
    inputs = ["user watched toy story then heat", "user liked hamlet"]
    cands = [["i1", "i5", "i9", "i6"], ["i2", "i10"]]
    got = score_titles(model, tok, inputs, cands, TITLES, pair_batch_size=3, user_batch_size=1)
    for x, cs, s in zip(inputs, cands, got):
        assert s.logp.shape == (len(cs),)
        for j, c in enumerate(cs):
            enc = tok(x, return_tensors="pt")
            lab = tok(text_target=TITLES[c], return_tensors="pt")["input_ids"]
            with torch.no_grad():
                loss = model(**enc, labels=lab).loss.item()          # mean NLL over title tokens + EOS
            n = lab.shape[1]
            assert s.n_tokens[j] == n
            assert s.logp[j] == pytest.approx(-loss * n, rel=1e-4, abs=1e-4)
            assert s.normalized[j] == pytest.approx(-loss, rel=1e-4, abs=1e-4)


def test_batching_does_not_change_scores(model_tok):
    model, tok = model_tok
    inputs = ["user watched alien", "user watched babe then fargo then heat", "user liked"]
    cands = [list(TITLES)] * 3
    a = score_titles(model, tok, inputs, cands, TITLES, pair_batch_size=7, user_batch_size=2)
    b = score_titles(model, tok, inputs, cands, TITLES, pair_batch_size=64, user_batch_size=3)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.logp, y.logp, rtol=1e-4, atol=1e-4)


def test_rank_by_score_is_stable():
    assert rank_by_score(["a", "b", "c", "d"], np.array([1.0, 3.0, 1.0, 2.0])) == ["b", "d", "a", "c"]


@pytest.mark.parametrize("text, value", [
    ("4", 4.0), (" 4.0 stars", 4.0), ("3.5", 3.5), ("3,5", 3.5), ("4/5", 4.0), ("rating: 2", 2.0),
    ("four", 4.0), ("Five stars", 5.0), ("-1", -1.0), ("", None), (None, None), ("n/a", None),
    ("great movie", None), ("someone", None),
])
def test_parse_rating(text, value):
    assert parse_rating(text) == value


def test_rating_report_counts_unparsable_and_clips():
    m, parsed = rating_report(["4", "five", "", "9", "nope"], [4.0, 3.0, 2.0, 5.0, 1.0], scale=(1.0, 5.0),
                              fallback=3.0)
    assert parsed == [4.0, 5.0, None, 9.0, None]
    assert m["n"] == 3 and m["unparsable"] == 2 and m["clipped"] == 1
    assert m["mae"] == pytest.approx((0 + 2 + 0) / 3)                     # 9 clipped to 5
    assert m["rmse"] == pytest.approx(np.sqrt(4 / 3))
    assert m["mae_fallback"] == pytest.approx((0 + 2 + 1 + 0 + 2) / 5)    # unparsable → 3.0


def test_generate_answers_keeps_order(model_tok):
    model, tok = model_tok
    xs = ["what stars", "user liked hamlet rated", "heat"]
    one = [generate_answers(model, tok, [x], max_new_tokens=4)[0] for x in xs]
    assert generate_answers(model, tok, xs, batch_size=2, max_new_tokens=4) == one


def test_scored_ratings_is_the_expectation_over_scale_values(model_tok):
    model, tok = model_tok
    inputs = ["user liked hamlet rated 4 stars", "user watched heat"]
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    exp, top, probs = scored_ratings(model, tok, inputs, values, batch_size=1)
    for x, e, t, p in zip(inputs, exp, top, probs):
        ll = []
        for v in values:                                           # manual: log p("4" + EOS | x)
            lab = tok(text_target=f"{v:g}", return_tensors="pt")["input_ids"]
            with torch.no_grad():
                ll.append(-model(**tok(x, return_tensors="pt"), labels=lab).loss.item() * lab.shape[1])
        q = np.exp(np.array(ll) - max(ll))
        q /= q.sum()
        assert p == pytest.approx(q.tolist(), abs=1e-4) and sum(p) == pytest.approx(1, abs=1e-4)
        assert e == pytest.approx(float(q @ np.array(values)), abs=1e-3) and 1 <= e <= 5
        assert t == values[int(np.argmax(q))]

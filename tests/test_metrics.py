"""Metric functions against hand-computed cases."""
import json
import math

import numpy as np
import pytest
import torch

from recalign.errors import RecalignError
from recalign.eval import (Ranking, candidate_metrics, rating_metrics, ranking_metrics, split_fingerprint,
                           topk_from_scores)


def test_target_at_rank_one_is_perfect():
    m = ranking_metrics(Ranking(["u"], [["a", "b", "c"]], ["a"]), ks=(1, 5))
    assert m == {"recall@1": 1.0, "ndcg@1": 1.0, "mrr@1": 1.0, "recall@5": 1.0, "ndcg@5": 1.0, "mrr@5": 1.0,
                 "users": 1}


def test_hand_computed_mix_of_ranks():
    # u1 target at rank 3, u2 at rank 7, u3 absent, u4 at rank 1
    ranked = [list("xyazzzz"), list("qwertyb"), list("mnopqrs"), list("dxxxxxx")]
    r = Ranking(["u1", "u2", "u3", "u4"], ranked, ["a", "b", "c", "d"])
    m = ranking_metrics(r, ks=(5, 10))
    assert m["recall@5"] == pytest.approx(2 / 4)
    assert m["recall@10"] == pytest.approx(3 / 4)
    assert m["ndcg@5"] == pytest.approx((1 / math.log2(4) + 1) / 4)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(4) + 1 / math.log2(8) + 1) / 4)
    assert m["mrr@5"] == pytest.approx((1 / 3 + 1) / 4)
    assert m["mrr@10"] == pytest.approx((1 / 3 + 1 / 7 + 1) / 4)
    assert m["users"] == 4


def test_target_absent_from_top_k_scores_zero():
    scores = np.array([[0.9, 0.8, 0.7, 0.1]])
    top = topk_from_scores(scores, ["a", "b", "c", "t"], [set()], k=3)
    assert top == [["a", "b", "c"]]
    m = ranking_metrics(Ranking(["u"], top, ["t"]), ks=(1, 3))
    assert all(m[k] == 0.0 for k in m if k != "users")


def test_tie_rule_catalogue_order():
    # b, c, d tie at 0.5: catalogue order b < c < d; a is higher, e lower
    scores = np.array([[0.9, 0.5, 0.5, 0.5, 0.1]])
    items = ["a", "b", "c", "d", "e"]
    assert topk_from_scores(scores, items, [[]], k=4) == [["a", "b", "c", "d"]]
    # same scores, reversed catalogue: the tie breaks the other way
    assert topk_from_scores(scores[:, ::-1].copy(), items[::-1], [[]], k=4) == [["a", "d", "c", "b"]]
    # the tie decides a hit: target d is rank 4 under the rule, so HR@3 = 0
    m = ranking_metrics(Ranking(["u"], topk_from_scores(scores, items, [[]], k=5), ["d"]), ks=(3, 4))
    assert m["recall@3"] == 0.0 and m["recall@4"] == 1.0


def test_history_items_never_ranked_and_short_rows():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    top = topk_from_scores(scores, ["a", "b", "c", "d"], [["a", "c"], {"a", "b", "c", "zz"}], k=3)
    assert top == [["b", "d"], ["d"]]  # fewer rankable items than k: all of them, history never


def test_masked_target_is_a_miss():
    top = topk_from_scores(np.array([[1.0, 0.0]]), ["t", "x"], [["t"]], k=2)
    assert ranking_metrics(Ranking(["u"], top, ["t"]), ks=(1,))["recall@1"] == 0.0


def test_bad_inputs_raise():
    with pytest.raises(RecalignError, match="NaN"):
        topk_from_scores(np.array([[np.nan, 1.0]]), ["a", "b"], [[]], 1)
    with pytest.raises(RecalignError, match="shape"):
        topk_from_scores(np.zeros((1, 3)), ["a", "b"], [[]], 1)
    with pytest.raises(RecalignError):
        Ranking(["u"], [], ["a"])
    with pytest.raises(RecalignError, match="empty"):
        ranking_metrics(Ranking([], [], []))


def test_rating_metrics_hand_computed():
    m = rating_metrics([1.0, 2.0, 5.0], [2.0, 2.0, 3.0])
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3)) and m["mae"] == pytest.approx(1.0) and m["n"] == 3


def test_candidate_metrics_are_labelled():
    r = Ranking(["u", "v"], [["a", "b", "c"], ["c", "b", "a"]], ["a", "a"])
    m = candidate_metrics(r, ks=(1, 5))
    assert m["hr@1"] == 0.5 and m["hr@5"] == 1.0 and m["candidates"] == 3
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(4)) / 2)


def test_split_fingerprint_same_from_split_and_dir(tiny_split, tmp_path):
    from recalign.data import write_split

    write_split(tiny_split, tmp_path / "run" / "data")
    assert split_fingerprint(tiny_split) == split_fingerprint(tmp_path / "run")
    other = type(tiny_split)(tiny_split.dataset, dict(list(tiny_split.sequences.items())[:1]))
    assert split_fingerprint(other) != split_fingerprint(tiny_split)


def test_per_user_rows_average_to_the_reported_metrics():
    from recalign.eval.metrics import per_user_rating

    r = Ranking(["u1", "u2", "u3"], [list("xya"), list("bxx"), list("xxx")], ["a", "b", "c"])
    m = ranking_metrics(r, ks=(1, 3), per_user=True)
    pu = m["per_user"]
    assert pu.users == ["u1", "u2", "u3"]
    assert pu.columns["ndcg@3"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert pu.columns["mrr@3"].tolist() == pytest.approx([1 / 3, 1.0, 0.0])
    assert all(m[k] == pytest.approx(v.mean()) for k, v in pu.columns.items())
    c = candidate_metrics(r, ks=(1,), per_user=True)
    assert c["per_user"].columns["hr@1"].tolist() == [0.0, 1.0, 0.0]
    pr = per_user_rating(["a", "b", "c"], {"": [7.0, None, 2.0], "_expected": [None] * 3}, [5.0, 4.0, 3.0],
                         scale=(1.0, 5.0))
    assert list(pr.columns) == ["sq_err", "abs_err"]               # an all-None column is left out
    assert pr.columns["sq_err"][0] == 0.0 and np.isnan(pr.columns["sq_err"][1])   # 7 clipped to 5


def test_write_result_writes_per_user_rows_and_drops_stale_ones(tmp_path):
    from recalign.eval import write_result
    from recalign.eval.metrics import read_per_user

    r = Ranking(["u1", "u2"], [["a", "b"], ["c", "d"]], ["b", "x"])
    res = {"retrieval": ranking_metrics(r, ks=(2,), per_user=True),
           "rating": rating_metrics([3.0, 4.0], [4.0, 4.0], users=["u1", "u2"])}
    d = write_result(tmp_path, "m", res)
    assert res["retrieval"]["per_user"] == "per_user/retrieval.jsonl"      # the section names its file
    assert json.loads((d / "metrics.json").read_text())["rating"]["per_user"] == "per_user/rating.jsonl"
    assert (d / "per_user" / "retrieval.jsonl").read_text().splitlines()[0] == \
        '{"user": "u1", "recall@2": 1.0, "ndcg@2": 0.6309297535714575, "mrr@2": 0.5}'
    assert read_per_user(d / "per_user" / "rating.jsonl").columns["sq_err"].tolist() == [1.0, 0.0]
    write_result(tmp_path, "m", {"retrieval": ranking_metrics(r, ks=(2,), per_user=True)})
    assert sorted(p.name for p in (d / "per_user").iterdir()) == ["retrieval.jsonl"]


def test_bad_per_user_file_names_file_and_line(tmp_path):
    from recalign.eval.metrics import read_per_user

    p = tmp_path / "retrieval.jsonl"
    p.write_text('{"user": "u1", "ndcg@10": 0.5}\n{"user": "u2", "recall@10": 1}\n')
    with pytest.raises(RecalignError, match=r"retrieval.jsonl, line 2: bad per-user row"):
        read_per_user(p)

"""Guard: ranking lines and per-user rows as written and read back — blank lines anywhere are skipped
(not the end of the file), a missing value is NaN, an empty file is no rows, and a row with other
columns names both column sets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recalign.errors import RecalignError
from recalign.eval.metrics import Ranking, read_per_user, topk_from_scores, write_ranking_jsonl


def test_blank_lines_missing_values_and_an_empty_file(tmp_path):
    p = tmp_path / "rating.jsonl"
    p.write_text('\n{"user": "u1", "sq_err": 1.0, "abs_err": 1}\n\n  \n{"user": 7, "sq_err": null, "abs_err": 2}\n\n')
    r = read_per_user(p)
    assert r.users == ["u1", "7"] and list(r.columns) == ["sq_err", "abs_err"]
    assert r.columns["sq_err"][0] == 1.0 and np.isnan(r.columns["sq_err"][1])
    assert r.columns["abs_err"].tolist() == [1.0, 2.0]
    (tmp_path / "empty.jsonl").write_text("\n")
    e = read_per_user(tmp_path / "empty.jsonl")
    assert (e.users, dict(e.columns)) == ([], {})


def test_other_columns_name_both_sets(tmp_path):
    p = tmp_path / "retrieval.jsonl"
    p.write_text('{"user": "u1", "ndcg@10": 0.5}\n\n{"user": "u2", "recall@10": 1}\n')
    with pytest.raises(RecalignError, match=r"^.*retrieval.jsonl, line 3: bad per-user row: \"columns \['recall@10'\] "
                                            r"differ from the first line's \['ndcg@10'\]\"$"):
        read_per_user(p)


def test_ranking_lines_by_hand(tmp_path):
    r = Ranking(["u1", "u2"], [["a", "b", "c"], ["c", "a", "b"]], ["b", "x"])
    write_ranking_jsonl(tmp_path / "full.jsonl", r)
    write_ranking_jsonl(tmp_path / "top2.jsonl", r, k=2)
    rows = [json.loads(x) for x in (tmp_path / "full.jsonl").read_text().splitlines()]
    assert rows == [{"user": "u1", "target": "b", "rank": 2, "ranked": ["a", "b", "c"]},
                    {"user": "u2", "target": "x", "rank": None, "ranked": ["c", "a", "b"]}]
    assert [json.loads(x)["ranked"] for x in (tmp_path / "top2.jsonl").read_text().splitlines()] == \
        [["a", "b"], ["c", "a"]]


def test_top_k_in_row_chunks_covers_every_row():
    scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.1], [0.3, 0.3, 0.8], [0.0, 1.0, 0.5], [0.6, 0.5, 0.4]])
    ex = [["b"], [], ["c"], [], ["a", "b"]]
    want = [["c", "a"], ["a", "b"], ["a", "b"], ["b", "c"], ["c"]]     # masked; a tie keeps catalogue order
    for chunk in (1, 2, 1024):
        assert topk_from_scores(scores, ["a", "b", "c"], ex, k=2, chunk=chunk) == want

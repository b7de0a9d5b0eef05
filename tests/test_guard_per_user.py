"""Guard: per-user rows read back as written — blank lines anywhere are skipped (not the end of the file),
a missing value is NaN, an empty file is no rows, and a row with other columns names both column sets."""
from __future__ import annotations

import numpy as np
import pytest

from recalign.errors import RecalignError
from recalign.eval.metrics import read_per_user


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

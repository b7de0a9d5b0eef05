"""The "add a baseline" recipe (docs/architecture.md): one entry in ``baselines/table.py`` — here
RecBole's ItemKNN, added at run time with ``table.add_model`` — and the model runs on the
run's Split, is scored by recalign's metrics and appears in the comparison table."""
from __future__ import annotations

import json

import pytest

from recalign.baselines import run_baseline, table
from recalign.data import Split, write_split
from recalign.eval.report import compare

pytestmark = pytest.mark.slow


@pytest.fixture
def itemknn():
    table.add_model("ItemKNN", defaults={"k": 50, "shrink": 0.0, "epochs": 1, "stopping_step": 1})
    yield "ItemKNN"
    table.remove_model("ItemKNN")


def test_a_new_recbole_model_runs_through_compare(itemknn, ml100k_split, tmp_path):
    run = tmp_path / "run"
    seqs = dict(list(ml100k_split.sequences.items())[:150])
    write_split(Split(ml100k_split.dataset, seqs), run / "data")
    r = run_baseline(run, itemknn)
    pop = run_baseline(run, "Pop")
    ours, theirs = r["retrieval"], r["recbole_test"]
    assert ours["users"] == 150
    for k in (5, 10, 20):   # a general model: RecBole masks history items too, so the numbers agree
        assert round(ours[f"recall@{k}"], 6) == pytest.approx(theirs[f"recall@{k}"], abs=1.1e-6)
    assert ours["recall@20"] != pop["retrieval"]["recall@20"]      # a different model, not popularity again
    assert r["config"]["k"] == 50
    out = compare([run])
    rows = {row[0]: row for row in out["rows"]}
    assert {"ItemKNN", "Pop"} <= set(rows)
    report = json.loads((run / "report.json").read_text())
    assert "ItemKNN" in json.dumps(report) and "| ItemKNN" in out["markdown"]

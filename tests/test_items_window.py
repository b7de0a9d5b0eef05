"""Input windows beside the table: every model reads the same number of history items in
`recalign run` unless a config says otherwise, and `compare` says how many each one read."""
import json

import pytest

from recalign.baselines import run_baseline
from recalign.data import write_split
from recalign.eval import compare, write_result
from recalign.pipeline import load_run_config, same_window


def test_sequential_baselines_get_the_seq2seq_window_unless_overridden():
    cfg = load_run_config(None, ["generate.history_len=7", "baselines.overrides={GRU4Rec: {MAX_ITEM_LIST_LENGTH: 30}}"])
    got = {m: same_window(m, cfg.baselines.overrides.get(m), cfg.generate.history_len)
           for m in ("SASRec", "GRU4Rec", "BPR", "Pop")}
    assert got == {"SASRec": {"MAX_ITEM_LIST_LENGTH": 7}, "GRU4Rec": {"MAX_ITEM_LIST_LENGTH": 30},
                   "BPR": None, "Pop": None}


@pytest.fixture
def tiny_run(tiny_split, tmp_path):
    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    return run


def test_compare_reports_each_models_window(tiny_run):
    sas = run_baseline(tiny_run, "SASRec", epochs=1, overrides=same_window("SASRec", None, 3))
    pop = run_baseline(tiny_run, "Pop")
    assert sas["input_window"] == 3 and pop["input_window"] is None
    assert sas["config"]["MAX_ITEM_LIST_LENGTH"] == 3
    t5 = json.loads((tiny_run / "results" / "Pop" / "metrics.json").read_text())
    t5.update(kind="seq2seq", input_window=3, training={})
    write_result(tiny_run, "recalign-t5", {k: v for k, v in t5.items() if k not in ("model", "_path")})
    write_result(tiny_run, "UserItemBias", {"kind": "baseline", "split_fingerprint": t5["split_fingerprint"],
                                            "dataset": t5["dataset"], "rating": {"rmse": 1.0, "mae": 0.8, "n": 3}})
    rep = compare([tiny_run])
    line = next(ln for ln in rep["markdown"].splitlines() if ln.startswith("Input window"))
    assert "recalign-t5 3 items" in line and "SASRec 3 items" in line and "Pop —" in line
    assert "UserItemBias" not in line                       # no ranking, no window
    saved = json.loads((tiny_run / "report.json").read_text())["input_windows"]
    assert saved == {"Pop": None, "SASRec": 3, "recalign-t5": 3}


def test_an_older_sequential_result_shows_its_max_item_list_length(tmp_path):
    base = {"kind": "baseline", "split_fingerprint": "f", "dataset": {"dataset": "tiny", "users": 3},
            "retrieval": {"ndcg@10": 0.1, "recall@10": 0.2, "users": 3}}
    write_result(tmp_path, "SASRec", {**base, "config": {"MAX_ITEM_LIST_LENGTH": 20}})
    write_result(tmp_path, "BPR", {**base, "config": {"embedding_size": 64}})
    assert "SASRec 20 items; BPR —" in compare([tmp_path])["markdown"] or \
        "BPR —; SASRec 20 items" in compare([tmp_path])["markdown"]

"""RecBole baselines on recalign's Split, scored by recalign's metrics."""
import json

import pytest
from click.testing import CliRunner

from recalign.baselines import BiasModel, run_baseline, run_bias_baseline
from recalign.baselines.recbole_files import write_recbole_files
from recalign.data import Split, write_split

KS = (5, 10, 20)


@pytest.fixture(scope="module")
def ml100k_run(ml100k_split, tmp_path_factory):
    run = tmp_path_factory.mktemp("ml100k")
    write_split(ml100k_split, run / "data")
    return run


@pytest.fixture(scope="module")
def slice_run(ml100k_split, tmp_path_factory):
    """The first 120 users of ml-100k (whole catalogue): fast enough for SASRec in a test."""
    run = tmp_path_factory.mktemp("slice")
    seqs = dict(list(ml100k_split.sequences.items())[:120])
    write_split(Split(ml100k_split.dataset, seqs), run / "data")
    return run


def test_bpr_recalign_metrics_equal_recbole_metrics(ml100k_run):
    r = run_baseline(ml100k_run, "BPR", epochs=2)
    ours, theirs = r["retrieval"], r["recbole_test"]
    assert ours["users"] == 943
    for k in KS:  # RecBole prints 6 decimals (metric_decimal_place: 6); same masking for BPR
        for m in ("recall", "ndcg", "mrr"):
            assert round(ours[f"{m}@{k}"], 6) == pytest.approx(theirs[f"{m}@{k}"], abs=1.1e-6), (m, k)
        assert theirs[f"hit@{k}"] == theirs[f"recall@{k}"]
    saved = json.loads((ml100k_run / "results" / "BPR" / "metrics.json").read_text())
    assert saved["training"]["epochs"] == 2 and saved["training"]["converged"] is False
    assert saved["training"]["stopped_by"] == "max_epochs" and saved["notes"]
    assert saved["split_fingerprint"] and saved["protocol"]["masking"] == "input history items never ranked"
    assert not (ml100k_run.parent / "log_tensorboard").exists()


def test_sasrec_one_epoch_sane_and_history_masked(slice_run):
    r = run_baseline(slice_run, "SASRec", epochs=1, overrides={"MAX_ITEM_LIST_LENGTH": 10})
    ret = r["retrieval"]
    assert ret["users"] == 120
    assert 0.0 <= ret["ndcg@10"] <= ret["recall@10"] <= ret["recall@20"] <= 1.0
    assert r["training"]["epochs"] == 1
    # the early-stopping score is the masked valid NDCG@10 of that epoch's model (the one evaluated)
    # (one epoch on 120 users is near chance, ~0.004: equality, not a floor; the history keeps 6 decimals)
    assert r["training"]["history"][0]["valid_ndcg@10"] == pytest.approx(r["valid_retrieval"]["ndcg@10"], abs=6e-7)
    assert r["valid_retrieval"]["ndcg@10"] > 0
    from recalign.data import load_split

    split = load_split(slice_run)
    lines = (slice_run / "results" / "SASRec" / "ranking.jsonl").read_text().splitlines()
    assert len(lines) == 120
    for line in lines:
        row = json.loads(line)
        assert len(row["ranked"]) == 20
        assert not set(row["ranked"]) & set(split.history(row["user"], "test"))
    assert (slice_run / "results" / "SASRec" / "recbole_saved").is_dir()


def test_pop_via_cli(slice_run):
    from recalign.cli import main

    res = CliRunner().invoke(main, ["baseline", "--model", "Pop", "--run-dir", str(slice_run)])
    assert res.exit_code == 0, res.output
    m = json.loads((slice_run / "results" / "Pop" / "metrics.json").read_text())
    assert m["kind"] == "baseline" and m["retrieval"]["recall@20"] > 0.02  # popularity beats chance (~0.012)
    assert m["training"]["stopped_by"] == "no_training"


def test_sequential_files_give_train_valid_history(tiny_split, tmp_path):
    d = write_recbole_files(tiny_split, tmp_path, sequential=True, max_len=2)
    test = (d / "recalign.test.inter").read_text().splitlines()
    assert test[0] == "user_id:token\titem_id_list:token_seq\titem_id:token"
    assert "u1\ti3 i4\ti5" in test  # u1: i1 i2 i3 | i4 | i5 → last 2 of train+valid
    valid = (d / "recalign.valid.inter").read_text().splitlines()
    assert "u1\ti2 i3\ti4" in valid
    train = (d / "recalign.train.inter").read_text().splitlines()[1:]
    assert [t for t in train if t.startswith("u1")] == ["u1\ti1\ti2", "u1\ti1 i2\ti3"]
    assert not any("i4" in t or "i5" in t for t in train if t.startswith("u1"))


def test_bias_model_and_rating_baseline(tiny_split, tmp_path):
    m = BiasModel(0, 0, iters=50).fit([("u", "a", 5.0), ("u", "b", 3.0), ("v", "a", 4.0)])
    assert m.predict("u", "a") == pytest.approx(5.0, abs=1e-3) and m.predict("new", "zz") == pytest.approx(4.0)
    write_split(tiny_split, tmp_path / "run" / "data")
    r = run_bias_baseline(tmp_path / "run")
    assert r["rating"]["n"] == 3 and r["config"]["reg"] in r["config"]["grid"]
    # reg 1e9: b_u, b_i ~ 0, every prediction is the train mean 23/6; test ratings 5, 4, 4 → errors 7/6, 1/6, 1/6
    mean_only = run_bias_baseline(tmp_path / "run", name="MeanOnly", grid=(1e9,))
    assert mean_only["rating"]["mae"] == pytest.approx(0.5, abs=1e-6)
    assert mean_only["rating"]["rmse"] == pytest.approx((17 / 36) ** 0.5, abs=1e-6)
    # its prediction is its expected rating: the E[r] columns (paired with a model's E[r]) are its own
    assert mean_only["rating"]["rmse_expected"] == mean_only["rating"]["rmse"]
    from recalign.eval.metrics import read_per_user
    from recalign.eval.significance import metric_value

    pu = read_per_user(tmp_path / "run" / "results" / "MeanOnly" / "per_user" / "rating.jsonl")
    assert metric_value(pu, "rmse_expected") == pytest.approx((17 / 36) ** 0.5, abs=1e-9)
    assert (tmp_path / "run" / "results" / "UserItemBias" / "metrics.json").is_file()


def test_score_candidates_and_candidates_file(tmp_path):
    import numpy as np

    from recalign.baselines import score_candidates
    from recalign.baselines.scoring import read_candidates

    p = tmp_path / "c.jsonl"
    p.write_text('{"user": "u", "candidates": ["c", "a", "b"], "target": "a"}\n'
                 '{"user": "v", "candidates": ["a", "b"], "target": "b"}\n')
    cand = read_candidates(p)
    r = score_candidates(["u", "v"], np.array([[0.1, 0.5, 0.5], [0.9, 0.1, 0.0]]), ["a", "b", "c"], cand)
    assert r.ranked == [["c", "b", "a"], ["a", "b"]]  # c and b tie at 0.5: candidate-list order
    assert r.targets == ["a", "b"]


@pytest.fixture
def tiny_run(tiny_split, tmp_path):
    """The 8-item handmade dataset (conftest) as a run: fewer items than RecBole's default top-20."""
    run = tmp_path / "tiny_run"
    write_split(tiny_split, run / "data")
    assert len(tiny_split.items) == 8
    return run


def test_pop_on_a_catalogue_smaller_than_topk(tiny_run):
    from recalign.cli import main

    res = CliRunner().invoke(main, ["baseline", "--model", "Pop", "--run-dir", str(tiny_run)])
    assert res.exit_code == 0, res.output
    m = json.loads((tiny_run / "results" / "Pop" / "metrics.json").read_text())
    assert m["config"]["topk"] == [5] and m["config"]["valid_metric"] == "NDCG@5"
    assert set(m["recbole_test"]) == {"recall@5", "ndcg@5", "mrr@5", "hit@5"}
    for k in (5, 10, 20):  # recalign's own @K past the catalogue: the full ranking, no crash
        assert 0.0 <= m["retrieval"][f"recall@{k}"] <= 1.0
    assert m["retrieval"]["recall@10"] == m["retrieval"]["recall@20"]
    assert any("capped at the catalogue size (8 items)" in n for n in m["notes"])


def test_user_overrides_win_but_protocol_keys_are_fixed(tiny_run):
    from recalign.baselines.recbole_files import cap_topk, model_config
    from recalign.cli import main
    from recalign.errors import RecalignError

    r = run_baseline(tiny_run, "Pop", overrides={"topk": [1, 3, 50], "metrics": ["Recall"]}, name="Pop13")
    assert r["config"]["topk"] == [1, 3] and set(r["recbole_test"]) == {"recall@1", "recall@3"}
    assert cap_topk(20, 8) == [8]
    with pytest.raises(RecalignError, match="field 'eval_args': recalign fixes this RecBole setting"):
        model_config("Pop", {"eval_args": {"mode": "uni100"}})
    res = CliRunner().invoke(main, ["baseline", "-m", "Pop", "--run-dir", str(tiny_run),
                                    "-o", "benchmark_filename=[a,b,c]"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "field 'benchmark_filename': recalign fixes this" in res.output
    res = CliRunner().invoke(main, ["baseline", "-m", "Pop", "--run-dir", str(tiny_run), "-o", "topk=oops"])
    assert res.exit_code != 0 and "field 'topk': expected a positive integer" in res.output
    res = CliRunner().invoke(main, ["baseline", "-m", "Pop", "--run-dir", str(tiny_run), "-o", "topk"])
    assert res.exit_code != 0 and "e.g. MAX_ITEM_LIST_LENGTH=20" in res.output


def test_cli_model_choices_come_from_the_baselines_table():
    from recalign import baselines
    from recalign.cli import main
    from recalign.cli.baseline import baseline

    (opt,) = [p for p in baseline.params if p.name == "model"]
    assert tuple(opt.type.choices) == baselines.CHOICES == baselines.MODELS + ("Bias",)
    assert set(baselines.MODELS) == set(baselines.SEQUENTIAL) | set(baselines.GENERAL)
    assert set(baselines.MODEL_DEFAULTS) <= set(baselines.MODELS)
    help_text = CliRunner().invoke(main, ["baseline", "--help"]).output
    for m in baselines.CHOICES:
        assert m in help_text
    res = CliRunner().invoke(main, ["baseline", "-m", "Popp", "--run-dir", "x"])
    assert res.exit_code != 0 and "'Popp' is not one of" in res.output

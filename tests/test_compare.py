"""`recalign compare`: one table, same split only, budget cuts stated."""
import json

import pytest
from click.testing import CliRunner

from recalign.errors import RecalignError
from recalign.eval import Ranking, compare, write_result


def _result(fp="abc", ndcg=0.05, training=None, **extra):
    return {"kind": "baseline", "split": "test", "split_fingerprint": fp,
            "dataset": {"dataset": "tiny", "users": 3, "items": 8, "interactions": 12},
            "retrieval": {"recall@10": 2 * ndcg, "ndcg@10": ndcg, "users": 3},
            "training": training or {}, **extra}


def test_compare_writes_table_csv_json_plot(tmp_path):
    run = tmp_path / "run"
    write_result(run, "BPR", _result(ndcg=0.04, training={"epochs": 30, "best_epoch": 25, "converged": True,
                                                          "stopped_by": "early_stopping", "wall_time_s": 12.0}),
                 Ranking(["u"], [["a", "b"]], ["b"]))
    write_result(run, "SASRec", _result(ndcg=0.07, training={"epochs": 3, "best_epoch": 2, "converged": False,
                                                             "stopped_by": "time_budget", "wall_time_s": 300.0}))
    write_result(run, "t5-tiny", _result(ndcg=0.01, kind="seq2seq", rating={"rmse": 1.1, "mae": 0.9, "n": 3}))
    rep = compare([run])
    md = rep["markdown"]
    assert "leave-one-out by time" in md and "input history items never ranked" in md and "catalogue" in md
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert lines[1].startswith("| SASRec") and lines[3].startswith("| t5-tiny")  # best NDCG@10 first
    assert "NOT CONVERGED: cut short by time_budget after 3 epoch(s)" in lines[1]
    assert "converged (best epoch 25" in lines[2]
    for f in ("report.md", "report.csv", "report.json", "report.png"):
        assert (run / f).stat().st_size > 0
    assert json.loads((run / "report.json").read_text())["header"][:3] == ["model", "kind", "Recall@10"]
    assert (run / "results" / "BPR" / "ranking.jsonl").read_text().strip() == \
        '{"user": "u", "target": "b", "rank": 2, "ranked": ["a", "b"]}'


def test_compare_refuses_different_splits(tmp_path):
    write_result(tmp_path / "a", "BPR", _result(fp="111"))
    write_result(tmp_path / "b", "SASRec", _result(fp="222"))
    with pytest.raises(RecalignError, match="different splits"):
        compare([tmp_path / "a", tmp_path / "b"])


def test_compare_cli(tmp_path):
    from recalign.cli import main

    write_result(tmp_path / "r", "Pop", _result())
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "r"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "| Pop | baseline |" in res.output and (tmp_path / "o" / "report.md").is_file()
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "empty")])
    assert res.exit_code != 0 and "not found" in res.output


def test_compare_wandb_offline_run_is_complete_on_return(tmp_path, monkeypatch):
    """`compare --wandb` logs the table; the offline run file is fully written when compare returns."""
    for k in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    write_result(tmp_path / "r", "Pop", _result(ndcg=0.0321))
    compare([tmp_path / "r"], wandb=True)
    (log,) = (tmp_path / "r").rglob("offline-run-*/run-*.wandb")
    raw = log.read_bytes()
    assert len(raw) > 7 and b"comparison" in raw and b"compare" in raw, raw[:80]


def test_wandb_mode_never_waits_on_a_network(monkeypatch):
    """No key → offline; a key but an unreachable server → offline (wandb would retry ~100 s and
    raise); the user's WANDB_MODE always wins."""
    import socket

    from recalign.wandb_io import offline_unless_reachable

    for k in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(k, raising=False)
    assert offline_unless_reachable() == "offline"
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    with socket.socket() as s:                      # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    assert offline_unless_reachable() == "offline"
    monkeypatch.delenv("WANDB_MODE")
    with socket.socket() as srv:                    # a server that accepts connections
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{srv.getsockname()[1]}")
        assert offline_unless_reachable() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert offline_unless_reachable() == "disabled"


def _hits(name, hits, run, kind="seq2seq", users=None):
    """A result whose users hit (target at rank 1) or miss, with its per-user rows."""
    from recalign.eval import ranking_metrics

    users = users or [f"u{i:03d}" for i in range(len(hits))]
    r = Ranking(users, [["a", "b"]] * len(hits), ["a" if h else "z" for h in hits])
    return write_result(run, name, _result(kind=kind, retrieval=ranking_metrics(r, ks=(5, 10), per_user=True)))


def _ev(run):
    return json.loads((run / "report.json").read_text())["evidence"]


def test_compare_intervals_reference_and_paired_differences(tmp_path):
    run = tmp_path / "run"
    _hits("SASRec", [1] * 60 + [0] * 40, run, kind="baseline")
    _hits("BPR", [1] * 20 + [0] * 80, run, kind="baseline")
    _hits("t5", [1] * 60 + [0] * 40, run)                       # per user exactly SASRec's
    rep = compare([run])
    ev = _ev(run)
    assert ev["references"] == {"retrieval": "SASRec"}          # the best baseline
    assert ev["method"]["resamples"] == 1000 and "sign-flip" in ev["method"]["test"]
    sas = ev["intervals"]["SASRec"]["retrieval"]["ndcg@10"]
    assert sas["value"] == 0.6 and 0.49 < sas["low"] < 0.6 < sas["high"] < 0.71 and sas["users"] == 100
    t5 = ev["differences"]["t5"]["retrieval"]["ndcg@10"]
    assert (t5["value"], t5["low"], t5["high"], t5["p"], t5["significant"]) == (0.0, 0.0, 0.0, 1.0, False)
    bpr = ev["differences"]["BPR"]["retrieval"]["recall@10"]
    assert bpr["value"] == pytest.approx(-0.4) and bpr["high"] < 0 and bpr["p"] < 0.01 and bpr["significant"]
    h = rep["header"]
    assert h[:5] == ["model", "kind", "Recall@5", "Recall@5 lo", "Recall@5 hi"] and "p NDCG@10" in h
    rows = {r[0]: dict(zip(h, r)) for r in rep["rows"]}
    assert rows["SASRec"]["NDCG@10 lo"] == sas["low"] and rows["BPR"]["significant NDCG@10"] is True
    main_table = rep["markdown"].split("###")[0]
    md = {ln.split(" | ")[0][2:]: ln for ln in main_table.splitlines() if ln.startswith("| ")}
    assert "Δ NDCG@10 vs SASRec" in md["model"]
    assert f"| 0.6000 [{sas['low']:.4f}, {sas['high']:.4f}] |" in md["SASRec"] and "| reference |" in md["SASRec"]
    assert "| +0.0000 [+0.0000, +0.0000] p=1.000 |" in md["t5"]
    assert "| -0.4000 [" in md["BPR"] and "p=0.001* |" in md["BPR"]
    assert "| BPR | SASRec | NDCG@10 | -0.4000 [" in rep["markdown"]
    assert "NDCG@10 lo" in (run / "report.csv").read_text().splitlines()[0]


def test_compare_reference_option(tmp_path):
    from recalign.cli import main

    run = tmp_path / "run"
    _hits("SASRec", [1] * 6 + [0] * 4, run, kind="baseline")
    _hits("t5", [1] * 3 + [0] * 7, run)
    res = CliRunner().invoke(main, ["compare", str(run), "--reference", "t5", "--resamples", "200"])
    assert res.exit_code == 0, res.output
    assert "Δ NDCG@10 vs t5" in res.output and _ev(run)["references"] == {"retrieval": "t5"}
    assert _ev(run)["differences"]["SASRec"]["retrieval"]["recall@10"]["value"] == pytest.approx(0.3)
    res = CliRunner().invoke(main, ["compare", str(run), "--reference", "SASrec"])
    assert res.exit_code != 0 and "unknown reference 'SASrec'" in res.output and "Did you mean 'SASRec'" in res.output
    assert "Traceback" not in res.output


def test_rows_on_fewer_users_are_marked_and_not_paired(tmp_path):
    run = tmp_path / "run"
    _hits("BPR", [1] * 20 + [0] * 80, run, kind="baseline")
    _hits("t5", [1] * 30 + [0] * 70, run)
    _hits("t5-first50", [1] * 40 + [0] * 10, run)               # evaluate.max_users: 50 users, looks best
    rep = compare([run])
    names = [r[0] for r in rep["rows"]]
    assert names == ["t5", "BPR", "t5-first50"]                  # ranked after every full row
    status = dict(zip(names, (r[-1] for r in rep["rows"])))
    assert status["t5-first50"] == "PARTIAL: 50 of 100 users" and status["t5"] == ""
    ev = _ev(run)
    assert ev["differences"]["t5-first50"]["retrieval"] == "not paired: 50 vs 100 users"
    assert ev["partial"] == {"t5-first50": {"users": 50, "of": 100}}
    assert "| t5-first50 | BPR | retrieval | not paired: 50 vs 100 users | | |" in rep["markdown"]


def test_ablation_arms_vs_rec_only_and_seed_spread(tmp_path):
    run = tmp_path / "run"
    _hits("t5-rec-only", [1] * 30 + [0] * 70, run)
    _hits("t5", [1] * 30 + [0] * 70, run)                        # rec + all auxiliary tasks: no change
    _hits("t5-rec+mim", [1] * 90 + [0] * 10, run)                # a large gain
    _hits("t5-seed0", [1] * 40 + [0] * 60, run)
    _hits("t5-seed1", [1] * 60 + [0] * 40, run)
    rep = compare([run])
    pairs = {p["model"]: p for p in _ev(run)["ablation_pairs"]}
    assert set(pairs) == {"t5", "t5-rec+mim"}
    assert pairs["t5"]["arm"] == "+all" and pairs["t5"]["result"]["ndcg@10"]["p"] == 1.0
    mim = pairs["t5-rec+mim"]["result"]["recall@10"]
    assert mim["value"] == pytest.approx(0.6) and mim["significant"]
    (seeds,) = _ev(run)["seeds"]
    assert seeds["runs"] == ["t5-seed0", "t5-seed1"]
    assert seeds["metrics"]["retrieval"]["recall@10"] == {"mean": 0.5, "std": pytest.approx(0.141421356), "n": 2}
    md = rep["markdown"]
    assert "| t5-rec+mim | t5-rec-only | Recall@10 | +0.6000 [" in md
    assert "| t5 | 2 | Recall@10 0.5000 ± 0.1414; NDCG@10 0.5000 ± 0.1414 |" in md


def test_stale_per_user_rows_give_a_note_not_an_interval(tmp_path):
    run = tmp_path / "run"
    d = _hits("BPR", [1] * 6 + [0] * 4, run, kind="baseline")
    p = d / "per_user" / "retrieval.jsonl"
    p.write_text(p.read_text().replace('"recall@10": 1.0', '"recall@10": 0.0', 1))
    rep = compare([run])
    assert "BPR" not in _ev(run)["intervals"] or not _ev(run)["intervals"]["BPR"]
    assert "disagree with metrics.json on recall@10" in rep["markdown"]
    assert "| 0.6000 |" in rep["markdown"]                       # the number itself, with no interval


def test_learning_curves_plotted_beside_the_comparison(tmp_path):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "logs" / "curve.jsonl").write_text("".join(
        json.dumps({"step": s, "examples_seen": 32 * s, "train_minutes": s / 10, "ndcg@10": 0.01 * s,
                    "recall@10": 0.02 * s, "users": 50}) + "\n" for s in (10, 20, 30)))
    write_result(run, "t5", _result(ndcg=0.03, kind="seq2seq", training={"model_dir": str(run / "model")}))
    write_result(run, "SASRec", _result(ndcg=0.05, valid_retrieval={"ndcg@10": 0.04}))
    rep = compare([run])
    assert rep["paths"]["curves"] == run / "curves.png" and (run / "curves.png").stat().st_size > 0
    assert "Learning curves: curves.png" in rep["markdown"] and "baselines' final valid NDCG@10 dashed" in rep["markdown"]
    from recalign.eval.report import baseline_valid_ndcg, curve_points

    results = json.loads((run / "report.json").read_text())["results"]
    assert [p["step"] for p in curve_points(results)["t5"]] == [10, 20, 30]
    assert baseline_valid_ndcg([{"model": "SASRec", "kind": "baseline", "valid_retrieval": {"ndcg@10": 0.04}}]) \
        == {"SASRec": 0.04}


def test_two_runs_of_the_same_model_are_told_apart(tmp_path):
    for run, hits in (("a", [1] * 30 + [0] * 70), ("b", [1] * 70 + [0] * 30)):
        _hits("BPR", [1] * 50 + [0] * 50, tmp_path / run, kind="baseline")
        _hits("t5", hits, tmp_path / run)
        _hits("t5-rec-only", [1] * 30 + [0] * 70, tmp_path / run)
    rep = compare([tmp_path / "a", tmp_path / "b"], out_dir=tmp_path / "o")
    names = [r[0] for r in rep["rows"]]
    assert set(names) == {"a/BPR", "b/BPR", "a/t5", "b/t5", "a/t5-rec-only", "b/t5-rec-only"}
    pairs = {p["model"]: p["result"]["recall@10"]["value"] for p in _ev(tmp_path / "o")["ablation_pairs"]}
    assert pairs == {"a/t5": 0.0, "b/t5": pytest.approx(0.4)}   # each run's arm against its own rec-only

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

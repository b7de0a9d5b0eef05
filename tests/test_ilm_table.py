"""ILM arms over seeds: result names per seed, the seed-averaged arms table, compare's seed groups.

Results are written by the writer ``recalign.eval.evaluate`` uses (``write_result`` with
``ranking_metrics(per_user=True)``): a ``retrieval`` and a ``retrieval_unseen`` section, each with its
``per_user/<section>.jsonl``. Every user's NDCG@10 is 1 (target ranked first) or 0 (target absent).
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from recalign.eval import Ranking, ranking_metrics, write_result
from recalign.eval.evidence import seed_groups
from recalign.ilm.config import ILMArm, ILMConfig
from recalign.ilm.table import arm_table, markdown, seed_average

USERS = [f"u{i}" for i in range(10)]


def _ranking(first: int) -> Ranking:
    """The first ``first`` users hit at rank 1 (NDCG@10 = 1), the others miss (0)."""
    return Ranking(USERS, [["a", "b"]] * len(USERS), ["a"] * first + ["z"] * (len(USERS) - first))


def _result(run, name, seen: int, unseen: int | None = None, kind="seq2seq"):
    res = {"kind": kind, "split": "test", "split_fingerprint": "fp",
           "retrieval": ranking_metrics(_ranking(seen), ks=(5, 10), per_user=True)}
    if unseen is not None:
        res["retrieval_unseen"] = ranking_metrics(_ranking(unseen), ks=(5, 10), per_user=True)
    return write_result(run, name, res)


@pytest.fixture
def run(tmp_path):
    r = tmp_path / "run"
    _result(r, "ilm-backbone", 4, 3)
    _result(r, "ilm-mlp", 5, 2)                 # seed 0 keeps the seedless name
    _result(r, "ilm-mlp-seed1", 7, 4)
    _result(r, "ilm-qformer", 8, 1)
    _result(r, "ilm-qformer-seed1", 8, 1)
    _result(r, "SASRec", 9, kind="baseline")
    _result(r, "recalign-t5", 2, 2)             # not an ILM row
    return r


def _rows(table):
    return {r["name"]: r for r in table["rows"]}


def test_the_table_averages_each_user_over_an_arms_seeds(run):
    t = arm_table(run, n_resamples=200)
    rows = _rows(t)
    assert list(rows) == ["backbone", "mlp", "qformer", "SASRec"]
    mlp = rows["mlp"]
    assert mlp["results"] == ["ilm-mlp", "ilm-mlp-seed1"]            # the seedless row is seed 0 of the group
    s = mlp["seen"]
    assert s["seeds"] == [0, 1] and s["per_seed"] == {"ilm-mlp": 0.5, "ilm-mlp-seed1": 0.7}
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(0.1414213562)
    # per user: u0-u4 hit in both seeds (1), u5-u6 in one (0.5), the rest in none: mean 0.6
    assert s["per_user"].columns["ndcg@10"].tolist() == [1.0] * 5 + [0.5] * 2 + [0.0] * 3
    assert s["value"] == pytest.approx(0.6) and s["low"] <= 0.6 <= s["high"] and s["users"] == 10
    assert mlp["unseen"]["mean"] == pytest.approx(0.3) and mlp["unseen"]["per_seed"]["ilm-mlp-seed1"] == 0.4
    q = rows["qformer"]["seen"]
    assert (q["mean"], q["std"], q["high"]) == (pytest.approx(0.8), 0.0, 1.0) and 0.5 < q["low"] < 0.8
    assert rows["backbone"]["seen"]["seeds"] == [0] and rows["backbone"]["seen"]["mean"] == pytest.approx(0.4)
    assert rows["SASRec"]["kind"] == "reference" and rows["SASRec"]["unseen"] is None
    assert rows["SASRec"]["seen"]["mean"] == pytest.approx(0.9)


def test_paired_differences_vs_the_backbone_and_the_fixed_contrasts(run):
    t = arm_table(run, n_resamples=200)
    rows = _rows(t)
    assert rows["backbone"]["vs_backbone"] == {}
    d = rows["mlp"]["vs_backbone"]["seen"]
    assert d["value"] == pytest.approx(0.2) and d["users"] == 10            # 0.6 − 0.4 on the same users
    assert rows["mlp"]["vs_backbone"]["unseen"]["value"] == pytest.approx(0.0)   # 0.3 − 0.3
    assert rows["SASRec"]["vs_backbone"]["seen"]["value"] == pytest.approx(0.5)
    c = {(x["a"], x["b"]): x for x in t["contrasts"]}
    qm = c[("qformer", "mlp")]
    # per user qformer − mlp: u5, u6: 1 − 0.5; u7: 1 − 0; the others 0: +0.2 seen, 0.1 − 0.3 = −0.2 unseen
    assert qm["seen"]["value"] == pytest.approx(0.2) and qm["seen"]["low"] >= 0 and not qm["seen"]["significant"]
    assert qm["unseen"]["value"] == pytest.approx(-0.2) and qm["unseen"]["high"] <= 0
    # arms with no result: said, and their contrasts skipped
    assert t["missing"] == ["qformer-p1", "qformer-p1-iic", "qformer-p1-iic-shuffled"]
    assert c[("qformer-p1", "qformer")] == {"a": "qformer-p1", "b": "qformer", "skipped": "no ilm-qformer-p1 results"}
    assert "seen" not in c[("qformer-p1-iic-shuffled", "qformer-p1-iic")]
    md = markdown(t)
    assert "| mlp | 2 (0, 1) | 10 | 0.6000 ± 0.1414 |" in md
    assert "| backbone | 1 (0) | 10 | 0.4000 | " in md and "| reference |" in md
    assert "| SASRec (reference) | 1 (single run) | 10 | 0.9000 |" in md
    assert "| qformer − mlp | +0.2000 [" in md
    assert "| qformer-p1 − qformer | skipped: no ilm-qformer-p1 results |" in md
    assert "- no results for arm `qformer-p1` (RUN/results/ilm-qformer-p1[-seed<N>]): left out" in md


def test_named_arms_seeds_on_other_users_and_stale_rows(run):
    t = arm_table(run, ["mlp", "nope"], n_resamples=50)
    assert [r["name"] for r in t["rows"]] == ["backbone", "mlp", "SASRec"] and t["missing"] == ["nope"]
    assert next(x for x in t["contrasts"] if x["a"] == "qformer")["skipped"] == "qformer not in this table"
    # a seed evaluated on other users: its seeds are not averaged per user (no interval, no paired test)
    write_result(run, "ilm-mlp-seed2", {"kind": "seq2seq", "retrieval": ranking_metrics(
        Ranking(["x1", "x2"], [["a"]] * 2, ["a", "z"]), ks=(10,), per_user=True)})
    t = arm_table(run, ["mlp"], n_resamples=50)
    s = _rows(t)["mlp"]["seen"]
    assert s["seeds"] == [0, 1, 2] and s["mean"] == pytest.approx((0.5 + 0.7 + 0.5) / 3) and "low" not in s
    assert _rows(t)["mlp"]["vs_backbone"]["seen"] == "no per-user rows for mlp: no paired test"
    assert any("seeds not averaged per user" in n and "cannot pair ilm-mlp" in n for n in t["notes"])
    # per-user rows that disagree with metrics.json: left out of the average, with compare's note
    p = run / "results" / "ilm-mlp-seed2" / "per_user" / "retrieval.jsonl"
    p.write_text(p.read_text().replace('"ndcg@10": 1.0', '"ndcg@10": 0.0', 1))
    t = arm_table(run, ["mlp"], n_resamples=50)
    assert _rows(t)["mlp"]["seen"]["seeds"] == [0, 1]
    assert any("disagree with metrics.json" in n for n in t["notes"])


def test_seed_average_pairs_users_by_id():
    from recalign.errors import RecalignError
    from recalign.eval.metrics import PerUser

    a = PerUser(["u1", "u2", "u3"], {"sq_err": [1.0, 4.0, float("nan")]})
    b = PerUser(["u3", "u2", "u1"], {"sq_err": [9.0, 0.0, 3.0]})
    assert seed_average([a, b], "rmse").columns["sq_err"].tolist() == [2.0, 2.0, 9.0]
    with pytest.raises(RecalignError, match="cannot pair"):
        seed_average([a, PerUser(["u1"], {"sq_err": [1.0]})], "rmse")


def test_recalign_ilm_table_cli(run):
    from recalign.cli import main

    res = CliRunner().invoke(main, ["ilm", "--run", str(run), "--table"])
    assert res.exit_code == 0, res.output + res.stderr
    md = (run / "ilm" / "table.md").read_text()
    assert res.stdout == md and "| mlp | 2 (0, 1) | 10 | 0.6000 ± 0.1414 |" in md
    assert "wrote" in res.stderr and not (run / "ilm" / "summary.json").exists()        # nothing trained
    assert not (run / "results" / "ilm-backbone-seed1").exists()
    bad = CliRunner().invoke(main, ["ilm", "--run", str(run), "--table", "--seed", "1"])
    assert bad.exit_code == 2 and "--table trains nothing" in bad.output
    one = CliRunner().invoke(main, ["ilm", "--run", str(run), "--table", "--arm", "qformer"])
    assert one.exit_code == 0 and "| mlp |" not in one.output and "| qformer | 2 (0, 1) |" in one.output


def test_seeds_name_results_and_the_backbone_runs_once(tmp_path, monkeypatch):
    from recalign.cli import main
    from recalign.ilm import runner

    assert ILMArm("mlp", "mlp").result_name(0) == "ilm-mlp" and ILMArm("mlp", "mlp").folder(3) == "mlp-seed3"
    assert ILMArm("backbone", "none").result_name(3) == "ilm-backbone"
    calls = []

    def fake_arm(run, cfg, arm, log=print, cache=None):
        calls.append((arm.name, cfg.seed))
        return {"arm": arm.__dict__, "result": arm.result_name(cfg.seed), "seed": cfg.seed}

    monkeypatch.setattr(runner, "run_arm", fake_arm)
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    (run / "ilm").mkdir()
    (run / "ilm" / "summary.json").write_text(json.dumps({"mlp": {"old": True}}))      # keyed by arm, as before
    res = CliRunner().invoke(main, ["ilm", "--run", str(run), "--arm", "backbone", "--arm", "mlp",
                                    "--seed", "0", "--seed", "1", "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert calls == [("backbone", 0), ("mlp", 0), ("mlp", 1), ("mlp", 2)]
    summary = json.loads((run / "ilm" / "summary.json").read_text())
    assert list(summary) == ["ilm-mlp", "ilm-backbone", "ilm-mlp-seed1", "ilm-mlp-seed2"]
    assert summary["ilm-mlp"]["seed"] == 0 and "old" not in summary["ilm-mlp"]
    calls.clear()
    assert CliRunner().invoke(main, ["ilm", "--run", str(run), "--arm", "mlp"]).exit_code == 0
    assert calls == [("mlp", 0)]                                   # default: the config's seed
    calls.clear()
    assert CliRunner().invoke(main, ["ilm", "--run", str(run), "--arm", "mlp", "-o", "seed=4"]).exit_code == 0
    assert calls == [("mlp", 4)]
    bad = CliRunner().invoke(main, ["ilm", "--run", str(run), "--seed", "-1"])
    assert bad.exit_code == 2 and calls == [("mlp", 4)]
    from recalign.errors import RecalignError

    with pytest.raises(RecalignError, match="seed must be a non-negative integer"):
        ILMConfig(seed=-2)


def test_compare_groups_the_seedless_row_with_its_seeds(tmp_path):
    """evidence.seed_groups: ``<base>`` joins ``<base>-seed<N>`` as seed 0 (not where ``-seed0`` is there)."""
    from recalign.eval import compare

    run = tmp_path / "run"
    _result(run, "ilm-mlp", 5, 2)
    _result(run, "ilm-mlp-seed1", 7, 4)
    _result(run, "Pop", 1, kind="baseline")
    compare([run])
    seeds = {g["group"]: g for g in json.loads((run / "report.json").read_text())["evidence"]["seeds"]}
    assert set(seeds) == {"ilm-mlp", "ilm-mlp (unseen templates)"}
    assert seeds["ilm-mlp"]["runs"] == ["ilm-mlp", "ilm-mlp-seed1"]
    assert seeds["ilm-mlp"]["metrics"]["retrieval"]["ndcg@10"] == {"mean": 0.6, "std": pytest.approx(0.1414213562),
                                                                   "n": 2}
    assert seeds["ilm-mlp (unseen templates)"]["metrics"]["retrieval"]["ndcg@10"]["mean"] == pytest.approx(0.3)
    assert seed_groups(["t5", "t5-seed0", "t5-seed1"]) == {"t5": [(0, "t5-seed0"), (1, "t5-seed1")]}
    assert seed_groups(["t5", "SASRec"]) == {}                     # no seed sibling: no group
    assert seed_groups(["a-seed10", "a", "a-seed2"]) == {"a": [(0, "a"), (2, "a-seed2"), (10, "a-seed10")]}

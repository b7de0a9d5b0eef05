"""Ablation arms × seeds: which models a run trains, and under which names."""
import pytest

from recalign.errors import RecalignError
from recalign.variants import arms, plan

ALL = ["retrieval", "ranking", "rating", "mim", "mlm", "bpr"]


def test_full_ablation_is_rec_only_plus_each_auxiliary_task_alone():
    got = {v.suffix: (v.subdir, v.tasks) for v in plan(ALL, "full")}
    rec = ["retrieval", "ranking", "rating"]
    assert got == {"": (None, ALL), "-rec-only": ("rec-only", rec), "-rec+mim": ("rec+mim", rec + ["mim"]),
                   "-rec+mlm": ("rec+mlm", rec + ["mlm"]), "-rec+bpr": ("rec+bpr", rec + ["bpr"])}
    assert [v.suffix for v in plan(ALL, True)] == ["", "-rec-only"]      # the old boolean keeps its meaning
    assert [v.suffix for v in plan(ALL, False)] == [""]


def test_seeds_name_every_run_and_keep_seed0_of_the_main_model_in_place():
    vs = plan(ALL, ["rec-only"], seeds=3)
    assert [(v.suffix, v.subdir, v.seed_offset) for v in vs] == [
        ("-seed0", None, 0), ("-seed1", "seed1", 1), ("-seed2", "seed2", 2),
        ("-rec-only-seed0", "rec-only-seed0", 0), ("-rec-only-seed1", "rec-only-seed1", 1),
        ("-rec-only-seed2", "rec-only-seed2", 2)]


def test_bad_ablation_and_seeds_are_one_line_errors():
    with pytest.raises(RecalignError, match=r"unknown ablation arm 'rec\+mimm'.*Did you mean 'rec\+mim'"):
        arms("rec+mimm")
    with pytest.raises(RecalignError, match="arm rec\\+mlm needs mlm in generate.tasks"):
        plan(["retrieval", "mim"], "full")
    with pytest.raises(RecalignError, match="needs auxiliary tasks"):
        plan(["retrieval"], True)
    with pytest.raises(RecalignError, match="seeds must be a positive integer"):
        plan(ALL, False, seeds=0)


def test_run_config_wires_seeds_and_ablation(tmp_path):
    from click.testing import CliRunner

    from recalign.cli import main
    from recalign.pipeline import load_run_config, train_config
    from recalign.variants import baseline_runs

    cfg = load_run_config(None, ["ablation=full", "seeds=2", "baselines.seeds=3", "train.seed=5"])
    vs = plan(cfg.generate.tasks, cfg.ablation, cfg.seeds)
    assert len(vs) == 10 and vs[3].suffix == "-rec-only-seed1"
    assert [train_config(cfg, v.tasks, v.seed_offset).seed for v in vs[:2]] == [5, 6]
    assert train_config(cfg, vs[3].tasks, vs[3].seed_offset).mixture.tasks == ["retrieval", "ranking", "rating"]
    assert [n for n, _ in baseline_runs("SASRec", None, cfg.baselines.seeds)] == ["SASRec-seed0", "SASRec-seed1",
                                                                                 "SASRec-seed2"]
    with pytest.raises(RecalignError, match="unknown ablation arm 'rec\\+foo'"):
        load_run_config(None, ["ablation=rec+foo"])
    res = CliRunner().invoke(main, ["run", "--run-dir", str(tmp_path / "r"), "--ablation", "rec+foo"])
    assert res.exit_code != 0 and "unknown ablation arm 'rec+foo'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r" / "results").exists()                  # refused before any work
    res = CliRunner().invoke(main, ["run", "--run-dir", str(tmp_path / "r"), "--seeds", "0"])
    assert res.exit_code == 2 and "--seeds" in res.output

"""Configs compose: the evaluate: section is evaluate()'s keywords; one -o and one --run-dir
everywhere (old spellings hidden but working); verbs load lazily."""
from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pytest
from pathlib import Path
from click.testing import CliRunner

from recalign.cli import main
from recalign.eval.evaluate import evaluate
from recalign.pipeline import EvaluateConfig, load_run_config
from recalign.tasks import TASKS

WRITERS = [["data", "prepare"], ["generate"], ["train"], ["evaluate"], ["baseline"]]


def test_evaluate_section_is_evaluates_signature():
    params = inspect.signature(evaluate).parameters
    defaults = EvaluateConfig()
    for f in dataclasses.fields(EvaluateConfig):
        assert f.name in params, f.name
        if f.name != "tasks":   # None there = every evaluable task, listed here
            want = params[f.name].default
            got = getattr(defaults, f.name)
            assert (list(got) if isinstance(got, (list, tuple)) else got) == (
                list(want) if isinstance(want, (list, tuple)) else want), f.name


@pytest.mark.parametrize("verb", WRITERS, ids=" ".join)
def test_one_run_dir_and_one_override_flag(verb):
    text = CliRunner().invoke(main, [*verb, "--help"]).output
    assert "--run-dir RUN" in text and "-o, --override KEY=VALUE" in text
    assert "--out" not in text and "--set" not in text and "--run " not in text


def test_old_spellings_still_work(tmp_path, tiny_dir):
    r = CliRunner().invoke(main, ["data", "prepare", "-d", str(tiny_dir), "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["generate", "--out", str(tmp_path / "a"), "--tasks", "retrieval",
                                  "--set", "seed=3", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert '"seed": 3' in (tmp_path / "a" / "text" / "manifest.json").read_text()


def test_overrides_reach_typed_sections():
    cfg = load_run_config("configs/ml100k-cpu.yaml", ["generate.seed=4", "evaluate.beam=5", "data.user_k=2"])
    assert (cfg.generate.seed, cfg.evaluate.beam, cfg.data.user_k) == (4, 5, 2)
    assert cfg.generate.tasks == ["retrieval", "ranking", "rating", "mim", "mlm", "bpr"]


def test_help_and_data_verbs_do_not_import_torch():
    code = ("import sys; from recalign.cli import main\n"
            "try: main(['data', 'info', '--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_item_id_config_loads_with_its_levers_and_make_run_runs_the_instruction_config():
    cfg = load_run_config("configs/ml100k-cpu-ids.yaml", [])
    assert (cfg.generate.item_input, cfg.generate.item_target, cfg.generate.item_compact) == ("id", "id", True)
    assert set(cfg.generate.tasks) == set(cfg.train["mixture"]["rates"]) == {"retrieval", "ranking", "rating"}
    seq = load_run_config("configs/ml100k-cpu-seq.yaml", [])
    main = load_run_config("configs/ml100k-cpu-instruct.yaml", [])
    makefile = Path("Makefile").read_text()
    assert "CONFIG ?= configs/ml100k-cpu-instruct.yaml" in makefile and f"RUN_DIR ?= {main.run_dir}" in makefile
    assert len({cfg.run_dir, seq.run_dir, main.run_dir, load_run_config("configs/ml100k-cpu.yaml", []).run_dir}) == 4
    # the main job is the paper's method: instructions, the three recommendation tasks and the auxiliary ones
    assert set(main.generate.tasks) == set(main.train["mixture"]["rates"]) == set(TASKS.names())
    assert set(main.generate.decoder_history) == {"retrieval", "ranking", "rating"}
    assert main.generate.templates_dirs in (None, []) and main.evaluate.templates == ["seen", "unseen"]
    from recalign.config import from_dict
    from recalign.t5_finetune import TrainConfig

    train = from_dict(TrainConfig, cfg.train)              # the train section validates
    assert (train.embedding_lr_scale, train.encoder_positions, train.dropout) == (100, 64, 0.3)
    assert cfg.run_dir != load_run_config("configs/ml100k-cpu.yaml", []).run_dir


def test_templates_dirs_reach_the_run_and_a_missing_one_is_named(tmp_path):
    from recalign.errors import RecalignError
    from recalign.pipeline import run, templates_dirs
    from recalign.tasks.templating import load_templates

    cfg = load_run_config("configs/ml100k-cpu-seq.yaml", [])
    assert templates_dirs(cfg) == ["configs/templates/bare-retrieval"]
    seen = [t for t in load_templates("retrieval", templates_dirs(cfg)) if t.split == "seen"]
    assert len(seen) == 6 and all(t.input.strip() == "{{ history | join(' ') }}" for t in seen)
    assert set(cfg.generate.tasks) == set(cfg.train["mixture"]["rates"]) == {"retrieval"}
    bad = load_run_config("configs/ml100k-cpu-seq.yaml", [f"generate.templates_dirs=[{tmp_path / 'nope'}]",
                                                           f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(RecalignError, match="nope.*not a directory of templates") as e:
        run(bad, echo=lambda _: None)
    assert e.value.field == "generate.templates_dirs" and not (tmp_path / "run" / "data").exists()

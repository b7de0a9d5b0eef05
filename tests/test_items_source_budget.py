"""One source budget in the default run: a preset's tokenizer is trained before generation, so
generate fits every input to train.max_source_length and says how many it shortened."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from recalign.cli import main
from recalign.errors import RecalignError
from recalign.pipeline import generate_config, load_run_config
from recalign.t5_finetune import TrainConfig, train_tokenizer
from recalign.t5_finetune.run_tokenizer import run_source_settings
from recalign.tasks import GenerateConfig
from recalign.tasks.fit import SourceFit, token_counter


def test_the_run_has_one_budget():
    assert generate_config(load_run_config(None, ["train.max_source_length=99"])).max_source_tokens == 99
    with pytest.raises(RecalignError, match="one source budget") as e:
        run_source_settings(GenerateConfig(max_source_tokens=50), TrainConfig(max_source_length=99))
    assert e.value.field == "generate.max_source_tokens"
    g = run_source_settings(GenerateConfig(), TrainConfig(model="/models/flan-t5-small", max_source_length=64))
    assert (g.max_source_tokens, g.source_tokenizer) == (64, "/models/flan-t5-small")   # a checkpoint counts itself


def test_counter_matches_the_tokenizer_and_skips_only_what_surely_fits(tmp_path):
    tok = train_tokenizer(["Toy Story", "Heat", "Amélie", "history: next?"] * 20, tmp_path / "t", vocab_size=400)
    tok.add_tokens(["<item_1>", "<item_2>"])
    count = token_counter(tok)
    texts = ["Toy Story; Heat", "<item_1> Amélie <item_2>", "déjà vu " * 9, ""]
    want = [len(tok(t)["input_ids"]) for t in texts]
    assert [count(t) for t in texts] == want == count.many(texts)
    assert count.byte_level and count.specials == 1
    for t, n in zip(texts, want):
        for budget in range(1, 40):
            if count.surely_fits(t, budget):
                assert n <= budget
    fit = SourceFit(5, count)
    assert fit.over_budget(texts) == [i for i, n in enumerate(want) if n > 5]


@pytest.fixture
def run_yaml(tmp_path, tiny_dir):
    cfg = {"run_dir": str(tmp_path / "run"), "data": {"dataset": str(tiny_dir)},
           "generate": {"tasks": ["retrieval", "ranking"], "history_len": 4, "num_candidates": 4, "domain": "movies"},
           "train": {"model": "t5-tiny", "vocab_size": 400, "max_source_length": 110, "max_steps": 2},
           "baselines": {"models": []}}
    p = tmp_path / "run.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_generate_with_a_run_config_trains_the_tokenizer_first_and_fits(run_yaml, tmp_path):
    from transformers import AutoTokenizer

    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["generate", "--config", str(run_yaml), "--run-dir", str(run), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "source budget 110 tokens" in res.output and "ranking    train" in res.output
    m = json.loads((run / "text" / "manifest.json").read_text())
    assert m["fit"]["budget"] == 110 and m["fit"]["tokenizer"] == str(run / "tokenizer")
    tok = AutoTokenizer.from_pretrained(str(run / "tokenizer"))
    assert len(tok) == 400                                       # train.vocab_size, trained before generate
    per = m["fit"]["tasks"]
    assert sum(v["shortened"] for v in per["ranking"].values()) > 0, per          # 4 candidates + 4 titles: over
    assert not any(v["shortened"] or v["over_budget"] for v in per["retrieval"].values()), per
    from recalign.materialize import load_task_data

    for task in ("retrieval", "ranking"):
        for s in ("train", "test", "test_unseen"):
            for r in load_task_data(run, task, s):
                assert len(tok(r["input"])["input_ids"]) <= 110 or m["fit"]["tasks"][task][s]["over_budget"], r

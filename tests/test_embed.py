"""The embedder: the contrastive loss (known values, in-batch switch), retrieval with masking
and Coverage@K, and `recalign train-embedder` end to end on a small catalogue (a few steps)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from recalign.cli import main
from recalign.data import Item
from recalign.embed.evaluate import coverage
from recalign.embed.items import item_text, query_text
from recalign.embed.loss import own_negatives_loss
from recalign.embed.retrieve import ItemIndex
from recalign.tasks.query import Catalogue, Condition
from test_query_tasks import write_query_fixture


def test_own_negatives_loss_known_value_and_temperature():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pos = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    neg = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    # row 1: cos(pos)=1, cos(neg)=0; row 2: cos(pos)=0, cos(neg)=1; temperature 0.5
    want = (-math.log(math.e ** 2 / (math.e ** 2 + 1)) - math.log(1 / (1 + math.e ** 2))) / 2
    assert float(own_negatives_loss(q, [pos, neg], 0.5)) == pytest.approx(want, rel=1e-6)
    assert float(own_negatives_loss(q[:1], [pos[:1], neg[:1]], 0.01)) < 1e-6   # sharp and right


def test_in_batch_negatives_switch():
    from recalign.embed.loss import HardNegativeLoss

    q = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    pos = torch.tensor([[0.8, 0.6], [0.6, 0.8]])
    neg = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    own = HardNegativeLoss(None, 0.1).compute_loss_from_embeddings([q, pos, neg], None)
    both = HardNegativeLoss(None, 0.1, in_batch=True).compute_loss_from_embeddings([q, pos, neg], None)
    assert float(own) == pytest.approx(float(own_negatives_loss(q, [pos, neg], 0.1)))
    assert float(both) > float(own)            # the other query's positive and negative join the softmax


class _Fixed:
    """An encoder stand-in with fixed vectors per text (ranking and masking are the real code)."""

    def __init__(self, vecs: dict[str, list[float]]):
        self.vecs = vecs

    def encode(self, texts, **kw):
        v = np.array([self.vecs[t] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_item_index_full_ranking_masks_history():
    enc = _Fixed({"a": [1, 0], "b": [0.9, 0.1], "c": [0, 1], "q": [1, 0.05]})
    idx = ItemIndex(enc, ["a", "b", "c"], ["a", "b", "c"])
    q = enc.encode(["q"])
    assert idx.rank(q, [[]], 3) == [["a", "b", "c"]]
    assert idx.rank(q, [["a"]], 3) == [["b", "c"]]


def test_coverage_checked_against_attributes():
    items = {i: Item(i, i, fields={"year": y, "genres": g}) for i, y, g in
             [("a", "1995", "Drama"), ("b", "1990", "Drama, Romance"), ("c", "1999", "Comedy")]}
    cat = Catalogue.from_items(items)
    conds = [Condition("genres", "has", "Drama"), Condition("genres", "not_has", "Romance")]
    assert coverage([["a", "b", "c"]], [conds], cat, k=2) == 0.5
    assert coverage([["a", "b"], ["c", "a"]], [[Condition("year", "gt", 1992.0)]] * 2, cat, k=2) == 0.75


def test_texts():
    assert item_text(Item("i", "Heat", fields={"year": "1995", "description": "long"})) == "Heat | year: 1995"
    assert query_text("q", None) == "q"


def test_train_embedder_cli_end_to_end(tmp_path):
    data = write_query_fixture(tmp_path / "qtiny")
    run = tmp_path / "run"
    args = ["train-embedder", "--run-dir", str(run), "--dataset", str(data), "-o", "max_steps=6", "-o", "batch_size=8",
            "-o", "max_seq_length=32", "-o", "vocab_size=600", "-o", "tasks=[uh2i, fa2i, nm2i]",
            "-o", "query.eval_items=10", "-o", "threads=2"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    info = json.loads((run / "embed" / "model" / "train_info.json").read_text())
    assert info["steps"] == 6 and info["tasks"] == ["uh2i", "fa2i", "nm2i"] and info["train_queries"] > 30
    assert info["temperature"] == 0.01 and info["in_batch_negatives"] is False
    trained = json.loads((run / "results" / "embed-tiny" / "metrics.json").read_text())
    zero = json.loads((run / "results" / "embed-tiny-zero-shot" / "metrics.json").read_text())
    for r in (trained, zero):
        assert r["retrieval"]["users"] == 16 and r["split_fingerprint"]
        assert (run / "results" / r["model"] / r["retrieval"]["per_user"]).is_file()
        assert set(r["query"]) == {"uh2i", "fa2i", "nm2i"}
        fa = r["query"]["fa2i"]["unseen"]
        assert fa["queries"] == 10 and 0 <= fa["coverage@10"] <= 1 and 0 <= fa["hit@10"] <= 1
        assert r["query"]["uh2i"]["seen"]["hit@10"] == r["retrieval"]["recall@10"]
        bt = r["query"]["nm2i"]["unseen"]["by_template"]
        assert all(t.startswith("nm2i-unseen-") for t in bt) and sum(x["queries"] for x in bt.values()) == 10
        assert sum(x["hit@10"] * x["queries"] for x in bt.values()) == pytest.approx(10 * r["query"]["nm2i"]["unseen"]["hit@10"])
    assert "| fa2i | unseen | embed-tiny-zero-shot |" in res.output
    assert zero["training"]["stopped_by"] == "no_training" and trained["training"]["steps"] == 6
    assert trained["query"]["uh2i"]["seen"] != zero["query"]["uh2i"]["seen"] or \
        trained["query"]["fa2i"]["seen"] != zero["query"]["fa2i"]["seen"]   # training changed the model
    again = CliRunner().invoke(main, [*args, "--eval-only", "--no-zero-shot", "--name", "again"])
    assert again.exit_code == 0, again.output
    def scores(r: dict) -> dict:   # everything but the timings
        return {t: {s: {k: v for k, v in m.items() if k != "queries_per_s"} for s, m in x.items()}
                for t, x in r["query"].items()}
    assert scores(json.loads((run / "results" / "again" / "metrics.json").read_text())) == scores(trained)
    nope = CliRunner().invoke(main, ["train-embedder", "--run-dir", str(run), "--eval-only", "-o", "model=./nope"])
    assert nope.exit_code != 0 and "./nope" in nope.output and len(nope.output.strip().splitlines()) == 1
    bad = CliRunner().invoke(main, ["train-embedder", "--run-dir", str(run), "-o", "temperature=0"])
    assert bad.exit_code != 0 and "temperature" in bad.output and "Traceback" not in bad.output

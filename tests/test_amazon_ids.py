"""An Amazon-format dataset with item IDs, end to end through the stage commands:
convert-amazon → generate (id+title → id, atomic) → train (a few steps) → evaluate."""
from __future__ import annotations

import json
import random
import re

import yaml
from click.testing import CliRunner

from recalign.cli import main

PRODUCTS = ["LEGO Classic Medium Creative Brick Box 10696 Building Toys for Creative Play",
            "Melissa & Doug Wooden Building Blocks Set, 100 Blocks in 4 Colors and 9 Shapes",
            "Rubik's Cube, the Original 3x3 Colour-Matching Puzzle",
            "Duncan Toys Butterfly XT Yo-Yo, Beginner Level",
            "Play-Doh Modeling Compound 10-Pack Case of Colors",
            "Crayola Washable Markers, Broad Line, 10 Count",
            "Hot Wheels Track Builder Unlimited Rapid Launch Builder Box",
            "UNO Card Game for Kids, Adults and Family Night",
            "Magna-Tiles Clear Colors 32-Piece Set",
            "Nerf Elite 2.0 Commander RD-6 Blaster"]


def _write_amazon(d):
    rng = random.Random(4)
    reviews = []
    for u in range(8):
        for k, p in enumerate(rng.sample(range(len(PRODUCTS)), 5)):
            reviews.append({"reviewerID": f"U{u}", "asin": f"B0{p:02d}", "overall": float(rng.randint(1, 5)),
                            "unixReviewTime": 1_500_000_000 + 1000 * k + u})
    (d / "Toys.json").write_text("\n".join(json.dumps(r) for r in reviews))
    (d / "meta_Toys.json").write_text("\n".join(json.dumps({"asin": f"B0{p:02d}", "title": t, "brand": "Acme"})
                                                for p, t in enumerate(PRODUCTS)))
    return d / "Toys.json", d / "meta_Toys.json"


def test_amazon_ids_through_every_stage(tmp_path):
    from transformers import AutoTokenizer

    runner = CliRunner()
    reviews, meta = _write_amazon(tmp_path)
    data = tmp_path / "toys"
    res = runner.invoke(main, ["data", "convert-amazon", "--reviews", str(reviews), "--meta", str(meta),
                               "--name", "toys", "--out", str(data)])
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    cfg = {"data": {"dataset": str(data)},
           "generate": {"tasks": ["retrieval", "ranking", "mlm"], "history_len": 4, "num_candidates": 4,
                        "domain": "products"},
           "train": {"model": "t5-tiny", "vocab_size": 500, "max_source_length": 96, "max_target_length": 16,
                     "max_steps": 3, "per_device_train_batch_size": 8, "eval_steps": 3, "save_steps": 3,
                     "logging_steps": 1, "eval_max_examples": 4, "warmup_steps": 1, "report_to": []}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    res = runner.invoke(main, ["generate", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(run),
                               "--item-input", "id+title", "--item-target", "id", "--item-ids", "atomic",
                               "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "source budget 96 tokens" in res.output
    split = json.loads((run / "data" / "split.json").read_text())
    n_items = len(PRODUCTS)
    assert (run / "tokenizer" / "tokenizer_config.json").is_file()              # trained before generate
    from recalign.materialize import load_task_data

    test = load_task_data(run, "retrieval", "test")
    assert len(test) == 8 and all(re.fullmatch(r"<item_\d+>", t) for t in test["target"])
    train_inputs = load_task_data(run, "retrieval", "train")["input"]
    assert any(re.search(r"<item_\d+> " + re.escape(t[:12]), "\n".join(train_inputs)) for t in PRODUCTS)

    res = runner.invoke(main, ["train", "--config", str(tmp_path / "run.yaml"), "--run-dir", str(run),
                               "--report-to", "none"])
    assert res.exit_code == 0, res.output
    tok = AutoTokenizer.from_pretrained(str(run / "model"))
    base = AutoTokenizer.from_pretrained(str(run / "tokenizer"))
    items = [f"<item_{k}>" for k in range(1, n_items + 1)]
    assert all(len(tok.tokenize(t)) == 1 for t in items)                      # one token per item, saved
    assert {k: v for k, v in tok.get_vocab().items() if k not in items} == base.get_vocab()  # the same tokenizer
    assert split["source"]["path"].endswith("toys")

    res = runner.invoke(main, ["evaluate", "--run-dir", str(run), "--tasks", "retrieval,ranking",
                               "--templates", "seen", "--no-progress"])
    assert res.exit_code == 0, res.output
    m = json.loads((run / "results" / "recalign-t5" / "metrics.json").read_text())
    assert "exact full ranking of all 10 items" in m["protocol"]["retrieval"] and m["input_window"] == 4
    assert m["retrieval"]["users"] == 8 and 0 <= m["retrieval"]["ndcg@10"] <= 1 and m["ranking"]["users"] == 8
    preds = [json.loads(x) for x in (run / "results" / "recalign-t5" / "predictions_retrieval_test.jsonl")
             .read_text().splitlines()]
    assert all(len(p["ranked"]) == n_items - p["masked"] for p in preds)      # the whole catalogue, minus history

"""`evaluate` and `recalign evaluate` end to end on a tiny run directory with a real tiny T5."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import write_tiny
from test_decode_helpers import tiny_seq2seq, train_steps


def _make_run(tmp_path, split):
    from datasets import Dataset

    from recalign.data import write_split

    run = tmp_path / "run"
    write_split(split, run / "data")
    title = {i: it.title for i, it in split.items.items()}
    for which in ("valid", "test"):
        for tset in ("", "_unseen"):
            word = "watched" if not tset else "liked"
            rows = {"retrieval": [], "ranking": [], "rating": []}
            for n, u in enumerate(split.users):
                h, t = list(split.history(u, which)), split.target(u, which)
                htxt = " then ".join(title[i] for i in h)
                base = dict(user=u, target_item=t, history=h, rating=split.target_rating(u, which),
                            _template_split="unseen" if tset else "seen")
                rows["retrieval"].append(dict(base, input=f"user {word} {htxt} next movie", target=title[t],
                                              _task="retrieval", _template_id=f"r{n % 2}", candidates=[]))
                cands = [c for c in split.items if c not in h and c != t][:3] + [t]
                rows["ranking"].append(dict(base, input=f"user {word} {htxt} which of "
                                            + " ; ".join(title[c] for c in cands), target=title[t],
                                            _task="ranking", _template_id="k1", candidates=cands))
                rows["rating"].append(dict(base, input=f"user {word} {htxt} rated {title[t]} stars",
                                           target=str(int(split.target_rating(u, which))),
                                           _task="rating", _template_id="t1", candidates=[]))
            rows["retrieval"].append(dict(rows["retrieval"][0]))   # a duplicate row: counted, not used
            for task, rs in rows.items():
                Dataset.from_list(rs).save_to_disk(str(run / "text" / task / f"{which}{tset}"))
    return run


@pytest.fixture(scope="module")
def run_and_model(tmp_path_factory):
    """One trained tiny model and run directory for the module (each test writes its own results name)."""
    from recalign.data import leave_one_out, load_dataset

    tmp_path = tmp_path_factory.mktemp("evaluate")
    split = leave_one_out(load_dataset(write_tiny(tmp_path / "tiny")))
    run = _make_run(tmp_path, split)
    titles = [it.title for it in split.items.values()]
    model, tok = tiny_seq2seq(extra_texts=titles + ["1 2 3 4 5 next which of ;"], tmp_dir=tmp_path / "tok")
    pairs = [(f"user watched {t} rated {t} stars", "4") for t in titles[:4]]
    model = train_steps(model, tok, pairs + [("user watched toy story next movie", "Fargo")], steps=20)
    return run, model, tok, split


def _lines(p):
    return [json.loads(x) for x in p.read_text().splitlines()]


def test_evaluate_writes_metrics_and_predictions(run_and_model):
    from recalign.eval.evaluate import evaluate

    run, model, tok, split = run_and_model
    m = evaluate(run, "test", model=model, tokenizer=tok, beam=20, exact=True, progress=False)
    d = run / "results" / "recalign-t5"
    assert (d / "metrics.json").is_file()   # evaluate returns the file read back: the checks below are on it
    assert m["model"] == "recalign-t5" and m["kind"] == "seq2seq" and m["split"] == "test"
    assert m["dataset"]["users"] == 3 and len(m["split_fingerprint"]) == 16
    for sec in ("retrieval", "retrieval_unseen", "retrieval_exact", "ranking", "ranking_unseen",
                "rating", "rating_unseen"):
        assert sec in m, sec
    assert m["decoding"]["beam"] == 20 and m["decoding"]["length_penalty"] == 0.0
    assert any("extra row" in n for n in m["notes"])

    preds = _lines(d / "predictions_retrieval_test.jsonl")
    assert len(preds) == 3 == m["retrieval"]["users"]
    for p in preds:
        hist = set(split.history(p["user"], "test"))
        assert not hist & set(p["ranked"])                         # no history item is ever ranked
        assert sorted(p["ranked"]) == sorted(set(split.items) - hist)   # beam 20 > catalogue: all the rest
        assert p["scores"] == sorted(p["scores"], reverse=True)
    ranks = [p["rank"] for p in preds]
    bt = m["retrieval"]["by_template"]                  # users 0 and 2 → r0, user 1 → r1
    assert {k: v["users"] for k, v in bt.items()} == {"r0": 2, "r1": 1}
    for tid, idx in (("r0", [0, 2]), ("r1", [1])):
        assert bt[tid]["recall@10"] == pytest.approx(sum(ranks[i] is not None and ranks[i] <= 10 for i in idx)
                                                     / len(idx))
    assert m["retrieval"]["recall@5"] == pytest.approx(sum(r is not None and r <= 5 for r in ranks) / 3)
    assert m["retrieval_exact"]["top1_agrees_with_beam"] == 1.0
    assert m["retrieval_exact"]["recall@5"] == m["retrieval"]["recall@5"]

    rk = _lines(d / "predictions_ranking_test.jsonl")
    assert m["ranking"]["candidates"] == 4
    assert m["ranking"]["hr@1"] == pytest.approx(sum(r["ranked_raw"][0] == r["target"] for r in rk) / 3)
    for r in rk:                                                   # best first: fails if scored worst-first
        lp = dict(zip(r["candidates"], r["logp"]))
        assert [lp[c] for c in r["ranked_raw"]] == sorted(r["logp"], reverse=True) and len(set(r["logp"])) > 1
    assert m["ranking"]["hr@1_lennorm"] == pytest.approx(sum(r["ranked_lennorm"][0] == r["target"] for r in rk) / 3)
    assert m["ranking"]["hr@5"] == 1.0                             # 4 candidates: always in the top 5
    assert m["ranking"]["by_template"] == {"k1": {"hr@1": m["ranking"]["hr@1"], "ndcg@5": m["ranking"]["ndcg@5"],
                                                  "users": 3}}

    rt = _lines(d / "predictions_rating_test.jsonl")
    assert m["rating"]["n"] + m["rating"]["unparsable"] == 3 == len(rt)
    assert m["rating"]["n"] == sum(r["parsed"] is not None for r in rt)
    assert m["rating"]["scored_values"] == sorted({float(x) for u in split.users for x in split.train_ratings(u)})
    true = np.array([r["true"] for r in rt])
    assert m["rating"]["rmse_expected"] == pytest.approx(float(np.sqrt(np.mean((np.array([r["expected"] for r in rt])
                                                                                  - true) ** 2))))
    assert m["rating"]["mae_argmax"] == pytest.approx(float(np.mean(np.abs(np.array([r["argmax"] for r in rt]) - true))))
    assert m["rating"]["by_template"]["t1"]["rmse_expected"] == pytest.approx(m["rating"]["rmse_expected"])
    assert all(r["argmax"] in m["rating"]["scored_values"] and sum(r["probs"]) == pytest.approx(1, abs=1e-3) for r in rt)


def test_evaluate_valid_subset_of_tasks_and_users(run_and_model):
    from recalign.eval.evaluate import evaluate

    run, model, tok, split = run_and_model
    m = evaluate(run, "valid", model=model, tokenizer=tok, tasks=("retrieval",), templates=("seen",), beam=2,
                 max_users=2, name="small", progress=False)
    assert set(m) >= {"retrieval", "decoding"} and "ranking" not in m and "retrieval_unseen" not in m
    assert m["retrieval"]["users"] == 2 and "recall@5" not in m["retrieval"]
    preds = _lines(run / "results" / "small" / "predictions_retrieval_valid.jsonl")
    assert [len(p["ranked"]) for p in preds] == [2, 2]
    assert m["retrieval"]["recall@2"] == sum(p["target"] in p["ranked"] for p in preds) / 2


def test_cli_evaluate_loads_the_checkpoint(run_and_model):
    from click.testing import CliRunner

    from recalign.cli import main

    run, model, tok, split = run_and_model
    model.save_pretrained(run / "model")
    tok.save_pretrained(run / "model")
    res = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--tasks", "retrieval,rating",
                                    "--templates", "seen", "--beam", "4", "--no-progress", "--name", "cli"])
    assert res.exit_code == 0, res.output
    assert "retrieval" in res.output and "wrote" in res.output
    m = json.loads((run / "results" / "cli" / "metrics.json").read_text())
    assert m["retrieval"]["users"] == 3 and m["decoding"]["beam"] == 4 and "rating" in m
    assert f"E[r] rmse {m['rating']['rmse_expected']:.4f}" in res.output
    # the CLI evaluated the saved (trained) weights: same scores as the model in memory, not a fresh model's
    from recalign.eval.evaluate import evaluate

    def scores(name):
        return [p["scores"] for p in _lines(run / "results" / name / "predictions_retrieval_test.jsonl")]

    kw = dict(tasks=("retrieval",), templates=("seen",), beam=4, progress=False)
    evaluate(run, "test", model=model, tokenizer=tok, name="in-memory", **kw)
    fresh, _ = tiny_seq2seq(extra_texts=[it.title for it in split.items.values()] + ["1 2 3 4 5 next which of ;"],
                            tmp_dir=run.parent / "tok")
    evaluate(run, "test", model=fresh, tokenizer=tok, name="fresh", **kw)
    assert scores("cli") == scores("in-memory") != scores("fresh")
    bad = CliRunner().invoke(main, ["evaluate", "--run", str(run), "--tasks", "retrival"])
    assert bad.exit_code != 0 and "retrieval" in bad.output


def test_every_operation_takes_the_rows_through_one_encode(run_and_model):
    """The model seam: every operation (beam search, exact scoring, candidate scoring, greedy answers,
    scored ratings) hands the task's rows to one ``encode``; the text encoding passed explicitly gives
    the very metrics of the default, and an encoding that reads a row's items changes only the users
    whose input holds that item."""
    import torch

    from recalign.eval.evaluate import evaluate
    from recalign.eval.inputs import encode_texts

    run, model, tok, split = run_and_model
    kw = dict(model=model, tokenizer=tok, beam=20, exact=True, progress=False, templates=("seen",))
    seen: list[dict] = []

    def recording(rows):
        seen.extend(rows)
        return encode_texts(tok, rows, device="cpu")

    base = evaluate(run, "test", name="seam-default", **kw)
    same = evaluate(run, "test", name="seam-text", encode=recording, **kw)
    for sec in ("retrieval", "retrieval_exact", "ranking", "rating"):
        a, b = dict(base[sec]), dict(same[sec])
        for m in (a, b):
            for k in ("wall_s", "users_per_s", "per_user"):
                m.pop(k, None)
        assert a == b, sec
    assert seen and all(isinstance(r, dict) and "history" in r and "candidates" in r for r in seen)
    assert {r["_task"] for r in seen} == {"retrieval", "ranking", "rating"}

    # an encoding that reads the rows' items: a shift of the input embeddings where the history holds `item`
    item = split.history(split.users[0], "test")[0]
    holds = {u for u in split.users if item in split.history(u, "test")}
    assert 0 < len(holds) < len(split.users)
    emb = model.get_input_embeddings()

    def item_aware(rows):
        enc = encode_texts(tok, rows, device="cpu")
        x = emb(enc.model_kwargs.pop("input_ids"))
        shift = torch.tensor([[float(item in r["history"])] for r in rows]).unsqueeze(-1)
        enc.model_kwargs["inputs_embeds"] = x + 0.5 * shift
        return enc

    evaluate(run, "test", name="seam-items", encode=item_aware, tasks=("retrieval",), **kw)

    def scores(name):
        return {p["user"]: p["scores"] for p in _lines(run / "results" / name / "predictions_retrieval_exact_test.jsonl")}

    a, b = scores("seam-default"), scores("seam-items")
    assert all((a[u] != b[u]) == (u in holds) for u in split.users)

"""Item representation (tasks/items.py): IDs that do not leak time, every task written by the
run's rule, atomic IDs through training (tokenizer and embeddings) and exact full ranking."""
from __future__ import annotations

import json
import re

import pytest

from recalign.errors import RecalignError
from recalign.tasks import TASKS, GenerateConfig
from recalign.tasks.items import ItemRule, ItemWriter, item_numbers

ITEM_TOKEN = re.compile(r"<item_\d+>")


def test_ids_are_a_seeded_permutation_not_the_order_of_first_interaction(ml100k_split):
    sp = ml100k_split
    first: dict[str, float] = {}
    for s in sp.sequences.values():
        for i, t in zip(s.items, s.timestamps):
            first[i] = min(t, first.get(i, t))
    by_time = sorted(first, key=lambda i: (first[i], i))
    num = item_numbers(list(sp.items), seed=0)
    by_id = sorted(first, key=num.__getitem__)
    assert by_id != by_time
    # rank correlation between id number and first-interaction rank is ~0 (a shuffle), not ~1
    n = len(by_time)
    rank_t = {i: k for k, i in enumerate(by_time)}
    rank_i = {i: k for k, i in enumerate(by_id)}
    d2 = sum((rank_t[i] - rank_i[i]) ** 2 for i in first)
    rho = 1 - 6 * d2 / (n * (n * n - 1))
    assert abs(rho) < 0.1
    assert sorted(num.values()) == list(range(1, len(sp.items) + 1))
    assert item_numbers(list(sp.items), 0) == num and item_numbers(list(sp.items), 1) != num


def test_rule_rejects_unknown_forms_with_the_nearest_name():
    with pytest.raises(RecalignError, match="item_input.*Did you mean 'id\\+title'"):
        ItemRule(input="id+titel")
    with pytest.raises(RecalignError, match="item_target"):
        GenerateConfig(item_target="both")


def _generate(split, tmp_path, **rule):
    from recalign.data import write_split
    from recalign.materialize import generate, load_task_data

    run = tmp_path / "run"
    write_split(split, run / "data")
    cfg = GenerateConfig(history_len=4, num_candidates=3, progress=False, mim_mask_prob=0.5, **rule)
    generate(split, TASKS.names(), run, cfg)
    return run, cfg, (lambda t, s: list(load_task_data(run, t, s)))


def test_every_task_writes_items_by_the_rule(tiny_split, tmp_path):
    run, cfg, rows = _generate(tiny_split, tmp_path, item_input="id+title", item_target="id", item_ids="atomic")
    w = ItemWriter.for_split(tiny_split, cfg)
    for r in rows("retrieval", "test") + rows("retrieval", "train"):
        assert r["target"] == w.id[r["target_item"]] and ITEM_TOKEN.fullmatch(r["target"])
        assert all(f"{w.id[i]} {w.title[i]}" in r["input"] for i in r["history"])
    for r in rows("ranking", "test_unseen"):
        assert r["target"] == w.id[r["target_item"]]
        assert all(w.input[c] in r["input"] for c in r["candidates"])
    for r in rows("rating", "test"):
        assert w.input[r["target_item"]] in r["input"] and r["target"] in "12345"
    for r in rows("bpr", "train"):
        assert r["target"] == w.id[r["target_item"]] and all(w.input[c] in r["input"] for c in r["candidates"])
    for r in rows("mim", "train"):
        assert all(ITEM_TOKEN.fullmatch(x) for x in r["target"].split("; "))
    for r in rows("mlm", "train"):             # title words are corrupted, every id stays in the input
        assert all(w.id[i] in r["input"] for i in r["history"]) and not ITEM_TOKEN.search(r["target"])
    settings = json.loads((run / "text" / "manifest.json").read_text())["settings"]
    assert ItemRule.from_settings(settings) == ItemRule("id+title", "id", "atomic", 0)


def test_text_ids_and_the_title_default(tiny_split, tmp_path):
    _, cfg, rows = _generate(tiny_split, tmp_path, item_input="id", item_target="id", item_ids="text")
    w = ItemWriter.for_split(tiny_split, cfg)
    r = rows("retrieval", "test")[0]
    assert re.fullmatch(r"item_\d+", r["target"]) and not any(w.title[i] in r["input"] for i in r["history"])
    title = {i: it.title for i, it in tiny_split.items.items()}
    t = ItemWriter.for_split(tiny_split, GenerateConfig())
    assert t.input == title and t.target == title and t.tokens() == []


@pytest.fixture
def atomic_run(tiny_split, tmp_path):
    run, cfg, _ = _generate(tiny_split, tmp_path, item_input="id+title", item_target="id", item_ids="atomic")
    return run, ItemWriter.for_split(tiny_split, cfg)


def test_rank_items_is_an_exact_softmax_over_item_tokens(atomic_run, tmp_path):
    import torch

    from recalign.eval.item_rank import atomic_token_ids, rank_items
    from recalign.t5_finetune import build_model, train_tokenizer
    from recalign.t5_finetune.item_tokens import add_item_tokens

    run, w = atomic_run
    tok = train_tokenizer(list(w.title.values()) * 3 + ["History next"], tmp_path / "tok", vocab_size=400)
    assert add_item_tokens(tok, run) is not None and len(tok.tokenize(w.id["i3"])) == 1
    torch.manual_seed(0)
    model = build_model("t5-tiny", tok).eval()
    items, ids = atomic_token_ids(w.target, tok)
    inputs = [f"History: {w.input['i1']}", f"History: {w.input['i2']}"]
    res = rank_items(model, tok, inputs, items, ids, [["i1"], []], top_k=None)
    assert [len(r) for r in res] == [len(items) - 1, len(items)] and "i1" not in [i for i, _ in res[0]]
    enc = tok(inputs[1:], return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc, decoder_input_ids=torch.zeros((1, 1), dtype=torch.long)).logits[0, 0]
    want = torch.log_softmax(logits[ids], -1)
    got = dict(res[1])
    assert all(abs(got[i] - float(want[k])) < 1e-5 for k, i in enumerate(items))
    assert [i for i, _ in res[1]] == [items[k] for k in torch.argsort(-want, stable=True).tolist()]


def test_atomic_ids_from_a_local_checkpoint_train_and_evaluate(atomic_run, tmp_path):
    """The pretrained path: item tokens added to a local checkpoint's tokenizer, rows set from the
    title tokens' mean, saved with the model, reloaded identically; evaluation ranks exactly."""
    import torch

    from recalign.eval.evaluate import evaluate
    from recalign.t5_finetune import build_model, load_checkpoint, train, train_tokenizer
    from recalign.t5_finetune.item_tokens import add_item_tokens, init_item_rows
    from recalign.t5_finetune.testing import tiny_config

    run, w = atomic_run
    ckpt = tmp_path / "ckpt"
    tok = train_tokenizer(list(w.title.values()) * 3 + ["History next item"], tmp_path / "tok0", vocab_size=400)
    torch.manual_seed(0)
    build_model("t5-tiny", tok).save_pretrained(ckpt)
    tok.save_pretrained(ckpt)

    tok2 = load_checkpoint(ckpt)[1]
    add_item_tokens(tok2, run)
    model = build_model(str(ckpt), tok2)
    assert init_item_rows(model, tok2, w) == len(w.title)
    emb = model.get_input_embeddings().weight
    tid = tok2.convert_tokens_to_ids(w.id["i5"])
    pieces = tok2(w.title["i5"], add_special_tokens=False)["input_ids"]
    assert emb.shape[0] == len(tok2) and torch.allclose(emb[tid], emb[pieces].mean(0))

    out = train(tiny_config(model=str(ckpt), max_steps=2, eval_steps=2, save_steps=2,
                            mixture={"tasks": ["retrieval", "mim"]}), run)
    model3, tok3 = load_checkpoint(out)
    assert tok3.get_vocab() == tok2.get_vocab()                 # the added tokens reload with the same ids
    assert model3.get_input_embeddings().weight.shape[0] == len(tok3)
    m = evaluate(run, model_dir=out, tasks=["retrieval", "ranking"], templates=["seen"], progress=False)
    r = m["retrieval"]
    assert r["users_per_s"] > 0 and "exact full ranking" in m["protocol"]["retrieval"]
    preds = [json.loads(x) for x in (run / "results" / "recalign-t5" / "predictions_retrieval_test.jsonl")
             .read_text().splitlines()]
    assert len(preds) == r["users"] == 3
    assert all(len(p["ranked"]) == len(w.title) - p["masked"] for p in preds)   # the whole catalogue, minus history
    assert 0 <= m["ranking"]["hr@1"] <= 1


def test_text_ids_are_decoded_under_the_trie_and_scored(tiny_split, tmp_path):
    """id → id with text ids: the trie holds 'item_N' strings; retrieval and ranking both run."""
    import torch

    from recalign.eval.evaluate import evaluate
    from recalign.t5_finetune import build_model, train_tokenizer

    run, cfg, _ = _generate(tiny_split, tmp_path, item_input="id", item_target="id", item_ids="text")
    w = ItemWriter.for_split(tiny_split, cfg)
    tok = train_tokenizer(list(w.id.values()) * 5 + ["History next"], tmp_path / "tok", vocab_size=400)
    torch.manual_seed(0)
    m = evaluate(run, model=build_model("t5-tiny", tok).eval(), tokenizer=tok, tasks=["retrieval", "ranking"],
                 templates=["seen"], beam=5, progress=False)
    assert "trie" in m["protocol"]["retrieval"] and "ids: text" in m["protocol"]["items"]
    preds = [json.loads(x) for x in (run / "results" / "recalign-t5" / "predictions_retrieval_test.jsonl")
             .read_text().splitlines()]
    assert all(p["ranked"] and set(p["ranked"]) <= set(w.id) for p in preds)
    assert m["ranking"]["users"] == 3

"""History in the decoder (``generate.decoder_history``, tasks/layout.py): the instruction in the encoder,
the history as the decoder's forced prefix, a next-item loss at every position; at inference the prefix
is forced and the next step ranks the catalogue."""
from __future__ import annotations

import pytest
import torch

from recalign.errors import RecalignError
from recalign.tasks import TASKS, GenerateConfig
from recalign.tasks.items import ItemWriter
from recalign.tasks.layout import DECODER_MARK, HISTORY_PLACEHOLDER, join_decoder, split_decoder

IDS = dict(item_input="id", item_target="id", item_ids="atomic", item_compact=True)


def _generate(split, tmp_path, **kw):
    from recalign.data import write_split
    from recalign.materialize import generate, load_task_data

    run = tmp_path / "run"
    write_split(split, run / "data")
    tasks = kw.pop("decoder_tasks", ["retrieval", "ranking"])
    cfg = GenerateConfig(history_len=3, num_candidates=3, progress=False, decoder_history=tasks, **IDS, **kw)
    generate(split, TASKS.names(), run, cfg)
    return run, cfg, (lambda t, s: list(load_task_data(run, t, s)))


def test_the_history_is_the_prefix_and_the_template_keeps_the_instruction(tiny_split, tmp_path):
    run, cfg, rows = _generate(tiny_split, tmp_path)
    w = ItemWriter.for_split(tiny_split, cfg)
    seen = 0
    for task in ("retrieval", "ranking"):
        for s in ("train", "valid", "test", "test_unseen"):
            for r in rows(task, s):
                enc, prefix = split_decoder(r["input"])
                assert prefix == "".join(w.id[i] for i in r["history"])            # the history, oldest first
                assert HISTORY_PLACEHOLDER in enc and DECODER_MARK not in enc
                in_enc = [i for i, t in w.id.items() if t in enc]
                assert set(in_enc) == (set(r["candidates"]) if task == "ranking" else set())  # no history item
                assert r["target_item"] not in r["history"] or s == "train"
                if s != "train":                                                   # never a held-out item
                    which = s.split("_")[0]
                    assert r["history"] == list(tiny_split.history(r["user"], which))[-cfg.history_len:]
                    assert r["target_item"] not in r["history"]
                else:
                    assert set(r["history"]) <= set(tiny_split.train_items(r["user"]))
                seen += 1
    assert seen > 10
    for task in ("rating", "mim", "mlm", "bpr"):                        # unchanged layouts (not in decoder_history)
        assert not any(DECODER_MARK in r["input"] for r in rows(task, "train") + rows(task, "test"))


def _tokenizer(tmp_path, n_items: int):
    from recalign.t5_finetune.tokenizer import train_tokenizer

    tok = train_tokenizer(["What should I watch next? [history] Options:"] * 30, tmp_path / "tok", vocab_size=400)
    tok.add_tokens([f"<item_{k}>" for k in range(1, n_items + 1)], special_tokens=False)
    return tok


def test_the_loss_counts_every_history_position_and_the_target(tiny_split, tmp_path):
    from recalign.t5_finetune.collator import Seq2SeqCollator

    run, cfg, rows = _generate(tiny_split, tmp_path)
    w = ItemWriter.for_split(tiny_split, cfg)
    tok = _tokenizer(tmp_path, len(w.id))
    token_item = {tok.convert_tokens_to_ids(t): i for i, t in w.id.items()}
    train = rows("retrieval", "train")
    batch = Seq2SeqCollator(tok, max_lengths=(64, 16))([{"input": r["input"], "target": r["target"]} for r in train])
    for r, lab, ids in zip(train, batch["labels"].tolist(), batch["input_ids"].tolist()):
        lab = [x for x in lab if x != -100]
        assert lab[-1] == tok.eos_token_id and len(lab) == len(r["history"]) + 2      # every position + EOS
        assert [token_item[x] for x in lab[:-1]] == [*r["history"], r["target_item"]]
        assert set(token_item[x] for x in lab[:-1]) <= set(tiny_split.train_items(r["user"]))
        assert not set(ids) & set(token_item)                                        # no item in the encoder
    short = Seq2SeqCollator(tok, max_lengths=(64, 3))([{"input": join_decoder("Next?", ["<item_1>", "<item_2>",
                                                                                          "<item_3>"]),
                                                          "target": "<item_4>"}])
    want = [tok.convert_tokens_to_ids("<item_3>"), tok.convert_tokens_to_ids("<item_4>"), tok.eos_token_id]
    assert short["labels"].tolist() == [want]                       # the oldest go; target and EOS stay


def _model(tok):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=2,
                   decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                   eos_token_id=tok.eos_token_id, feed_forward_proj="relu", dropout_rate=0.0)
    return T5ForConditionalGeneration(cfg).eval()


def test_ranking_after_the_forced_prefix_equals_scoring_the_long_way(tmp_path):
    from recalign.eval.item_rank import rank_items
    from recalign.eval.scoring import score_token_ids

    tok = _tokenizer(tmp_path, 8)
    model = _model(tok)
    items = [str(k) for k in range(1, 9)]
    tids = tok.convert_tokens_to_ids([f"<item_{k}>" for k in items])
    inputs = [join_decoder("What should I watch next? [history]", ["<item_1>", "<item_5>", "<item_2>"]),
              join_decoder("Options: [history]", ["<item_7>"]), "What should I watch next?"]
    prefixes = [[tids[0], tids[4], tids[1]], [tids[6]], []]
    got = rank_items(model, tok, inputs, items, tids, [["1"], [], []])
    one_by_one = [rank_items(model, tok, [x], items, tids, [ex])[0] for x, ex in zip(inputs, [["1"], [], []])]
    for g, o in zip(got, one_by_one):                                     # padding in a batch changes nothing
        assert [i for i, _ in g] == [i for i, _ in o]
        assert [s for _, s in g] == pytest.approx([s for _, s in o], abs=1e-5)
    with torch.no_grad():
        for x, pre, res in zip(inputs, prefixes, got):
            enc = tok(split_decoder(x)[0], return_tensors="pt")
            dec = torch.tensor([[tok.pad_token_id, *pre]])
            logits = model(**enc, decoder_input_ids=dec).logits[0, -1]     # the long way: the whole sequence
            lp = torch.log_softmax(logits[tids], -1)
            want = {i: float(v) for i, v in zip(items, lp)}
            ex = {"1"} if x is inputs[0] else set()
            assert [i for i, _ in res] == sorted((i for i in items if i not in ex), key=lambda i: -want[i])
            assert all(s == pytest.approx(want[i], abs=1e-5) for i, s in res)
    # candidate scoring: the prefix is fed, not scored — equal to the full sequence's log-probs after it
    sc = score_token_ids(model, tok, inputs[:1], [[[tids[3]], [tids[6]]]])[0]
    with torch.no_grad():
        enc = tok(split_decoder(inputs[0])[0], return_tensors="pt")
        for c, got_lp in zip((tids[3], tids[6]), sc.logp):
            labels = torch.tensor([[*prefixes[0], c, tok.eos_token_id]])
            lp = torch.log_softmax(model(**enc, labels=labels).logits[0], -1)
            want = float(lp[3, c] + lp[4, tok.eos_token_id])
            assert got_lp == pytest.approx(want, abs=1e-4)
    assert sc.n_tokens.tolist() == [2, 2]


@pytest.mark.parametrize("kw, match", [
    (dict(decoder_history=["mim"], **IDS), "masks or corrupts its history"),
    (dict(decoder_history=["retreival"], **IDS), "Did you mean 'retrieval'"),
    (dict(decoder_history=["retrieval"]), "atomic item IDs in inputs and targets"),
    (dict(decoder_history=["ranking"], item_input="id+title", item_target="id"), "item_input id\\+title"),
])
def test_decoder_history_is_refused_where_it_cannot_work(kw, match):
    with pytest.raises(RecalignError, match=match):
        GenerateConfig(**kw)


def test_beam_search_refuses_a_prefix_with_one_line(tmp_path):
    from recalign.eval.decode import constrained_beam_search
    from recalign.eval.trie import TitleTrie

    tok = _tokenizer(tmp_path, 3)
    trie = TitleTrie.from_titles({"a": "What", "b": "next"}, tok)
    with pytest.raises(RecalignError, match="trie-constrained beam search does not force a decoder prefix"):
        constrained_beam_search(_model(tok), tok, [join_decoder("Next [history]", ["<item_1>"])], trie)


def test_greedy_answers_after_a_forced_prefix_equal_the_long_way(tmp_path):
    from recalign.eval.rating import generate_answers

    tok = _tokenizer(tmp_path, 4)
    model = _model(tok)
    inputs = [join_decoder("Rate <item_4> [history] [rating]", ["<item_1>4", "<item_2>5"]),
              join_decoder("Rate <item_3> [history] [rating]", ["<item_2>1"]), "Rate <item_2>"]
    got = generate_answers(model, tok, inputs, max_new_tokens=3)
    for x, g in zip(inputs, got):
        enc_text, prefix = split_decoder(x)
        pre = tok(prefix, add_special_tokens=False)["input_ids"] if prefix else []
        dec = [tok.pad_token_id, *pre]
        enc = tok(enc_text, return_tensors="pt")
        new = []
        with torch.no_grad():
            for _ in range(3):                                           # greedy, one step at a time
                nxt = int(model(**enc, decoder_input_ids=torch.tensor([dec])).logits[0, -1].argmax())
                if nxt == tok.eos_token_id:
                    break
                dec.append(nxt)
                new.append(nxt)
        assert g == tok.decode(new, skip_special_tokens=True).strip()


def test_rating_history_carries_each_rating_after_its_item(tiny_split, tmp_path):
    run, cfg, rows = _generate(tiny_split, tmp_path, decoder_tasks=["retrieval", "ranking", "rating"])
    w = ItemWriter.for_split(tiny_split, cfg)
    got = 0
    for s in ("train", "test", "test_unseen"):
        for r in rows("rating", s):
            enc, prefix = split_decoder(r["input"])
            u = r["user"]
            seq = list(tiny_split.train_items(u)) if s == "train" else list(tiny_split.history(u, "test"))
            rated = dict(zip(tiny_split.train_items(u), tiny_split.train_ratings(u)))
            rated.update({i: x for i, x in zip(tiny_split.history(u, "test"), tiny_split.history_ratings(u, "test"))}
                         if hasattr(tiny_split, "history_ratings") else {})
            want = "".join(f"{w.id[i]}{rated[i]:g}" for i in r["history"]) + w.id[r["target_item"]]
            assert prefix == want or s != "train"                # the item to rate closes the prefix
            assert prefix.endswith(w.id[r["target_item"]])
            assert set(r["history"]) <= set(seq) and r["target_item"] not in r["history"]
            assert w.id[r["target_item"]] in enc and "[history]" in enc
            got += 1
    assert got


def test_previews_and_single_template_evaluation_render_the_decoder_layout_too(tiny_split, tmp_path):
    from recalign.preview import RunText, render

    run, cfg, rows = _generate(tiny_split, tmp_path, decoder_tasks=["retrieval", "ranking", "rating"])
    for task in ("retrieval", "ranking", "rating", "mim"):
        rt = RunText.from_run_dir(run, task)
        for which in ("train", "test", "test_unseen"):
            assert [r["input"] for r in render(rt, tiny_split, task, which)] == [r["input"] for r in rows(task, which)]
        one = render(rt, tiny_split, task, "test", template_id=f"{task}-unseen-01")
        assert all((DECODER_MARK in r["input"]) == (task != "mim") for r in one)


def test_a_decoder_that_training_would_cut_is_refused_before_generation():
    from recalign.t5_finetune import TrainConfig
    from recalign.t5_finetune.run_tokenizer import run_source_settings

    g = GenerateConfig(history_len=20, decoder_history=["retrieval", "rating"], **IDS)
    with pytest.raises(RecalignError, match="up to 43 tokens in the decoder") as e:
        run_source_settings(g, TrainConfig(model="t5-tiny", max_target_length=32))
    assert e.value.field == "train.max_target_length"
    assert run_source_settings(g, TrainConfig(model="t5-tiny", max_target_length=43)).history_len == 20

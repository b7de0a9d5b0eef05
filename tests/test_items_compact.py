"""Compact atomic-id inputs (``item_compact``, tasks/items.py): item tokens back to back, one
source token per item, the same templates; nothing but separators is ever dropped."""
from __future__ import annotations

import json
import re

import pytest

from recalign.errors import RecalignError
from recalign.tasks import TASKS, GenerateConfig
from recalign.tasks.items import ItemRule, ItemWriter, compact

ITEM = re.compile(r"<item_\d+>")
SEPARATED = re.compile(r"<item_\d+>[\s,;|\"'.]+<item_\d+>")


@pytest.mark.parametrize("text, want", [
    ("1. <item_1>\n2. <item_22>\n3. <item_3>", "1. <item_1><item_22><item_3>"),           # numbered
    ("(1) <item_1>\n(2) <item_2>", "(1) <item_1><item_2>"),                                # numbered(fmt=...)
    ('"<item_1>"; "<item_2>" | <item_3>', '"<item_1><item_2><item_3>'),                          # quoted, join(" | ")
    ("<item_1>, <item_2> and <item_3>", "<item_1><item_2><item_3>"),                      # natural_join
    ("After <item_1>, then <item_2>, the user", "After <item_1><item_2>, the user"),        # join(", then ")
])
def test_compact_drops_the_separators_between_item_tokens(text, want):
    got = compact(text)
    assert got == want and ITEM.findall(got) == ITEM.findall(text)


@pytest.mark.parametrize("text", [
    "<item_1> 4 stars, <item_2> 5 stars",        # rated(ratings, "{item} {rating} stars")
    "1. <item_1>: 4\n2. <item_2>: 5",            # rated(...) | numbered
    "<item_1> (4), <item_2> (5)",                # rated: a rating after an item is not a list number
    "the last was <item_1>, and earlier ones were <item_2>",   # words stay
    "item_1, item_2",                            # text ids are not tokens: untouched
])
def test_compact_keeps_everything_that_is_not_a_separator(text):
    assert compact(text) == text


def test_compact_needs_atomic_id_inputs():
    with pytest.raises(RecalignError, match="item_compact needs item_input id and item_ids atomic"):
        ItemRule("id+title", "id", "atomic", compact=True)
    with pytest.raises(RecalignError, match="item_compact"):
        GenerateConfig(item_input="id", item_target="id", item_ids="text", item_compact=True)
    with pytest.raises(RecalignError, match="true or false"):
        ItemRule("id", "id", "atomic", compact="yes")
    assert ItemRule("id", "id", "atomic").post_render() is None


def _generate(split, tmp_path, name, **rule):
    from recalign.data import write_split
    from recalign.materialize import generate, load_task_data

    run = tmp_path / name
    write_split(split, run / "data")
    cfg = GenerateConfig(history_len=4, num_candidates=3, progress=False, mim_mask_prob=0.5, item_input="id",
                         item_target="id", item_ids="atomic", **rule)
    generate(split, TASKS.names(), run, cfg)
    return run, cfg, (lambda t, s: list(load_task_data(run, t, s)))


def test_every_task_keeps_its_items_and_only_loses_separators(tiny_split, tmp_path):
    run, cfg, rows = _generate(tiny_split, tmp_path, "compact", item_compact=True)
    _, _, plain = _generate(tiny_split, tmp_path, "plain")
    w = ItemWriter.for_split(tiny_split, cfg)
    shorter = 0
    for task in TASKS.names():
        for split in ("train", "test", "test_unseen"):
            a, b = rows(task, split), plain(task, split)
            assert [r["target"] for r in a] == [r["target"] for r in b]       # same examples, same targets
            for x, y in zip(a, b):
                assert ITEM.findall(x["input"]) == ITEM.findall(y["input"])  # every item, in order
                assert x["input"] == compact(y["input"]) and not SEPARATED.search(x["input"])
                shorter += len(x["input"]) < len(y["input"])
    for r in rows("ranking", "test"):
        assert all(w.id[c] in r["input"] for c in r["candidates"])
    for r in rows("retrieval", "test"):
        assert "".join(w.id[i] for i in r["history"]) in r["input"]          # the history, one run of tokens
    assert shorter > 0
    settings = json.loads((run / "text" / "manifest.json").read_text())["settings"]
    assert ItemRule.from_settings(settings) == ItemRule("id", "id", "atomic", 0, compact=True)


def test_a_compact_history_costs_one_source_token_per_item(tmp_path):
    from recalign.t5_finetune.tokenizer import train_tokenizer

    tok = train_tokenizer(["Here is a user's viewing history, oldest first. Recommend the next item."] * 20,
                          tmp_path / "tok", vocab_size=400)
    toks = [f"<item_{n}>" for n in range(1, 11)]
    tok.add_tokens(toks, special_tokens=False)
    plain = "History:\n" + "\n".join(f"{n}. {t}" for n, t in enumerate(toks, 1)) + "\nNext item:"
    n_plain = len(tok(plain)["input_ids"])
    ids = tok(compact(plain))["input_ids"]
    assert [tok.convert_ids_to_tokens(i) for i in ids if tok.convert_ids_to_tokens(i) in toks] == toks
    words = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in ("History:\n1. ", "\nNext item:"))
    assert len(ids) == words + len(toks) + 1               # the words, one token per item, EOS
    assert n_plain - len(ids) >= 2 * len(toks)             # numbered lines cost 3+ tokens per item

"""Guard: trie bookkeeping (collisions, remaining, empty catalogue, titles that cannot be decoded) and a
decoder that ignores the generation settings a checkpoint carries (sampling, penalties, n-gram blocking,
forced or banned tokens, another end token would change the ranking: the beams must stay the exact
log-likelihood order)."""
from __future__ import annotations

import copy

import pytest

from recalign.errors import RecalignError
from recalign.eval.decode import constrained_beam_search
from recalign.eval.scoring import exact_rankings
from recalign.eval.trie import TitleTrie, item_token_ids

from test_decode_helpers import TITLES, tiny_seq2seq, train_steps


def test_trie_collisions_remaining_and_empty():
    t = TitleTrie({"a": [5, 6], "b": [5, 6], "c": [5, 6], "d": [8, 9, 9]}, eos_token_id=1)
    assert t.collisions == 2 and t.max_len == 4 and len(t) == 4
    assert t.items_at([5, 6, 1]) == ["a", "b", "c"]                       # insertion order
    assert t.remaining() == 4 and t.remaining(t.exclusion(["a", "d"])) == 2
    assert t.remaining(t.exclusion([])) == 4 == t.remaining(t.exclusion(["not-an-item"]))
    assert t.allowed([99]) == [] and t.items_at([99, 1]) == [] and t.allowed([8, 9, 9]) == [1]
    assert t.remaining(t.exclusion(["a", "b", "c"])) == 1 and t.allowed([], t.exclusion(["a", "b", "c"])) == [8]
    with pytest.raises(RecalignError, match="cannot build a title trie over an empty catalogue"):
        TitleTrie({}, eos_token_id=1)


def test_exclusion_counts_each_excluded_title_once_at_the_root():
    t = TitleTrie({"a": [5], "b": [6], "c": [7]}, eos_token_id=1)       # three paths, none shared
    for items, left in ((["b", "c"], 1), (["a", "c"], 1), (["a", "b", "c"], 0), (["c"], 2)):
        ex = t.exclusion(items)
        assert ex.removed[0] == len(items) and t.remaining(ex) == left, items
        assert sorted(t.allowed([], ex)) == sorted({"a": 5, "b": 6, "c": 7}[i] for i in "abc" if i not in items)


def test_titles_that_cannot_be_decoded_are_one_clear_error(model_tok):
    _, tok = model_tok
    assert item_token_ids({"x": "Heat <unk> 2"}, tok)["x"]                # unknown pieces are fine
    for title in ("", "Heat <extra_id_0> 2", "<pad> Heat"):                  # nothing, or a special token
        with pytest.raises(RecalignError, match="special tokens inside a title") as e:
            item_token_ids({"i1": "Alien", "x": title}, tok)
        assert "item x" in str(e.value) and e.value.field == "title"


@pytest.fixture(scope="module")
def model_tok():
    return tiny_seq2seq(seed=3)


def test_checkpoint_generation_settings_do_not_leak_into_the_ranking(model_tok):
    model, tok = model_tok
    trie = TitleTrie.from_titles(TITLES, tok)
    inputs = ["user watched toy story then heat", "user liked hamlet"]
    exact = exact_rankings(model, tok, inputs, trie, [trie.exclusion([])] * 2, top_k=len(TITLES), progress=False)
    hostile = copy.deepcopy(model)
    g = hostile.generation_config
    g.do_sample, g.temperature, g.top_k, g.top_p = True, 3.0, 2, 0.5
    g.repetition_penalty, g.no_repeat_ngram_size, g.length_penalty = 5.0, 1, 3.0
    g.min_length, g.max_length, g.early_stopping, g.num_beams = 3, 2, True, 2
    g.diversity_penalty, g.num_beam_groups = 0.0, 1
    beams = constrained_beam_search(hostile, tok, inputs, trie, beam=len(TITLES), progress=False)
    for b, e in zip(beams, exact):
        assert [i for i, _ in b] == [i for i, _ in e]
        assert [s for _, s in b] == pytest.approx([s for _, s in e], abs=1e-3)
    assert hostile.generation_config.do_sample is True                    # the model's own config untouched


REPEATS = {**TITLES, "i11": "Heat and Heat", "i12": "Alien Alien Alien"}   # repeated tokens inside titles


@pytest.fixture(scope="module")
def repeat_model_tok():
    model, tok = tiny_seq2seq(extra_texts=list(REPEATS.values()), seed=3)
    pairs = [("user watched toy story then heat", "Heat and Heat"), ("user liked hamlet", "Alien Alien Alien"),
             ("user watched alien", "Toy Story 2")]
    return train_steps(model, tok, pairs, steps=15), tok


def test_no_generation_setting_of_a_checkpoint_reaches_the_search(repeat_model_tok):
    """Each setting below, left in place alone, changes the beams (checked one by one on this model
    and these titles); together they must change nothing, at a small beam and a full one."""
    model, tok = repeat_model_tok
    trie = TitleTrie.from_titles(REPEATS, tok)
    inputs = ["user watched toy story then heat", "user liked hamlet", "user watched alien then babe"]
    heat = item_token_ids({"x": "Heat"}, tok)["x"]
    used = {t for ids in trie.token_ids.values() for t in ids} | set(tok.all_special_ids)
    other = next(t for t in range(len(tok)) if t not in used)
    hostile = copy.deepcopy(model)
    g = hostile.generation_config
    g.early_stopping, g.no_repeat_ngram_size, g.repetition_penalty, g.bad_words_ids = True, 1, 5.0, [heat]
    g.forced_bos_token_id, g.forced_eos_token_id, g.min_new_tokens, g.min_length = heat[0], tok.eos_token_id, 3, 4
    g.eos_token_id, g.length_penalty, g.num_beam_groups, g.diversity_penalty = other, 3.0, 2, 1.0
    exact = exact_rankings(model, tok, inputs, trie, [None] * len(inputs), top_k=len(REPEATS))
    for beam in (3, len(REPEATS)):
        want = constrained_beam_search(model, tok, inputs, trie, beam=beam)
        got = constrained_beam_search(hostile, tok, inputs, trie, beam=beam)
        assert [[i for i, _ in r] for r in got] == [[i for i, _ in r] for r in want], beam
        assert [s for r in got for _, s in r] == pytest.approx([s for r in want for _, s in r], abs=1e-4)
    # a full beam is the exact log-likelihood ranking (so no setting of the search's own moves the scores)
    assert [[i for i, _ in r] for r in got] == [[i for i, _ in r] for r in exact]
    assert [s for r in got for _, s in r] == pytest.approx([s for r in exact for _, s in r], abs=1e-4)
    assert {"i11", "i12"} <= {i for i, _ in want[0]}                      # the repeated titles were ranked

"""Trie-constrained beam search: every beam is a real title, history items are never
ranked, and with beam >= catalogue it agrees with exact full ranking by scoring."""
from __future__ import annotations

import random

import pytest

from recalign.eval.decode import constrained_beam_search
from recalign.eval.scoring import exact_rankings
from recalign.eval.trie import TitleTrie

from test_decode_helpers import TITLES, tiny_seq2seq, train_steps


@pytest.fixture(scope="module")
def trained():
    model, tok = tiny_seq2seq()
    pairs = [("user watched toy story then heat", "Fargo"), ("user watched alien then babe", "Alien Nation"),
             ("user liked hamlet", "Toy Story 2")]
    return train_steps(model, tok, pairs, steps=25), tok


def test_trie_exclusion_is_exact():
    # "toy story" is a prefix of "toy story 2": excluding one must keep the other reachable
    t = TitleTrie({"a": [5, 6], "b": [5, 6, 7], "c": [8]}, eos_token_id=1)
    assert sorted(t.allowed([])) == [5, 8] and sorted(t.allowed([5, 6])) == [1, 7]
    ex = t.exclusion(["a"])
    assert t.allowed([5, 6], ex) == [7] and t.allowed([], ex) == [5, 8]
    ex2 = t.exclusion(["a", "b", "zzz"])
    assert t.allowed([], ex2) == [8] and t.remaining(ex2) == 1
    assert t.items_at([5, 6, 1, 0, 0]) == ["a"] and t.items_at([5, 6, 1], ex) == [] and t.items_at([5]) == []
    assert t.max_len == 4


def test_trie_from_tokenizer_round_trips(trained):
    _, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    assert len(trie) == len(TITLES) and trie.collisions == 0
    for item, ids in trie.token_ids.items():
        assert tok.decode(ids) == TITLES[item]


def test_every_beam_is_a_real_title_in_score_order(trained):
    model, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    out = constrained_beam_search(model, tok, ["user watched toy story then heat", "user liked hamlet"], trie,
                                  beam=6)
    for ranked in out:
        assert len(ranked) == 6 and len({i for i, _ in ranked}) == 6
        assert all(i in TITLES for i, _ in ranked)
        scores = [s for _, s in ranked]
        assert scores == sorted(scores, reverse=True) and scores[0] < 0
    assert out[0][0][0] == "i4" and out[1][0][0] == "i9"   # what the few training steps taught


def test_no_history_item_in_constrained_decoding(trained):
    """The required no-history-item test: across many users with random histories, no beam
    is ever an item of the user's history, and the remaining catalogue is ranked in full."""
    model, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    rng = random.Random(0)
    items = sorted(TITLES)
    hists = [rng.sample(items, rng.randint(0, 8)) for _ in range(24)]
    # history includes the model's favourite titles, so exclusion must actually bite
    hists[0] = ["i4", "i9", "i10", "i1"]
    inputs = [f"user watched {' then '.join(TITLES[i].lower() for i in h)}" for h in hists]
    out = constrained_beam_search(model, tok, inputs, trie, [trie.exclusion(h) for h in hists],
                                  beam=len(TITLES), batch_size=5)
    for h, ranked in zip(hists, out):
        got = [i for i, _ in ranked]
        assert not set(got) & set(h)
        assert sorted(got) == sorted(set(items) - set(h))   # beam >= catalogue: every other title


def test_beam_search_equals_exact_ranking_when_beam_covers_catalogue(trained):
    model, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    inputs = ["user watched toy story then heat", "user watched alien then babe", "user liked hamlet"]
    hists = [["i1", "i2"], ["i3", "i8"], []]
    exs = [trie.exclusion(h) for h in hists]
    beam = constrained_beam_search(model, tok, inputs, trie, exs, beam=len(TITLES))
    exact = exact_rankings(model, tok, inputs, trie, exs)
    for b, e in zip(beam, exact):
        assert b[0][0] == e[0][0]                              # same top item
        assert [i for i, _ in b] == [i for i, _ in e]          # same full order (no near-ties here)
        for (_, sb), (_, se) in zip(b, e):
            assert sb == pytest.approx(se, abs=1e-3)           # beam score = sum of token log-probs


def test_small_beam_is_the_head_of_the_exact_ranking(trained):
    model, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    inp = ["user watched alien then babe"]
    b = constrained_beam_search(model, tok, inp, trie, beam=3)[0]
    e = exact_rankings(model, tok, inp, trie, [None])[0]
    assert len(b) == 3 and b[0][0] == e[0][0]
    assert all(s <= e[0][1] + 1e-4 for _, s in b)


def test_length_penalty_changes_scores_not_validity(trained):
    model, tok = trained
    trie = TitleTrie.from_titles(TITLES, tok)
    inp = ["user liked hamlet"]
    raw = dict(constrained_beam_search(model, tok, inp, trie, beam=len(TITLES))[0])
    lp = constrained_beam_search(model, tok, inp, trie, beam=len(TITLES), length_penalty=1.0)[0]
    for item, s in lp:   # score / (tokens incl. EOS) ** 1.0
        assert s == pytest.approx(raw[item] / (len(trie.token_ids[item]) + 1), abs=1e-3)

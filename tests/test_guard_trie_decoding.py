"""Guard: trie bookkeeping (collisions, remaining, empty catalogue) and a decoder that ignores the
generation settings a checkpoint carries (sampling, penalties, n-gram blocking would change the
ranking: the beams must stay the exact log-likelihood order)."""
from __future__ import annotations

import copy

import pytest

from recalign.errors import RecalignError
from recalign.eval.decode import constrained_beam_search
from recalign.eval.scoring import exact_rankings
from recalign.eval.trie import TitleTrie

from test_decode_helpers import TITLES, tiny_seq2seq


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

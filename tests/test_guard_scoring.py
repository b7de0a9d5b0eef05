"""Guard: scoring passes its options through, exact ranking scores each title with the trie's own end
token, normalizes when asked, and breaks exact ties by catalogue order (the rule every ranking uses)."""
from __future__ import annotations

import numpy as np
import pytest

from recalign.eval.scoring import exact_rankings, score_titles, score_token_ids
from recalign.eval.trie import TitleTrie, item_token_ids

from test_decode_helpers import TITLES, tiny_seq2seq


@pytest.fixture(scope="module")
def model_tok():
    return tiny_seq2seq(seed=2)


def _unused_token(tok, ids) -> int:
    used = {t for s in ids.values() for t in s} | set(tok.all_special_ids)
    return next(t for t in range(len(tok)) if t not in used)


def test_score_titles_passes_its_options_to_the_scorer(model_tok):
    model, tok = model_tok
    inputs, cands = ["user watched heat then alien"], [["i1", "i2", "i5"]]
    ids = item_token_ids(TITLES, tok)
    end = _unused_token(tok, ids)
    got = score_titles(model, tok, inputs, cands, TITLES, eos_token_id=end, pair_batch_size=2)[0]
    want = score_token_ids(model, tok, inputs, [[ids[i] for i in cands[0]]], eos_token_id=end)[0]
    np.testing.assert_allclose(got.logp, want.logp, rtol=1e-5, atol=1e-5)
    default = score_titles(model, tok, inputs, cands, TITLES)[0]
    assert np.abs(got.logp - default.logp).max() > 1e-3                  # the option did change the scores


def test_exact_rankings_use_the_tries_end_token_and_normalize_on_request(model_tok):
    model, tok = model_tok
    ids = item_token_ids(TITLES, tok)
    end = _unused_token(tok, ids)
    trie = TitleTrie(ids, eos_token_id=end)                               # not the tokenizer's EOS
    inputs = ["user watched toy story then heat"]
    items = list(trie.paths)
    s = score_token_ids(model, tok, inputs, [[ids[i] for i in items]], eos_token_id=end)[0]
    orders = []
    for normalized, v in ((False, s.logp), (True, s.normalized)):
        got = exact_rankings(model, tok, inputs, trie, [None], normalized=normalized)[0]
        want = sorted(zip(items, v.tolist()), key=lambda p: -p[1])
        assert [i for i, _ in got] == [i for i, _ in want], normalized
        assert [x for _, x in got] == pytest.approx([x for _, x in want], abs=1e-5)
        orders.append([i for i, _ in got])
    assert orders[0] != orders[1]                                         # the flag matters on these titles
    with_eos = score_token_ids(model, tok, inputs, [[ids[i] for i in items]])[0]
    assert np.abs(with_eos.logp - s.logp).max() > 1e-3                    # and so does the end token


def test_exact_ties_keep_catalogue_order(model_tok):
    """24 items, 3 distinct titles, interleaved: equal titles score exactly equally (one pair per forward
    pass) and keep the catalogue's order (NumPy's default sort reorders such ties at this size)."""
    model, tok = model_tok
    base = item_token_ids({"a": "Heat", "b": "Alien", "c": "Fargo"}, tok)
    trie = TitleTrie({f"{k}{n}": base[k] for n in range(8) for k in "abc"}, eos_token_id=tok.eos_token_id)
    got = exact_rankings(model, tok, ["user liked hamlet"], trie, [None], pair_batch_size=1)[0]
    score = dict(got)
    assert all(len({score[f"{k}{n}"] for n in range(8)}) == 1 for k in "abc")
    assert [i for i, _ in got] == sorted(trie.paths, key=lambda i: -score[i])   # stable sort of the catalogue
    assert [i for i, _ in got][:8] == [f"{got[0][0][0]}{n}" for n in range(8)]


def test_exact_rankings_pass_the_scorers_options_through(model_tok):
    model, tok = model_tok
    trie = TitleTrie.from_titles(TITLES, tok)
    inputs, items = ["user watched toy story then heat then alien"], list(trie.paths)
    short = score_token_ids(model, tok, inputs, [[trie.token_ids[i] for i in items]], max_input_length=2)[0]
    got = dict(exact_rankings(model, tok, inputs, trie, [None], max_input_length=2)[0])
    assert [got[i] for i in items] == pytest.approx(short.logp.tolist(), abs=1e-5)
    full = dict(exact_rankings(model, tok, inputs, trie, [None])[0])
    assert max(abs(full[i] - got[i]) for i in items) > 1e-3               # the truncation did change the scores

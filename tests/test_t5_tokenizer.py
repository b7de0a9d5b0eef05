"""The tokenizer trained for offline presets: T5 layout, reload, and exact round trips."""
from __future__ import annotations

import pytest

from recalign.t5_finetune import train_tokenizer


@pytest.fixture(scope="module")
def ml100k_tokenizer(ml100k_split, tmp_path_factory):
    titles = [it.title for it in ml100k_split.items.values()]
    texts = titles + [f"A user watched {', '.join(titles[i:i + 8])}. What next?" for i in range(0, len(titles), 8)]
    return train_tokenizer(texts, tmp_path_factory.mktemp("tok") / "tokenizer", vocab_size=4000)


def test_every_ml100k_title_round_trips(ml100k_tokenizer, ml100k_split):
    titles = [it.title for it in ml100k_split.items.values()]
    assert len(titles) == 1682
    enc = ml100k_tokenizer(titles).input_ids
    bad = [(t, ml100k_tokenizer.decode(ids, skip_special_tokens=True)) for t, ids in zip(titles, enc)
           if ml100k_tokenizer.decode(ids, skip_special_tokens=True) != t]
    assert bad == []
    assert all(ids[-1] == 1 for ids in enc)          # </s> appended
    assert any("," in t for t in titles) and any(not t.isascii() for t in titles + ["Amélie"])


def test_t5_layout_and_reload(ml100k_tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tok = ml100k_tokenizer
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]
    ids = tok.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(100)])
    assert ids[0] == len(tok) - 1 and ids[99] == len(tok) - 100       # <extra_id_0> last, as in T5
    enc = tok("Heat <extra_id_0> Fargo <extra_id_1>").input_ids
    assert ids[0] in enc and ids[1] in enc                            # sentinels stay single tokens
    tok.save_pretrained(tmp_path / "again")
    back = AutoTokenizer.from_pretrained(tmp_path / "again")
    s = "Usual Suspects, The  (1995) — Amélie"
    assert back(s).input_ids == tok(s).input_ids
    assert back.decode(back(s).input_ids, skip_special_tokens=True) == s
    assert len(tok) == 4000


def test_vocab_too_small_is_a_clear_error(tmp_path):
    from recalign.errors import RecalignError

    with pytest.raises(RecalignError, match="vocab_size must be at least"):
        train_tokenizer(["a"], tmp_path / "t", vocab_size=100)

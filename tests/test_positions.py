"""``train.encoder_positions``: learned distance-from-end positions on a preset T5's encoder input."""
from __future__ import annotations

import pytest
import torch

from recalign.errors import RecalignError
from recalign.t5_finetune.positions import PositionedEmbedding, PositionedT5, distance_from_end


def _cfg(n: int):
    from transformers import T5Config

    return T5Config(vocab_size=40, d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=1, num_decoder_layers=1,
                    decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, feed_forward_proj="relu",
                    encoder_positions=n)


X = torch.tensor([[5, 6, 7, 8, 1], [9, 8, 1, 0, 0]])
DEC = torch.zeros(2, 1, dtype=torch.long)


def _logits(model, ids=X):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=(ids > 0).long(), decoder_input_ids=DEC[: len(ids)]).logits


def test_distance_counts_back_from_the_last_real_token_and_caps():
    d = distance_from_end(torch.tensor([[3, 4, 5, 1, 0], [3, 1, 0, 0, 0], [1, 0, 0, 0, 0]]), 0, n=3)
    assert d.tolist() == [[2, 2, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def test_the_same_sequence_reads_the_same_whatever_the_padding():
    torch.manual_seed(0)
    model = PositionedT5(_cfg(8))
    short = torch.tensor([[9, 8, 1]])
    assert torch.allclose(_logits(model, short), _logits(model, X[1:]), atol=1e-5)


def test_positions_change_the_output_and_zero_is_plain_t5():
    from transformers import T5ForConditionalGeneration

    torch.manual_seed(0)
    model = PositionedT5(_cfg(8))
    assert isinstance(model.encoder.embed_tokens, PositionedEmbedding)
    assert model.encoder.embed_tokens.weight is model.shared.weight          # still tied
    with_pos = _logits(model)
    model.encoder.embed_tokens.positions.weight.data.zero_()
    without = _logits(model)
    assert (with_pos - without).abs().max() > 1e-2
    plain, t5 = PositionedT5(_cfg(0)), T5ForConditionalGeneration(_cfg(0))
    assert type(plain.encoder.embed_tokens) is torch.nn.Embedding
    plain.load_state_dict(t5.state_dict())
    assert torch.allclose(_logits(plain), _logits(t5), atol=1e-6)


def test_saved_model_reloads_with_its_positions(tmp_path):
    from recalign.t5_finetune.models import load_checkpoint

    torch.manual_seed(0)
    model = PositionedT5(_cfg(6))
    model.encoder.embed_tokens.positions.weight.data.normal_(std=3.0)
    from recalign.t5_finetune.tokenizer import train_tokenizer

    train_tokenizer(["a user watched heat and alien then fargo"] * 20, tmp_path, vocab_size=400)
    model.save_pretrained(tmp_path)
    back, _ = load_checkpoint(tmp_path)
    assert isinstance(back, PositionedT5)
    assert torch.equal(back.encoder.embed_tokens.positions.weight, model.encoder.embed_tokens.positions.weight)
    assert torch.allclose(_logits(back), _logits(model), atol=1e-6)
    out = back.generate(input_ids=X, attention_mask=(X > 0).long(), max_new_tokens=3, num_beams=2)
    assert out.shape[0] == 2


def test_resizing_keeps_the_positions_tied():
    torch.manual_seed(0)
    model = PositionedT5(_cfg(4))
    pos = model.encoder.embed_tokens.positions.weight.clone()
    model.resize_token_embeddings(48)
    emb = model.encoder.embed_tokens
    assert isinstance(emb, PositionedEmbedding) and emb.weight is model.shared.weight and emb.weight.shape[0] == 48
    assert torch.equal(emb.positions.weight, pos)


def test_positions_are_for_presets_and_checked():
    from recalign.t5_finetune.models import build_model
    from recalign.t5_finetune.testing import tiny_config

    with pytest.raises(RecalignError, match="encoder_positions is for a preset"):
        build_model("/nonexistent/flan", None, encoder_positions=8)
    with pytest.raises(RecalignError, match="encoder_positions must be an integer"):
        tiny_config(encoder_positions=-1)
    assert tiny_config().encoder_positions == 0


def test_item_positions_count_items_not_words_and_survive_a_reload(tmp_path):
    """``encoder_position_items``: the newest item gets position 0 whatever words follow it; words get none."""
    from recalign.t5_finetune.models import load_checkpoint
    from recalign.t5_finetune.positions import items_from_end

    # items are ids 20..29; a template that puts words after the history and one that does not
    a, b = torch.tensor([[5, 21, 22, 23, 6, 7, 1]]), torch.tensor([[21, 22, 23, 1, 0, 0, 0]])
    pa, ia = items_from_end(a, 20, 30, n=8)
    pb, ib = items_from_end(b, 20, 30, n=8)
    assert pa[ia].tolist() == pb[ib].tolist() == [2, 1, 0]
    assert items_from_end(torch.tensor([[20 + i for i in range(12)]]), 20, 32, n=4)[0].tolist()[0][:9] == [3] * 9
    torch.manual_seed(0)
    cfg = _cfg(8)
    cfg.encoder_position_items = [20, 30]
    model = PositionedT5(cfg)
    emb = model.encoder.embed_tokens
    with torch.no_grad():
        x = emb(a)
        plain = torch.nn.functional.embedding(a, model.shared.weight)
    moved = (x - plain).abs().sum(-1)[0] > 0
    assert moved.tolist() == ia[0].tolist()            # positions on the three items only
    assert torch.allclose(x[0, 3] - plain[0, 3], emb.positions.weight[0])   # the newest item: position 0
    from recalign.t5_finetune.tokenizer import train_tokenizer

    train_tokenizer(["a user watched heat and alien then fargo"] * 20, tmp_path / "m", vocab_size=400)  # a model dir has one
    model.save_pretrained(tmp_path / "m")
    again = load_checkpoint(tmp_path / "m")[0]
    assert again.encoder.embed_tokens.items == (20, 30)
    assert torch.allclose(_logits(model, a), _logits(again, a), atol=1e-6)


def test_item_positions_need_atomic_ids():
    from recalign.t5_finetune.config import TrainConfig
    from recalign.t5_finetune.trainer import _position_items

    cfg = TrainConfig(encoder_positions=8, encoder_positions_over="items")
    with pytest.raises(RecalignError, match="atomic item ids"):
        _position_items(cfg, None, None)
    with pytest.raises(RecalignError, match="'tokens' or 'items'"):
        TrainConfig(encoder_positions=8, encoder_positions_over="words").validate()

"""The pretrained seq2seq model: MiniLM warm-started into a BERT2BERT encoder-decoder (real checkpoint)."""
from __future__ import annotations

import json

import pytest
import torch

MODEL = "pretrained:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def tok():
    from recalign.t5_finetune.tokenizer import load_tokenizer

    return load_tokenizer(MODEL)


@pytest.fixture(scope="module")
def model(tok):
    from recalign.t5_finetune.models import build_model

    torch.manual_seed(0)
    return build_model(MODEL, tok)


def test_tokenizer_speaks_t5_conventions(tok, tmp_path):
    from recalign.t5_finetune.tokenizer import load_tokenizer
    from recalign.t5_finetune.warm_start import special_ids

    ids = tok("Toy Story").input_ids
    assert ids[-1] == tok.eos_token_id and tok.eos_token == "[SEP]" and tok.cls_token_id not in ids
    assert tok(text_target="Heat").input_ids == tok("Heat").input_ids          # targets: pieces + eos
    assert special_ids(tok) == {"pad": 0, "eos": tok.sep_token_id, "decoder_start": tok.cls_token_id}
    s0, s99 = tok.convert_tokens_to_ids(["<extra_id_0>", "<extra_id_99>"])
    assert s0 == len(tok) - 1 and s99 == len(tok) - 100                        # T5's order: <extra_id_0> last
    enc = tok("Toy Story <extra_id_0> Alien; <extra_id_1>", add_special_tokens=False).input_ids
    assert s0 in enc and tok.convert_tokens_to_ids("<extra_id_1>") in enc     # one token each, never split
    tok.save_pretrained(tmp_path / "tok")
    again = load_tokenizer(tmp_path / "tok")                                  # a saved run's tokenizer
    assert again("Toy Story <extra_id_3>").input_ids == tok("Toy Story <extra_id_3>").input_ids
    assert again.eos_token_id == tok.eos_token_id and len(again) == len(tok)


@pytest.mark.slow
def test_warm_start_is_bert2bert_and_one_step_changes_the_loss(tok, model):
    from recalign.pretrained import resolve_model
    from safetensors.torch import load_file

    assert type(model).__name__ == "EncoderDecoderModel"
    assert model.config.decoder_start_token_id == tok.cls_token_id and model.config.eos_token_id == tok.eos_token_id
    assert model.get_input_embeddings().weight.shape[0] == len(tok) == model.decoder.config.vocab_size
    # encoder and decoder both start from MiniLM's weights; cross-attention is new
    ref = load_file(f"{resolve_model(MODEL)}/model.safetensors")
    q = "encoder.layer.3.attention.self.query.weight"
    assert torch.equal(model.encoder.state_dict()[q], ref[q])
    assert torch.equal(model.decoder.state_dict()[f"bert.{q}"], ref[q])
    assert any("crossattention" in k for k in model.decoder.state_dict())

    m = model
    m.train()
    x = tok(["A user watched Toy Story; Heat. What next?", "Alien; Fargo. Next?"], return_tensors="pt",
            padding=True)
    y = tok(text_target=["Fargo", "Babe"], return_tensors="pt", padding=True).input_ids
    y[y == tok.pad_token_id] = -100
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    torch.manual_seed(0)
    before = m(**x, labels=y).loss
    before.backward()
    opt.step()
    opt.zero_grad()
    m.eval()
    with torch.no_grad():
        after = m(**x, labels=y).loss
    assert torch.isfinite(before) and after.item() < before.item() - 0.1


@pytest.mark.slow
def test_save_and_load_checkpoint_give_the_same_scores(tok, model, tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    from recalign.t5_finetune.models import load_checkpoint

    model.eval()
    model.save_pretrained(tmp_path / "model")
    tok.save_pretrained(tmp_path / "model")
    assert json.loads((tmp_path / "model" / "config.json").read_text())["model_type"] == "encoder-decoder"
    loaded, tok2 = load_checkpoint(tmp_path / "model")
    assert type(loaded) is type(AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path / "model")))
    x = tok2(["A user watched Toy Story; Heat."], return_tensors="pt")
    dec = torch.tensor([[loaded.config.decoder_start_token_id, *tok2(text_target="Fargo").input_ids[:-1]]])
    with torch.no_grad():
        a = model(**x, decoder_input_ids=dec).logits
        b = loaded(**x, decoder_input_ids=dec).logits
    torch.testing.assert_close(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("item_target", ["id", "title"])
def test_generate_train_evaluate_on_the_tiny_fixture(tiny_split, tmp_path, item_target):
    from recalign.config import from_dict
    from recalign.data import write_split
    from recalign.eval.evaluate import evaluate
    from recalign.materialize import generate
    from recalign.t5_finetune import TrainConfig, load_checkpoint, train
    from recalign.t5_finetune.run_tokenizer import run_source_settings
    from recalign.tasks import GenerateConfig

    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    tcfg = from_dict(TrainConfig, {
        "model": MODEL, "max_steps": 3, "per_device_train_batch_size": 4, "learning_rate": 1e-4,
        "warmup_steps": 0, "eval_steps": 100, "save_steps": 100, "logging_steps": 1, "max_source_length": 96,
        "max_target_length": 24, "eval_max_examples": 4, "report_to": [], "time_budget_minutes": None,
        "mixture": {"tasks": ["retrieval", "mlm"]}})
    gcfg = run_source_settings(GenerateConfig(item_input="id+title", item_target=item_target, history_len=4,
                                              progress=False), tcfg)
    manifest = generate(tiny_split, ["retrieval", "mlm"], run, gcfg)
    assert manifest.fit["budget"] == 96 if manifest.fit else True
    out = train(tcfg, run)
    info = json.loads((out / "recalign_train.json").read_text())
    assert info["global_step"] == 3 and info["train_loss"] > 0
    model, tok = load_checkpoint(out)
    assert type(model).__name__ == "EncoderDecoderModel"
    if item_target == "id":
        assert "<item_1>" in tok.get_vocab()
    m = evaluate(run, "test", model=model, tokenizer=tok, tasks=("retrieval",), templates=("seen",), beam=4,
                 progress=False, name="minilm")
    r = m["retrieval"]
    ndcg = {k: v for k, v in r.items() if k.startswith("ndcg@")}        # K up to the beam (4 here)
    assert r["users"] == len(tiny_split.users) and ndcg and all(0.0 <= v <= 1.0 for v in ndcg.values())
    assert r["recall@4"] > 0        # a ranking came out (8 items, history masked)

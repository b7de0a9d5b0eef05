"""``train.embedding_lr_scale``: the embedding table gets its own learning rate (issue 10's lever)."""
from __future__ import annotations

import pytest
import torch

from recalign.errors import RecalignError
from recalign.t5_finetune.testing import tiny_config
from recalign.t5_finetune.trainer import RecalignTrainer, scale_embedding_lr


def _tiny_t5(seed: int = 0):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=50, d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=1, num_decoder_layers=1,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, feed_forward_proj="relu")
    return T5ForConditionalGeneration(cfg)


def _one_step(scale: float):
    model = _tiny_t5()
    emb = model.get_input_embeddings().weight
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    scale_embedding_lr(opt, emb, scale)
    x = torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]])
    loss = model(input_ids=x, attention_mask=(x > 0).long(), labels=torch.tensor([[10, 1], [11, 1]])).loss
    loss.backward()
    opt.step()
    return {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()}


def test_the_embedding_moves_scale_times_as_far_and_nothing_else_changes():
    base, scaled = _one_step(1.0), _one_step(10.0)
    emb = "shared.weight"
    # Adam's first step moves every element with a gradient by ~lr: the scaled table by ~10 lr.
    assert base[emb] == pytest.approx(1e-3, rel=0.05)
    assert scaled[emb] == pytest.approx(1e-2, rel=0.05)
    for name in base:
        if name != emb:
            assert scaled[name] == pytest.approx(base[name], rel=1e-4, abs=1e-9), name


def test_scale_keeps_the_group_options_and_reports_a_missing_weight():
    model = _tiny_t5()
    emb = model.get_input_embeddings().weight
    opt = torch.optim.AdamW([{"params": [p for p in model.parameters()], "weight_decay": 0.05}], lr=2e-3)
    n = sum(len(g["params"]) for g in opt.param_groups)
    assert scale_embedding_lr(opt, emb, 4.0) is True
    assert sum(len(g["params"]) for g in opt.param_groups) == n         # moved, not copied
    new = opt.param_groups[-1]
    assert new["params"][0] is emb and new["lr"] == pytest.approx(8e-3) and new["weight_decay"] == 0.05
    assert all(p is not emb for g in opt.param_groups[:-1] for p in g["params"])
    assert scale_embedding_lr(opt, torch.nn.Parameter(torch.zeros(2)), 4.0) is False


def test_trainer_builds_the_scaled_group_before_its_schedule(tmp_path):
    from transformers import Seq2SeqTrainingArguments

    model = _tiny_t5()
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), learning_rate=3e-3, report_to=[], use_cpu=True)
    trainer = RecalignTrainer(model=model, args=args)
    trainer.embedding_lr_scale = 10.0
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    trainer.create_optimizer()                                  # a second call scales nothing twice
    lrs = sorted({g["lr"] for g in trainer.optimizer.param_groups if g["params"]})
    emb_groups = [g for g in trainer.optimizer.param_groups if any(p is model.shared.weight for p in g["params"])]
    assert len(emb_groups) == 1 and emb_groups[0]["initial_lr"] == pytest.approx(3e-2)
    assert emb_groups[0]["lr"] == pytest.approx(3e-2) and len(trainer.optimizer.param_groups) == 3
    assert lrs[0] * 10 == pytest.approx(lrs[-1])


def test_config_field_is_checked_and_defaults_to_one():
    assert tiny_config().embedding_lr_scale == 1.0
    assert tiny_config(embedding_lr_scale=30).embedding_lr_scale == 30
    with pytest.raises(RecalignError, match="embedding_lr_scale must be > 0"):
        tiny_config(embedding_lr_scale=0)

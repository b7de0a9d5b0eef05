"""A real tiny T5 and a real tokenizer for the evaluation tests (no downloads).

Uses the project's own ``train_tokenizer`` / ``build_model("t5-tiny")`` when
``recalign.t5_finetune`` provides them; otherwise a word-level ``tokenizers``
model wrapped in ``PreTrainedTokenizerFast`` and a randomly initialized
``T5ForConditionalGeneration`` of a few hundred thousand parameters.
"""
from __future__ import annotations

import torch

TITLES = {"i1": "Toy Story", "i2": "Heat", "i3": "Alien", "i4": "Fargo", "i5": "The Matrix",
          "i6": "Hamlet (1996)", "i7": "Hamlet (1948)", "i8": "Babe", "i9": "Toy Story 2",
          "i10": "Alien Nation"}


def tiny_tokenizer(texts):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Punctuation()])
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_model(tokenizer, seed: int = 0):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=len(tokenizer), d_model=64, d_ff=128, d_kv=16, num_heads=4, num_layers=2,
                   num_decoder_layers=2, dropout_rate=0.0, pad_token_id=tokenizer.pad_token_id,
                   eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    return T5ForConditionalGeneration(cfg).eval()


def tiny_seq2seq(extra_texts=(), seed: int = 0, tmp_dir=None):
    """``(model, tokenizer)``: the project's t5-tiny preset and BPE tokenizer when available."""
    texts = list(TITLES.values()) + ["user watched then liked rated next movie what stars"] + list(extra_texts)
    try:
        from recalign.t5_finetune import build_model, train_tokenizer
    except ImportError:
        try:
            from recalign.t5_finetune.models import build_model
            from recalign.t5_finetune.tokenizer import train_tokenizer
        except ImportError:
            tok = tiny_tokenizer(texts)
            return tiny_model(tok, seed), tok
    import tempfile

    tok = train_tokenizer(texts * 3, tmp_dir or tempfile.mkdtemp(prefix="recalign-tok-"), vocab_size=400)
    torch.manual_seed(seed)
    return build_model("t5-tiny", tok).eval(), tok


def train_steps(model, tok, pairs, steps: int = 30, lr: float = 3e-3):
    """A few Adam steps on (input, target) pairs, so the model prefers some titles."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    enc = tok([p[0] for p in pairs], return_tensors="pt", padding=True)
    lab = tok(text_target=[p[1] for p in pairs], return_tensors="pt", padding=True)["input_ids"]
    lab[lab == tok.pad_token_id] = -100
    for _ in range(steps):
        loss = model(**enc, labels=lab).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()

"""A seq2seq model from an encoder-only checkpoint: BERT2BERT warm start (Rothe et al. 2020).

When the checkpoint a run names (``train.model``, after ``recalign.pretrained.resolve_model``)
is an encoder-only model such as all-MiniLM-L6-v2's ``BertModel``, recalign builds a
``transformers.EncoderDecoderModel`` whose encoder *and* decoder start from that checkpoint
(the decoder gets causal self-attention and new cross-attention layers). Saved with
``save_pretrained`` it is an ``encoder-decoder`` checkpoint that ``AutoModelForSeq2SeqLM``
loads from its directory, as it loads FLAN-T5.

The rest of recalign speaks T5's conventions, so the checkpoint's tokenizer is made to speak
them too (``seq2seq_tokenizer``) — for any encoder-only tokenizer, not for MiniLM alone:

- every encoded text is its pieces then one end-of-sequence token (the tokenizer's ``eos``, or
  its ``sep``): targets as T5 writes them, so the first decoding step is the answer's first
  token (atomic item ranking reads that step) and the title trie ends in ``eos``;
- the decoder starts from the tokenizer's ``bos`` (or ``cls``): what a BERT decoder saw at
  position 0 in pre-training; ``pad`` stays the checkpoint's own;
- T5's span-corruption sentinels ``<extra_id_0..99>`` (the MLM task's format, ``tasks/mlm.py``)
  are added as special tokens when the vocabulary lacks them (id order as T5: ``<extra_id_0>``
  last), so a sentinel is one token, never split into pieces.

The converted tokenizer is saved as a generic fast tokenizer (its ``tokenizer.json`` holds the
post-processor), so a trained checkpoint reloads with the same ids and the same conventions.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..errors import RecalignError

SENTINELS = [f"<extra_id_{i}>" for i in range(100)]
# EncoderDecoderModel warns on every forward with labels that its loss moved in v4.12: not news here
warnings.filterwarnings("ignore", message="Version v4.12.0 introduces a better way", category=FutureWarning)


def _config_json(path: str | Path) -> dict | None:
    f = Path(path).expanduser() / "config.json"
    try:
        return json.loads(f.read_text()) if f.is_file() else None
    except (OSError, ValueError):
        return None


def needs_warm_start(path: str | Path) -> bool:
    """True when ``path`` is a local checkpoint of an encoder-only model that transformers can
    also run as a decoder (``AutoModelForCausalLM`` knows its type, e.g. BERT, RoBERTa), i.e. no
    seq2seq model of its own; a seq2seq checkpoint (T5, BART, a saved ``encoder-decoder``) or a
    hub name is False."""
    raw = _config_json(path)
    if raw is None or raw.get("is_encoder_decoder") or raw.get("model_type") in (None, "encoder-decoder"):
        return False
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES)

    mt = raw["model_type"]
    if mt in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return False
    try:
        cfg = AutoConfig.from_pretrained(str(Path(path).expanduser()))
    except (OSError, ValueError):
        return False
    return not getattr(cfg, "is_encoder_decoder", False) and mt in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def special_ids(tokenizer) -> dict[str, int]:
    """``pad``, ``eos`` and ``decoder_start`` ids of a (converted) tokenizer."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    return {"pad": tokenizer.pad_token_id, "eos": tokenizer.eos_token_id,
            "decoder_start": bos if bos is not None else tokenizer.pad_token_id}


def seq2seq_tokenizer(tok):
    """``tok`` with T5's conventions (module docstring): a generic fast tokenizer encoding
    ``pieces + eos``, ``bos`` for the decoder start, the sentinels present."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise RecalignError(f"the tokenizer of {getattr(tok, 'name_or_path', '?')!r} has no fast (tokenizers) "
                            "version: a seq2seq model cannot be warm-started from it", field="model")
    eos = tok.eos_token or tok.sep_token
    bos = tok.bos_token or tok.cls_token
    if eos is None or tok.pad_token is None:
        raise RecalignError(f"the tokenizer of {getattr(tok, 'name_or_path', '?')!r} has no end-of-sequence "
                            "(eos or sep) or pad token: a seq2seq model cannot be warm-started from it",
                            field="model")
    backend = Tokenizer.from_str(backend.to_str())
    eos_id = backend.token_to_id(eos)
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, eos_id)])
    backend.no_truncation()
    backend.no_padding()
    vocab = backend.get_vocab(with_added_tokens=True)
    missing = [s for s in reversed(SENTINELS) if s not in vocab]
    specials = {k: v for k, v in dict(unk_token=tok.unk_token, sep_token=tok.sep_token, cls_token=tok.cls_token,
                                      mask_token=tok.mask_token).items() if v is not None}
    out = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=tok.pad_token, eos_token=eos,
                                  bos_token=bos, model_max_length=tok.model_max_length, padding_side="right",
                                  clean_up_tokenization_spaces=True, **specials)
    if missing:
        out.add_special_tokens({"additional_special_tokens": missing})
    out.additional_special_tokens = [s for s in SENTINELS]    # all of them, as T5's tokenizer lists them
    out.name_or_path = getattr(tok, "name_or_path", "")
    return out


def resize_embeddings(model, n: int) -> None:
    """Grow every token embedding of ``model`` (an encoder-decoder's encoder and decoder too,
    which ``EncoderDecoderModel`` cannot resize itself) to ``n`` rows; no-op when large enough."""
    parts = [model]
    if getattr(model.config, "model_type", None) == "encoder-decoder":
        parts = [model.encoder, model.decoder]
    for m in parts:
        if n > m.get_input_embeddings().weight.shape[0]:
            m.resize_token_embeddings(n)


def warm_start(path: str | Path, tokenizer):
    """An ``EncoderDecoderModel`` whose encoder and decoder both start from ``path``; its
    special ids are the (converted) tokenizer's and its vocabulary covers it."""
    import torch
    from transformers import EncoderDecoderModel
    from transformers.utils import logging as hf_logging

    p = str(Path(path).expanduser())
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()   # "newly initialized: crossattention …" is the point, not news
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(p, p, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(level)
    ids = special_ids(tokenizer)
    for cfg in (model.config, model.generation_config):
        cfg.decoder_start_token_id = ids["decoder_start"]
        cfg.pad_token_id = ids["pad"]
        cfg.eos_token_id = ids["eos"]
        cfg.bos_token_id = ids["decoder_start"]
    for sub in (model.config.encoder, model.config.decoder):
        sub.pad_token_id, sub.eos_token_id, sub.bos_token_id = ids["pad"], ids["eos"], ids["decoder_start"]
    resize_embeddings(model, len(tokenizer))
    return model


__all__ = ["needs_warm_start", "seq2seq_tokenizer", "special_ids", "resize_embeddings", "warm_start", "SENTINELS"]

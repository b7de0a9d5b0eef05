"""Model presets (T5 built from scratch, offline) and loading of any seq2seq checkpoint.

>>> sorted(PRESETS)
['t5-mini', 't5-small-scratch', 't5-tiny']

A preset is a ``T5Config`` (input and output embeddings tied, as in T5; untying them
from scratch starts the loss near 79 instead of 9.6). Anything else is a Hugging Face
name or a local directory, loaded with ``AutoModelForSeq2SeqLM``; a packaged pretrained
source (``pretrained:all-MiniLM-L6-v2``, ``recalign.pretrained``) resolves to its local
directory first, and an encoder-only checkpoint there is warm-started into an
encoder-decoder (``warm_start``: BERT2BERT).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import RecalignError, nearest
from ..model_files import check_model_dir
from ..pretrained import PREFIX as PRETRAINED_PREFIX, is_pretrained_source, resolve_model
from .tokenizer import load_tokenizer
from .warm_start import needs_warm_start, resize_embeddings, warm_start

# Sizes measured on 2 CPU cores (STACK.md): t5-tiny ≈ 2.2M params ≈ 50 ex/s at batch 32,
# input 128 / target 32 tokens; t5-mini ≈ 11.5M ≈ 12 ex/s. t5-small-scratch is the
# t5-small architecture (≈ 35M params + embeddings) for a GPU.
PRESETS: dict[str, dict] = {
    "t5-tiny": dict(d_model=128, d_ff=512, d_kv=32, num_heads=4, num_layers=2, num_decoder_layers=2),
    "t5-mini": dict(d_model=256, d_ff=1024, d_kv=64, num_heads=4, num_layers=4, num_decoder_layers=4),
    "t5-small-scratch": dict(d_model=512, d_ff=2048, d_kv=64, num_heads=8, num_layers=6, num_decoder_layers=6),
}


def is_preset(name: str) -> bool:
    return name in PRESETS


def build_model(preset_or_name: str, tokenizer, dropout: float = 0.1, encoder_positions: int = 0,
                position_items: tuple[int, int] | None = None):
    """A seq2seq model: a fresh T5 for a preset name, else a pretrained checkpoint.

    The preset's vocabulary is the tokenizer's; ``decoder_start_token_id`` is ``<pad>`` (0)
    as in T5; ``dropout`` is the preset's ``dropout_rate`` (a checkpoint keeps its own).
    A pretrained model whose embedding matrix is smaller than the tokenizer is resized.
    ``encoder_positions > 0`` (presets only) adds learned distance-from-end positions to the
    encoder input (``positions.PositionedT5``); ``position_items`` (the atomic item tokens'
    ``[first, end)`` ids) counts them in items instead of tokens.
    """
    from transformers import T5Config, T5ForConditionalGeneration

    from .positions import CONFIG_KEY, ITEMS_KEY, PositionedT5

    if is_preset(preset_or_name):
        cfg = T5Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                       eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
                       dropout_rate=dropout, feed_forward_proj="relu", tie_word_embeddings=True,
                       **PRESETS[preset_or_name], **({CONFIG_KEY: int(encoder_positions)} if encoder_positions else {}),
                       **({ITEMS_KEY: list(position_items)} if encoder_positions and position_items else {}))
        return PositionedT5(cfg) if encoder_positions else T5ForConditionalGeneration(cfg)
    if encoder_positions:
        raise RecalignError(f"encoder_positions is for a preset built from scratch; {preset_or_name!r} is a "
                            "pretrained model with its own position scheme: set encoder_positions: 0",
                            field="encoder_positions")
    model = _load_pretrained(preset_or_name, tokenizer)
    resize_embeddings(model, len(tokenizer))
    return model


def looks_like_path(name: str) -> bool:
    """True for a name meant as a filesystem path, not a Hub id (``org/name``: one slash, no leading dot).

    >>> [looks_like_path(n) for n in ("/tmp/m", "./m", "../m", "~/m", "a/b/c", "google/flan-t5-base", "t5-tiny")]
    [True, True, True, True, True, False, False]
    """
    if name.startswith(("/", "./", "../", "~")) or name in (".", ".."):
        return True
    if "/" not in name and os.sep not in name and not (os.altsep and os.altsep in name):
        return False
    hub_id = name.count("/") == 1 and not name.startswith(".") and (os.sep == "/" or os.sep not in name)
    return not hub_id


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (a typo of a preset is within 2; real Hub names like t5-small are not).

    >>> _edit_distance("t5-tinyy", "t5-tiny"), _edit_distance("t5-small", "t5-small-scratch")
    (1, 8)
    """
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def check_model_name(name: str) -> None:
    """Fail at once, before any data is loaded or a Hub call is made, on a local path that does
    not exist or a misspelt preset; a preset, an existing directory or a Hub id passes."""
    if is_preset(name):
        return
    if is_pretrained_source(name) or name.startswith(PRETRAINED_PREFIX):
        resolve_model(name)        # the package that ships it is installed and its weights verified
        return
    local = Path(name).expanduser()
    if not local.exists():
        if looks_like_path(name):
            shown = name if str(local) == name or not name.startswith("~") else f"{name} ({local})"
            raise RecalignError(f"local model directory not found: {shown}", field="model")
        if "/" not in name and any(_edit_distance(name.lower(), p) <= 2 for p in PRESETS):
            raise RecalignError(
                f"unknown preset {name!r}.{nearest(name, PRESETS)} (for a Hub model pass its full name, "
                f"e.g. google/flan-t5-base; presets: {', '.join(sorted(PRESETS))})", field="model")


def _load_pretrained(name: str, tokenizer=None):
    check_model_name(name)
    name = resolve_model(name)
    local = Path(name).expanduser()
    if local.exists() and needs_warm_start(local):
        return warm_start(local, tokenizer if tokenizer is not None else load_tokenizer(local))
    try:
        return _auto_class(local if local.exists() else None).from_pretrained(str(local) if local.exists() else name)
    except (OSError, ValueError) as e:
        short = name.split("/")[-1]
        why = str(e).splitlines()[0][:200].rstrip(".")
        raise RecalignError(
            f"cannot load model {name!r} ({type(e).__name__}: {why}). "
            "Without network, download it where there is one (e.g. `hf download "
            f"{name} --local-dir models/{short}`), copy the directory here and pass "
            f"`model: models/{short}` (or -o model=PATH); set HF_HUB_OFFLINE=1 to fail fast "
            f"instead of waiting on Hub retries. Offline presets: {', '.join(sorted(PRESETS))}.",
            field="model") from None


def load_checkpoint(path: str | Path):
    """``(model, tokenizer)`` from ``RUN/model``, a run directory, or any ``save_pretrained`` dir; ``model.eval()``."""
    p = Path(path)
    if (p / "model" / "config.json").is_file():
        p = p / "model"
    if not (p / "config.json").is_file():
        raise RecalignError("no saved model here (config.json missing): train one with `recalign train`", path=p)
    check_model_dir(p)   # a missing model.safetensors / tokenizer_config.json or a truncated file: one line
    tok = load_tokenizer(p)
    model = _auto_class(p).from_pretrained(str(p))
    model.eval()
    return model, tok


def _auto_class(local: Path | None):
    """``PositionedT5`` for a saved directory whose config asks for encoder positions, else
    ``AutoModelForSeq2SeqLM``."""
    from transformers import AutoModelForSeq2SeqLM

    from .positions import PositionedT5, n_positions

    if local is not None:
        check_model_dir(local, tokenizer=False)   # weights missing or truncated: one line, before loading
    if local is not None and (local / "config.json").is_file():
        if n_positions(json.loads((local / "config.json").read_text())) > 0:
            return PositionedT5
    return AutoModelForSeq2SeqLM


def read_train_info(path: str | Path) -> dict:
    """The ``recalign_train.json`` beside a saved model ({} if absent)."""
    f = Path(path) / "recalign_train.json"
    return json.loads(f.read_text()) if f.is_file() else {}

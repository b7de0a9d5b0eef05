"""The bi-encoder: one shared encoder, mean pooling, L2 normalisation (a sentence-transformers
``SentenceTransformer`` of ``Transformer → Pooling(mean) → Normalize``).

``model`` is an offline preset (``embed-tiny``: a small T5 encoder, from scratch, with a
byte-level BPE tokenizer trained on the run's own text by ``t5_finetune.tokenizer``), a saved
sentence-transformers directory (``modules.json``), or any HF encoder checkpoint (a path, or a
hub name when online) — sentence-transformers picks the encoder class (T5 → T5EncoderModel).
A packaged pretrained source (``minilm`` = ``pretrained:all-MiniLM-L6-v2``) resolves through
``recalign.pretrained.resolve_model`` to its verified sentence-transformers directory and loads
as it was published (its WordPiece tokenizer, mean pooling, Normalize).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..atomic_io import atomic_path
from ..errors import RecalignError
from ..model_files import check_embedder_dir
from ..pretrained import is_pretrained_source, resolve_model
from ..t5_finetune.tokenizer import train_tokenizer

PRESETS: dict[str, dict] = {
    "embed-tiny": dict(d_model=128, d_ff=512, d_kv=32, num_heads=4, num_layers=2),
}


def build_preset(preset: str, texts: Iterable[str], out_dir: str | Path, vocab_size: int = 4000,
                 seed: int = 0) -> Path:
    """A from-scratch encoder checkpoint (tokenizer trained on ``texts``) written to ``out_dir``."""
    import torch
    from transformers import T5Config, T5EncoderModel

    if preset not in PRESETS:
        raise RecalignError(f"unknown embedder preset {preset!r} (known: {', '.join(PRESETS)})", field="model")
    with atomic_path(out_dir, directory=True) as tmp:
        tok = train_tokenizer(texts, Path(tmp) / "tok", vocab_size=vocab_size)
        torch.manual_seed(seed)
        cfg = T5Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                       decoder_start_token_id=tok.pad_token_id, **PRESETS[preset])
        T5EncoderModel(cfg).save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return Path(out_dir)


def result_name(model: str, zero_shot: bool = False) -> str:
    """The default result name of an embedder: ``embed-<model>`` without a doubled prefix, a
    packaged pretrained source by its short name, a path by its last part.

    >>> result_name("embed-tiny"), result_name("minilm", True), result_name("pretrained:all-MiniLM-L6-v2")
    ('embed-tiny', 'embed-minilm-zero-shot', 'embed-minilm')
    >>> result_name("/ckpt/e5-small-v2/")
    'embed-e5-small-v2'
    """
    if is_pretrained_source(model):
        from ..pretrained import ALIASES, _canonical

        canonical = _canonical(model)
        slug = min((a for a, c in ALIASES.items() if c == canonical), key=len, default=canonical.lower())
    else:
        slug = Path(str(model).rstrip("/")).name or str(model)
    slug = slug[len("embed-"):] if slug.startswith("embed-") else slug
    return f"embed-{slug}" + ("-zero-shot" if zero_shot else "")


def load_embedder(name_or_path: str | Path, max_seq_length: int = 96, seed: int = 0):
    """A SentenceTransformer from a saved model directory or an HF encoder checkpoint."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    name_or_path = resolve_model(str(name_or_path))   # pretrained:all-MiniLM-L6-v2 / minilm → its verified dir
    p = Path(name_or_path)
    check_embedder_dir(p)   # a missing model.safetensors / tokenizer_config.json or a truncated file: one line
    if (p / "modules.json").is_file():
        return SentenceTransformer(str(p), device="cpu" if not torch.cuda.is_available() else None)
    name = str(name_or_path)
    if not p.exists() and (name.startswith((".", "/", "~", "embed-")) or name.count("/") > 1):
        # a local path (or a preset never built): fail now instead of waiting on Hub retries
        raise RecalignError(f"no model at {name!r} (presets: {', '.join(PRESETS)}; or an HF encoder path/hub name)",
                            field="model")
    torch.manual_seed(seed)
    try:
        enc = Transformer(str(name_or_path), max_seq_length=max_seq_length)
    except OSError as e:
        raise RecalignError(f"cannot load an encoder from {str(name_or_path)!r}: {e}", field="model") from None
    return SentenceTransformer(modules=[enc, Pooling(enc.get_embedding_dimension(), pooling_mode="mean"),
                                        Normalize()])


__all__ = ["PRESETS", "build_preset", "load_embedder", "result_name"]

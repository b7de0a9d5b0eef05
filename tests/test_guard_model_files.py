"""Guard (issue 26, item 12): a model directory missing model.safetensors or tokenizer_config.json,
or holding a truncated safetensors file, is one line naming the file, checked before loading — for a
seq2seq checkpoint (load_checkpoint, as evaluate loads RUN/model) and for the embedder (load_embedder).
Real directories: a tiny T5 saved with save_pretrained and recalign's own tokenizer."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recalign.errors import RecalignError

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    from transformers import T5Config, T5ForConditionalGeneration

    from recalign.embed.model import build_preset
    from recalign.t5_finetune.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("models")
    texts = [f"user {i} watched film {i % 7} and film {i % 5}" for i in range(200)]
    tok = train_tokenizer(texts, root / "tok", vocab_size=600)
    seq = root / "seq2seq"
    T5ForConditionalGeneration(T5Config(vocab_size=len(tok), d_model=16, d_ff=32, d_kv=8, num_heads=2,
                                        num_layers=1, decoder_start_token_id=0)).save_pretrained(seq)
    tok.save_pretrained(seq)
    emb = build_preset("embed-tiny", texts, root / "embed", vocab_size=600)
    return {"seq2seq": seq, "embed": Path(emb)}


def _load(kind: str, d: Path):
    if kind == "seq2seq":
        from recalign.t5_finetune.models import load_checkpoint
        return load_checkpoint(d)
    from recalign.embed.model import load_embedder
    return load_embedder(str(d))


@pytest.mark.parametrize("kind", ["seq2seq", "embed"])
def test_an_intact_directory_loads(saved, kind):
    assert _load(kind, saved[kind]) is not None


@pytest.mark.parametrize("kind", ["seq2seq", "embed"])
@pytest.mark.parametrize("damage", ["no weights", "no tokenizer config", "truncated weights", "empty weights"])
def test_a_damaged_directory_is_one_line_naming_the_file(saved, kind, damage, tmp_path):
    d = tmp_path / kind
    shutil.copytree(saved[kind], d)
    w = d / "model.safetensors"
    size = w.stat().st_size // 2
    if damage == "no weights":
        w.unlink()
    elif damage == "no tokenizer config":
        (d / "tokenizer_config.json").unlink()
    elif damage == "truncated weights":
        data = w.read_bytes()
        w.write_bytes(data[:size])
    else:
        w.write_bytes(b"")
    with pytest.raises(RecalignError) as e:
        _load(kind, d)
    msg = str(e.value)
    assert "\n" not in msg
    expect = {"no weights": f"{w}: model weights missing (no model.safetensors or pytorch_model.bin in this directory)",
              "no tokenizer config": f"{d / 'tokenizer_config.json'}: tokenizer config missing",
              "truncated weights": f"{w}: truncated safetensors file: {size:,} bytes, its header needs ",
              "empty weights": f"{w}: truncated safetensors file (0 bytes, not even a header)"}[damage]
    assert msg.startswith(expect), msg

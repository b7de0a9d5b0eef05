"""Checks on a local model directory before transformers / sentence-transformers load it.

A directory missing ``model.safetensors`` or ``tokenizer_config.json``, or holding a truncated
safetensors file, made the libraries fail 40-72 lines deep; here each is one line naming the file.
Only the file layout is read (the safetensors header: 8 bytes of length, then JSON whose
``data_offsets`` say how long the file must be), so the check costs nothing next to the load.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "config.json").write_text("{}")
>>> check_model_dir(d)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
recalign.errors.RecalignError: .../model.safetensors: model weights missing (no model.safetensors or pytorch_model.bin in this directory)
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from .errors import RecalignError

WEIGHTS = ("model.safetensors", "pytorch_model.bin")
INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
MAX_HEADER = 100_000_000   # safetensors' own limit on the JSON header


def check_safetensors(path: Path) -> None:
    """One line unless ``path`` is a complete safetensors file (header readable, every tensor's
    bytes present)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise RecalignError(f"truncated safetensors file ({size:,} bytes, not even a header): "
                                    "copy or save the model again", path=path)
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise RecalignError(f"truncated or not a safetensors file ({size:,} bytes; its header says "
                                    f"{n:,} bytes of header): copy or save the model again", path=path)
            header = json.loads(f.read(n))
    except (ValueError, UnicodeDecodeError):
        raise RecalignError("not a safetensors file (its header is not JSON): copy or save the model again",
                            path=path) from None
    except OSError as e:
        raise RecalignError(f"cannot read the model weights: {e.strerror or e}", path=path) from None
    ends = [v["data_offsets"][1] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and len(v.get("data_offsets") or ()) == 2]
    need = 8 + n + max(ends, default=0)
    if size < need:
        raise RecalignError(f"truncated safetensors file: {size:,} bytes, its header needs {need:,}: copy or "
                            "save the model again", path=path)


def _check_json(path: Path, what: str) -> None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise RecalignError(f"{what} is not valid JSON ({str(e)[:100]}): copy or save the model again",
                            path=path) from None
    except OSError as e:
        raise RecalignError(f"cannot read {what}: {e.strerror or e}", path=path) from None


def check_model_dir(d: str | Path, tokenizer: bool = True) -> None:
    """One line naming the first file that keeps the model directory ``d`` from loading:
    ``config.json``, the weights (``model.safetensors`` complete, or ``pytorch_model.bin``, or a
    sharded index and its shards) and, with ``tokenizer``, ``tokenizer_config.json``."""
    d = Path(d)
    if not (d / "config.json").is_file():
        raise RecalignError("model config missing: not a saved model directory", path=d / "config.json")
    _check_json(d / "config.json", "the model config")
    index = next((d / i for i in INDEXES if (d / i).is_file()), None)
    if index is not None:
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError, OSError, UnicodeDecodeError):
            raise RecalignError("unreadable weights index (no 'weight_map'): copy or save the model again",
                                path=index) from None
        files = [d / s for s in shards]
    else:
        w = next((d / w for w in WEIGHTS if (d / w).is_file()), None)
        if w is None:
            raise RecalignError(f"model weights missing (no {' or '.join(WEIGHTS)} in this directory)",
                                path=d / WEIGHTS[0])
        files = [w]
    for f in files:
        if not f.is_file():
            raise RecalignError(f"weights shard missing (listed in {index.name})", path=f)
        if f.suffix == ".safetensors":
            check_safetensors(f)
        elif f.stat().st_size == 0:
            raise RecalignError("empty weights file: copy or save the model again", path=f)
    if tokenizer:
        tc = d / "tokenizer_config.json"
        if not tc.is_file():
            raise RecalignError("tokenizer config missing: copy the tokenizer files (save_pretrained output) "
                                "into the model directory", path=tc)
        _check_json(tc, "the tokenizer config")


def check_embedder_dir(d: str | Path) -> None:
    """``check_model_dir`` for an embedder: a sentence-transformers directory (``modules.json``:
    its Transformer module's directory is checked) or a plain HF encoder directory; a name that
    is no local directory (a Hub id) is left to the loader."""
    d = Path(d)
    if not d.is_dir():
        return
    mods = d / "modules.json"
    if mods.is_file():
        try:
            entries = json.loads(mods.read_text(encoding="utf-8"))
            dirs = [d / str(m.get("path", "")) for m in entries if str(m.get("type", "")).endswith("Transformer")]
        except (ValueError, AttributeError, TypeError, OSError, UnicodeDecodeError):
            raise RecalignError("unreadable modules.json: copy or save the embedder again", path=mods) from None
        for sub in dirs:
            check_model_dir(sub)
        return
    check_model_dir(d)


__all__ = ["check_embedder_dir", "check_model_dir", "check_safetensors"]

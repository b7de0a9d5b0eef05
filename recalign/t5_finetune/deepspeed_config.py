"""DeepSpeed: the shipped ZeRO configs and what a single process needs to use them.

``zero2`` / ``zero3`` name ``ds_configs/zero{2,3}.json``; their ``"auto"`` values (batch
sizes, accumulation, clipping, bf16, bucket sizes) are filled by the Trainer. They have no
``optimizer``/``scheduler`` section: the Trainer's AdamW and cosine/linear schedule are
used, so nothing but DeepSpeed's communication op is compiled on a CPU machine.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from ..errors import RecalignError

CONFIG_DIR = Path(__file__).parent / "ds_configs"
SHIPPED = {p.stem: p for p in sorted(CONFIG_DIR.glob("*.json"))}


def resolve_deepspeed(name_or_path: str | None) -> str | None:
    """``zero2`` → the shipped JSON path; a path is checked to exist; None stays None."""
    if not name_or_path:
        return None
    if name_or_path in SHIPPED:
        return str(SHIPPED[name_or_path])
    p = Path(name_or_path)
    if not p.is_file():
        raise RecalignError(f"DeepSpeed config {name_or_path!r} is neither {' nor '.join(SHIPPED)} nor a "
                            "JSON file", field="deepspeed")
    return str(p)


def zero_stage(name_or_path: str | None) -> int | None:
    """The ZeRO stage of a DeepSpeed config (None without DeepSpeed or a stage).

    >>> zero_stage("zero3"), zero_stage(None)
    (3, None)
    """
    path = resolve_deepspeed(name_or_path)
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("zero_optimization", {}).get("stage")
    except ValueError as e:
        raise RecalignError(f"DeepSpeed config is not JSON: {e}", path=path) from None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_process_env() -> list[str]:
    """Without a launcher (deepspeed/torchrun), act as rank 0 of 1 (else DeepSpeed tries MPI).
    Also keep compiled ops in ``~/.cache/recalign/torch_extensions`` (compiled once, 40–210 s
    on 2 cores). Returns the variables it set."""
    set_ = []
    if "RANK" not in os.environ and "LOCAL_RANK" not in os.environ:
        defaults = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": os.environ.get("MASTER_PORT") or str(_free_port())}
        for k, v in defaults.items():
            if k not in os.environ:
                os.environ[k] = v
                set_.append(k)
    if "TORCH_EXTENSIONS_DIR" not in os.environ:
        os.environ["TORCH_EXTENSIONS_DIR"] = str(Path.home() / ".cache" / "recalign" / "torch_extensions")
        set_.append("TORCH_EXTENSIONS_DIR")
    return set_

"""Shared fixtures: a tiny handmade dataset and the embedded ml-100k split."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_ITEMS = """item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq
i1\tToy Story\t1995\tAnimation Comedy
i2\tHeat\t1995\tAction Crime
i3\tAlien\t1979\tHorror Sci-Fi
i4\tFargo\t1996\tCrime Drama
i5\tMatrix, The\t1999\tAction Sci-Fi
i6\tHamlet\t1996\tDrama
i7\tHamlet\t1948\tDrama
i8\tBabe\t1995\tChildren Comedy
"""
# u1: i1 i2 i3 i4 i5 ; u2: i2 i6 i7 i8 (i7/i8 tie: file order) ; u3: i1 i3 i5 ; u4: i1 i2 (too short)
TINY_INTER = """user_id:token\titem_id:token\trating:float\ttimestamp:float
u1\ti1\t5\t100
u2\ti2\t4\t101
u1\ti2\t3\t102
u3\ti1\t2\t103
u1\ti3\t4\t104
u2\ti6\t5\t105
u3\ti3\t3\t106
u1\ti4\t1\t107
u2\ti7\t2\t108
u2\ti8\t4\t108
u1\ti5\t5\t109
u3\ti5\t4\t110
u4\ti1\t3\t111
u4\ti2\t3\t112
"""


def write_tiny(d: Path, name: str = "tiny") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.item").write_text(TINY_ITEMS)
    (d / f"{name}.inter").write_text(TINY_INTER)
    return d


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    """A directory with tiny.inter / tiny.item (4 users, 8 items, 14 interactions)."""
    return write_tiny(tmp_path / "tiny")


@pytest.fixture
def tiny_split(tiny_dir):
    from recalign.data import leave_one_out, load_dataset

    return leave_one_out(load_dataset(tiny_dir))


@pytest.fixture(scope="session")
def ml100k_split():
    from recalign.data import leave_one_out, load_dataset

    return leave_one_out(load_dataset("ml-100k"))

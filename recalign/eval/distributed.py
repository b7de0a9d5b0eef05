"""Evaluation sharded by user across ranks (torchrun / deepspeed launchers), gathered in order.

Under a launcher (``torch.distributed`` initialised, or ``WORLD_SIZE`` > 1 in the environment,
in which case a process group is started: NCCL on CUDA, gloo on CPU), ``shard(ctx)`` wraps
an evaluation context (``tasks.evaluation.EvalContext``) so that each of the model's
operations — rank the catalogue, score candidates, score texts, generate — runs on this
rank's share of the inputs (every ``world``-th user, starting at ``rank``) and the outputs of
all ranks are gathered back into the original order (``all_gather_object``). Every rank then
holds the very rankings one process would have made, so the task's evaluator computes the
metrics exactly as in a single process; only rank 0 writes predictions and metrics.json.
With one process ``shard(ctx)`` returns ``ctx`` itself.

>>> owned(7, rank=1, world=3)
[1, 4]
>>> merge([["a0", "a3", "a6"], ["a1", "a4"], ["a2", "a5"]], 7)
['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6']
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist

#: the context's model operations: each takes per-input lists first and returns one output per input
SHARDED_OPS = {"rank_catalogue": 2, "rank_catalogue_exact": 2, "score_candidates": 2, "score_texts": 1,
               "generate": 1}


def world() -> tuple[int, int]:
    """``(rank, world_size)``; starts the process group when a launcher set ``WORLD_SIZE`` > 1."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size > 1 and dist.is_available():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def local_device() -> str:
    """This rank's device: ``cuda:LOCAL_RANK`` when CUDA is there, else ``cpu``."""
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0)}"
    return "cpu"


def owned(n: int, rank: int, world: int) -> list[int]:
    """Indices of ``n`` inputs this rank evaluates: every ``world``-th, from ``rank`` (balanced)."""
    return list(range(rank, n, world))


def merge(parts: Sequence[Sequence[Any]], n: int) -> list[Any]:
    """Per-rank outputs (in ``owned`` order) → one list in the original input order."""
    out: list[Any] = [None] * n
    for rank, part in enumerate(parts):
        for i, value in zip(owned(n, rank, len(parts)), part):
            out[i] = value
    return out


def sharded(fn: Callable[..., list], n_aligned: int) -> Callable[..., list]:
    """``fn(*per_input_lists, *rest, **kw)`` run on this rank's share of the first ``n_aligned``
    arguments; every rank returns all outputs in input order."""
    def run(*args, **kw) -> list:
        rank, size = world()
        if size == 1:
            return fn(*args, **kw)
        aligned, rest = args[:n_aligned], args[n_aligned:]
        n = len(aligned[0])
        mine = owned(n, rank, size)
        local = fn(*[[a[i] for i in mine] for a in aligned], *rest, **kw) if mine else []
        parts: list[Any] = [None] * size
        dist.all_gather_object(parts, list(local))
        return merge(parts, n)
    return run


class ShardedContext:
    """An evaluation context whose model operations are sharded across ranks (see module doc);
    everything else (split, options, notes, ``which`` …) is the wrapped context's."""

    def __init__(self, ctx: Any) -> None:
        object.__setattr__(self, "_ctx", ctx)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._ctx, name)
        if name in SHARDED_OPS:
            return sharded(value, SHARDED_OPS[name])
        if name == "write_predictions" and not is_main():
            return lambda *a, **k: None
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._ctx, name, value)


def shard(ctx: Any) -> Any:
    """``ctx`` sharded across ranks under a distributed launcher, else ``ctx`` unchanged."""
    return ShardedContext(ctx) if world()[1] > 1 else ctx

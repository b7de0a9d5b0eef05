"""Every fix RecBole 1.2.1 needs on this stack, in one place (see shared/STACK.md).

Import RecBole only through ``recbole_api()``; it applies, once:

1. **No ``recbole.quick_start``.** It imports ray, and ray imports ``pkg_resources``
   (gone from setuptools >= 81). We use the lower-level API only: ``Config``,
   ``create_dataset``, ``data_preparation``, ``get_model``, ``get_trainer``.
2. **NumPy 2 aliases.** RecBole's config and data code use ``np.float_``, ``np.int_``-era
   aliases that NumPy 2 removed; they are restored (as the types they always meant)
   before RecBole is imported. Identical BPR numbers were seen with numpy < 2.
3. **torch >= 2.6 weights-only loading** breaks RecBole's reload of its best checkpoint
   (``trainer.evaluate(load_best_model=True)``). The runner never reloads from disk: it
   keeps the best state dict in memory and evaluates with ``load_best_model=False``.
   ``load_checkpoint`` is given for reading a RecBole checkpoint we wrote ourselves.
4. **Output stays in the run directory.** The trainer's ``__init__`` opens a TensorBoard
   writer under ``./log_tensorboard`` in the CWD; it is replaced by a no-op writer.
   No RecBole file logger is installed (``init_logger`` writes ``./log``); the
   checkpoint directory is set by the runner inside the run directory.
5. **Threads.** ``set_threads`` picks torch intra-op threads (all cores, by default
   ``os.cpu_count()``); two torch processes at once slow each other ~8x here, so run one.

Known and not patched: pandas 3 turns RecBole's in-place ``fillna`` into a no-op
(harmless for the columns recalign hands over: none has missing values).
"""
from __future__ import annotations

import os
import types
import warnings

_applied = False


class _NullWriter:
    """Stands in for TensorBoard's SummaryWriter."""

    def __getattr__(self, name):
        return lambda *a, **k: None


def _restore_numpy_aliases() -> None:
    import numpy as np

    for alias, typ in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_,
                       "string_": np.bytes_, "bool8": np.bool_, "int0": np.intp, "uint0": np.uintp,
                       "float": float, "int": int, "bool": bool, "object": object, "long": int}.items():
        if alias not in np.__dict__:
            setattr(np, alias, typ)


def set_threads(n: int | None = None) -> int:
    import torch

    n = n or int(os.environ.get("RECALIGN_THREADS", 0)) or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def recbole_api() -> types.SimpleNamespace:
    """The RecBole entry points, with the fixes above applied."""
    global _applied
    if not _applied:
        _restore_numpy_aliases()
        warnings.filterwarnings("ignore", module="recbole")
        import recbole.trainer.trainer as _trainer

        _trainer.get_tensorboard = lambda logger: _NullWriter()
        _applied = True
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import ModelType, get_model, get_trainer, init_seed

    return types.SimpleNamespace(Config=Config, create_dataset=create_dataset, data_preparation=data_preparation,
                                 get_model=get_model, get_trainer=get_trainer, init_seed=init_seed,
                                 ModelType=ModelType)


def load_checkpoint(path, map_location="cpu"):
    """Read a RecBole checkpoint that this process wrote (it pickles the config, so the
    weights-only default of torch >= 2.6 refuses it). Never use on untrusted files."""
    import torch

    return torch.load(path, map_location=map_location, weights_only=False)

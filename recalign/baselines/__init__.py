"""Classic baselines on recalign's Split: RecBole models and a user/item-bias rating model.

The model table (``MODELS``, ``SEQUENTIAL``, ``GENERAL``, ``CHOICES``, ``MODEL_DEFAULTS``) lives
in ``table`` and is imported eagerly (it is light); the rest is imported on first use (it pulls in
torch and datasets): ``recbole_files`` (the Split as RecBole benchmark files and config),
``training`` (the early-stopping loop), ``scoring`` (scores → recalign Rankings, candidate lists),
``runner`` (the run: ``run_baseline``) and ``bias`` (the rating baseline).
"""
from __future__ import annotations

import importlib

from .table import BIAS, CHOICES, GENERAL, MODEL_DEFAULTS, MODELS, SEQUENTIAL

_LAZY = {"run_baseline": "runner", "model_config": "recbole_files", "score_candidates": "scoring",
         "BiasModel": "bias", "run_bias_baseline": "bias"}

__all__ = ["run_baseline", "run_bias_baseline", "BiasModel", "model_config", "score_candidates",
           "MODELS", "SEQUENTIAL", "GENERAL", "CHOICES", "BIAS", "MODEL_DEFAULTS"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

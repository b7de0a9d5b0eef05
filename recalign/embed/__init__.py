"""The embedder half: a bi-encoder trained on the ten query tasks (``tasks/query``) and
evaluated by full-catalogue retrieval in the same harness as the seq2seq models.

``generate_queries`` (data.py) → ``train_embedder`` (train.py) → ``evaluate_embedder``
(evaluate.py); ``EmbedConfig`` (config.py) holds every setting.
"""
from __future__ import annotations

from .config import EmbedConfig

__all__ = ["EmbedConfig"]

"""Retrieval over the whole catalogue: items embedded once (``items.item_text``, no
instruction), queries with their task's instruction, cosine scores (the embeddings are
L2-normalised, so a matrix product), full ranking through ``eval.metrics.topk_from_scores``
(the one masking and tie rule). ``use_faiss`` searches a FAISS inner-product index instead
(optional dependency, for large catalogues; masked items are filtered after the search).
"""
from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np

from ..errors import RecalignError
from ..eval.metrics import topk_from_scores


class ItemIndex:
    """The item embeddings of a model: ``ids``, ``emb`` (items × dim, unit rows)."""

    def __init__(self, model, ids: Sequence[str], texts: Sequence[str], batch_size: int = 128) -> None:
        t0 = time.perf_counter()
        self.ids = list(ids)
        self.emb = encode(model, texts, batch_size)
        self.wall_s = time.perf_counter() - t0
        self._index = None

    def rank(self, queries: np.ndarray, exclude: Sequence[Sequence[str]], k: int,
             use_faiss: bool = False) -> list[list[str]]:
        """Each query's top-``k`` item ids, best first, with ``exclude[q]`` never ranked."""
        if not use_faiss:
            return topk_from_scores(queries @ self.emb.T, self.ids, exclude, k)
        try:
            import faiss  # optional: only for large catalogues
        except ImportError:
            raise RecalignError("faiss is not installed (pip install faiss-cpu) — or set faiss: false",
                                field="faiss") from None
        if self._index is None:
            self._index = faiss.IndexFlatIP(self.emb.shape[1])
            self._index.add(self.emb.astype(np.float32))
        out = []
        for q, ex in zip(queries, exclude):
            ex = set(ex)
            _, idx = self._index.search(q[None].astype(np.float32), min(len(self.ids), k + len(ex)))
            out.append([self.ids[j] for j in idx[0] if j >= 0 and self.ids[j] not in ex][:k])
        return out


def autocast(bf16: bool):
    """bfloat16 autocast on the device the embedder runs on (a no-op context when off)."""
    import contextlib

    from ..t5_finetune.precision import use_bf16

    if not use_bf16(bf16):
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16)


def encode(model, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
    """Unit-norm embeddings (rows) of ``texts``."""
    if not len(texts):
        return np.zeros((0, model.get_embedding_dimension() or 1), dtype=np.float32)
    emb = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                       show_progress_bar=False)
    return np.asarray(emb, dtype=np.float32)


def encode_rows(model, rows: Sequence[Mapping], instruction: str | None, batch_size: int = 128) -> np.ndarray:
    """The embedder's one encode function for query rows (``RUN/embed/text`` rows: ``query`` plus the
    items it names): each query in E5's instruction form (``items.query_text``), unit-norm. The seq2seq
    models' counterpart is ``eval.inputs.encode_texts``: both take the rows, not bare strings."""
    from .items import query_text

    return encode(model, [query_text(str(r["query"]), instruction) for r in rows], batch_size)


__all__ = ["ItemIndex", "encode", "encode_rows", "autocast"]

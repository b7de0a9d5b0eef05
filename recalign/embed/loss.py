"""The contrastive loss: InfoNCE over 1 positive + the query's own hard negatives at a
temperature, in-batch negatives off by default (RecLM-emb: they bring false negatives).

Built on sentence-transformers' ``MultipleNegativesRankingLoss`` (its embedding pass and
its in-batch variant are reused as they are): with ``in_batch=False`` each query's softmax
runs over its own ``[positive, negative_1..n]`` only.

>>> import torch
>>> q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0]]), dim=-1)
>>> pos, neg = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
>>> round(float(own_negatives_loss(q, [pos, neg], temperature=1.0)), 4)   # -log(e / (e + 1))
0.3133
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss


def own_negatives_loss(queries: torch.Tensor, docs: list[torch.Tensor], temperature: float) -> torch.Tensor:
    """Cross-entropy of ``cos(q, doc_j) / temperature`` with the positive (``docs[0]``) as label."""
    q = F.normalize(queries, dim=-1)
    d = F.normalize(torch.stack(docs, dim=1), dim=-1)             # (batch, 1 + negatives, dim)
    logits = torch.einsum("bd,bnd->bn", q, d) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


class HardNegativeLoss(MultipleNegativesRankingLoss):
    """``MultipleNegativesRankingLoss`` with ``scale = 1 / temperature`` and in-batch negatives optional."""

    def __init__(self, model, temperature: float = 0.01, in_batch: bool = False) -> None:
        super().__init__(model, scale=1.0 / temperature)
        self.tau, self.in_batch = temperature, in_batch

    def compute_loss_from_embeddings(self, embeddings: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        if self.in_batch:
            return super().compute_loss_from_embeddings(embeddings, labels)
        return own_negatives_loss(embeddings[0], list(embeddings[1:]), self.tau)

    @property
    def citation(self) -> str:
        return "RecLM-emb (Lei et al. 2024); E5-mistral (Wang et al. 2024)"

"""What ILM trains on, from the run directory — train-split interactions only (issue 24).

- ``cf_sources``: one tensor per CF source (``BPR``, ``SASRec``), rows aligned with the
  backbone's atomic item tokens; the baselines are trained on the train split (their exported
  file carries the split's fingerprint, ``baselines.cf_embeddings``) and trained here when a
  finished run lacks them. ``shuffle=True`` is the control: rows permuted across items (the same
  permutation for every source), so each item gets another item's CF vectors.
- ``cooccurring_pairs``: item pairs that follow each other within ``window`` positions in a
  user's *train* items (the item–item loss); never a valid or test interaction.

>>> from recalign.data.split import Split   # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..baselines.cf_embeddings import ensure_cf_embeddings
from ..data import Split
from ..errors import RecalignError
from ..run_dir import RunDir


def cf_sources(run_dir: str | Path | RunDir, items: list[str], sources: list[str], *, shuffle: bool = False,
               seed: int = 0, baseline_kw: dict | None = None) -> list[torch.Tensor]:
    """``[(len(items), dim_s)]``: source ``s``'s vector of ``items[k]`` in row ``k`` (optionally
    shuffled across items, the control arm)."""
    if not sources:
        raise RecalignError("no CF sources (e.g. [BPR, SASRec])", field="ilm.sources")
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    out = []
    for s in sources:
        emb = ensure_cf_embeddings(run, s, **(baseline_kw or {}))
        idx = emb.item_index()
        missing = [i for i in items if i not in idx]
        if missing:
            raise RecalignError(f"{len(missing)} items of the backbone have no {s} vector (first {missing[0]!r})",
                                path=run.cf_embeddings(s))
        out.append(emb.item_vectors[torch.tensor([idx[i] for i in items])].float())
    if shuffle:
        perm = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed))
        out = [t[perm] for t in out]
    return out


def cooccurring_pairs(split: Split, items: list[str], window: int = 3) -> list[tuple[int, int]]:
    """``(row a, row b)`` for items ``b`` within ``window`` positions after ``a`` in a user's train
    items (rows index ``items``), distinct pairs in first-seen order."""
    row = {it: k for k, it in enumerate(items)}
    seen: dict[tuple[int, int], None] = {}
    for u in split.sequences:
        tr = [row[i] for i in split.train_items(u) if i in row]
        for k, a in enumerate(tr):
            for b in tr[k + 1:k + 1 + window]:
                if a != b:
                    seen.setdefault((a, b), None)
    return list(seen)


__all__ = ["cf_sources", "cooccurring_pairs"]

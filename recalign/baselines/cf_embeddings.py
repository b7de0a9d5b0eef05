"""Collaborative-filtering (CF) embeddings exported from the RecBole baselines (issue 24, step 1).

After ``run_baseline`` trains BPR or SASRec it writes ``RUN/results/<name>/cf_embeddings.safetensors``:

- ``item_vectors`` (items × dim, float32): BPR's and SASRec's ``item_embedding`` rows;
- ``user_vectors`` (users × dim, BPR only): BPR's ``user_embedding`` rows;
- metadata: ``model``, ``dim``, ``items`` and ``users`` (JSON lists, the row order), ``split_fingerprint``,
  ``trained_on: "train"`` (valid only chose the epoch: early stopping), ``best_epoch``.

Rows are in the run's **catalogue order**, ``list(split.items)`` (the source's item order: the column order
of every model's full-sort scores, ``scoring.to_catalogue_order``; *not* the shuffled atomic-token numbering of
``tasks/items.py``); user rows follow ``split.users``. RecBole's internal ids (its own remapping, 0 = padding)
are translated through the dataset's ``field2token_id``; the padding row is dropped. For BPR the full-sort
score is exactly ``user_vectors @ item_vectors.T``; for SASRec it is ``sequence_output @ item_vectors.T``.

>>> emb = load_cf_embeddings("runs/ml100k-cpu", "BPR")          # doctest: +SKIP
>>> emb.item_vectors.shape, emb.items[:2]                       # doctest: +SKIP
(torch.Size([1682, 64]), ['1', '2'])
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic_io import atomic_path
from ..data.fingerprint import split_fingerprint
from ..errors import RecalignError
from ..run_dir import RunDir

if TYPE_CHECKING:                 # torch loads when a function runs: `recalign data …` never imports it
    import torch

#: the baselines whose embeddings are exported (BPR: users and items; SASRec: items)
SUPPORTED = ("BPR", "SASRec")
WITH_USERS = ("BPR",)


@dataclass
class CFEmbeddings:
    """One baseline's CF embeddings; row ``k`` of ``item_vectors`` is item ``items[k]``."""

    model: str
    items: list[str]
    item_vectors: torch.Tensor
    fingerprint: str
    users: list[str] | None = None
    user_vectors: torch.Tensor | None = None
    trained_on: str = "train"

    @property
    def dim(self) -> int:
        return int(self.item_vectors.shape[1])

    def item_index(self) -> dict[str, int]:
        """``{item id: row}``."""
        return {it: k for k, it in enumerate(self.items)}


def check_model(model: str) -> None:
    """One line unless ``model`` is a baseline whose embeddings are exported."""
    if model not in SUPPORTED:
        raise RecalignError(f"CF embeddings are exported for {', '.join(SUPPORTED)} only, not {model!r}",
                            field="model")


def _rows(tok2id: dict[str, int], tokens: list[str], what: str) -> torch.Tensor:
    import torch

    missing = [t for t in tokens if t not in tok2id]
    if missing:
        raise RecalignError(f"{len(missing)} {what}(s) of the split unknown to RecBole's dataset "
                            f"(first: {missing[0]!r}): the benchmark files do not match the split")
    return torch.tensor([tok2id[t] for t in tokens], dtype=torch.long)


def export_cf_embeddings(net: Any, dataset: Any, model: str, items: list[str], users: list[str],
                         fingerprint: str, path: str | Path, best_epoch: int | None = None) -> Path:
    """Write ``net``'s embedding tables (rows in ``items`` / ``users`` order) to ``path``, atomically.

    ``dataset`` is the RecBole dataset ``net`` was built on (its ``field2token_id`` maps tokens to rows).

    >>> export_cf_embeddings(net, train_data._dataset, "BPR", list(split.items), split.users,
    ...                      split_fingerprint(split), run.cf_embeddings("BPR"))   # doctest: +SKIP
    """
    from safetensors.torch import save_file

    check_model(model)
    item_rows = _rows(dataset.field2token_id[dataset.iid_field], list(items), "item")
    tensors = {"item_vectors": net.item_embedding.weight.detach().float().cpu()[item_rows].contiguous()}
    meta = {"model": model, "dim": str(tensors["item_vectors"].shape[1]), "items": json.dumps(list(items)),
            "split_fingerprint": fingerprint, "trained_on": "train",
            "early_stopping": "valid NDCG@10 (masked); the best epoch's weights",
            "best_epoch": str(best_epoch), "row_order": "items: split.items (catalogue order); users: split.users"}
    if model in WITH_USERS:
        user_rows = _rows(dataset.field2token_id[dataset.uid_field], list(users), "user")
        tensors["user_vectors"] = net.user_embedding.weight.detach().float().cpu()[user_rows].contiguous()
        meta["users"] = json.dumps(list(users))
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_cf_embeddings(run_dir: str | Path | RunDir, model: str, *, name: str | None = None) -> CFEmbeddings:
    """The CF embeddings ``run_baseline`` exported for ``model`` (result ``name``, default the model).

    Refused with one line when the file is missing or was made from another split than the run's.

    >>> emb = load_cf_embeddings("runs/x", "SASRec")                 # doctest: +SKIP
    >>> emb.item_vectors[emb.item_index()["50"]]                     # doctest: +SKIP
    """
    from safetensors import safe_open

    from ..model_files import check_safetensors

    check_model(model)
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    path = run.cf_embeddings(name or model)
    redo = f"`recalign baseline --model {model} --run-dir {run.root}" + (f" --name {name}`" if name else "`")
    if not path.is_file():
        raise RecalignError(f"no CF embeddings here: run {redo} (a baseline trained before they were exported "
                            "has none)", path=path)
    check_safetensors(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("model") != model or "item_vectors" not in tensors or "items" not in meta:
        raise RecalignError(f"not {model}'s CF embeddings (model {meta.get('model')!r}): re-run {redo}", path=path)
    want = split_fingerprint(run.split())
    if meta.get("split_fingerprint") != want:
        raise RecalignError(f"CF embeddings of another split (fingerprint {meta.get('split_fingerprint')}, the "
                            f"run's split is {want}): re-run {redo}", path=path)
    items = json.loads(meta["items"])
    users = json.loads(meta["users"]) if "users" in meta else None
    if len(items) != tensors["item_vectors"].shape[0] or (
            users is not None and len(users) != tensors["user_vectors"].shape[0]):
        raise RecalignError(f"CF embeddings' row count differs from its id lists: re-run {redo}", path=path)
    return CFEmbeddings(model=model, items=items, item_vectors=tensors["item_vectors"], fingerprint=want,
                        users=users, user_vectors=tensors.get("user_vectors"),
                        trained_on=meta.get("trained_on", "train"))


def ensure_cf_embeddings(run_dir: str | Path | RunDir, model: str, **kw: Any) -> CFEmbeddings:
    """``load_cf_embeddings``, after training the baseline with ``run_baseline(run_dir, model, **kw)`` when the
    file is missing (a finished run without them trains what is missing). A file of another split is refused,
    not retrained. The caller holds the run's lock (as ``recalign baseline`` does).

    >>> emb = ensure_cf_embeddings("runs/x", "BPR", epochs=5)        # doctest: +SKIP
    """
    from .runner import run_baseline

    check_model(model)
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    name = kw.get("name")
    if not run.cf_embeddings(name or model).is_file():
        run_baseline(run.root, model, **kw)
    return load_cf_embeddings(run, model, name=name)

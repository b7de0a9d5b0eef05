"""recalign's Split as RecBole benchmark files, and the RecBole config that reads them.

The Split is handed over as RecBole atomic **benchmark files** (``benchmark_filename:
[train, valid, test]``), so RecBole does not re-split:

- general models (BPR, Pop): ``recalign.{train,valid,test}.inter`` (user, item, rating, timestamp);
- sequential models (SASRec, GRU4Rec, BERT4Rec): RecBole expects benchmark files that are
  already augmented (``item_id_list`` per row), so we write them: train = every prefix of
  the train sequence → next train item; valid = train items → valid item; test =
  train+valid items → test item (each list cut to its last ``MAX_ITEM_LIST_LENGTH``
  items). So the test-time input sequence is exactly ``split.history(u, "test")``.

Both are written under ``RUN/baselines/recbole_data/`` with an ``.item`` file listing the
whole catalogue (the dataset is named ``recalign`` so none of RecBole's per-dataset
defaults apply).
"""
from __future__ import annotations

from pathlib import Path

from ..data import Split
from ..data.atomic_files import write_atomic
from ..errors import RecalignError, nearest
from ..eval.metrics import DEFAULT_KS
from . import table
from .table import COMMON, FIXED_KEYS


def model_config(model: str, overrides: dict | None = None) -> dict:
    """recalign's RecBole hyperparameters for ``model`` (defaults ← ``overrides``).

    Any RecBole key may be overridden except recalign's protocol-critical ones (``FIXED_KEYS``:
    the Split's benchmark files and fields, ``eval_args``, output and device), which are an error.
    """
    if model not in table.MODELS:
        raise RecalignError(f"unknown baseline {model!r}; choose from {', '.join(table.MODELS)}."
                            f"{nearest(model, table.MODELS)}",
                            field="model")
    overrides = dict(overrides or {})
    reject_fixed(overrides)
    return {**COMMON, **table.MODEL_DEFAULTS.get(model, {}), **overrides}


def reject_fixed(hp: dict) -> None:
    """Raise on the first key of ``hp`` that recalign fixes (``FIXED_KEYS``)."""
    for k in hp:
        if k in FIXED_KEYS:
            raise RecalignError("recalign fixes this RecBole setting (it defines the Split handed over, the "
                                "evaluation protocol, the output directory or the CPU scoring); it cannot be "
                                f"overridden. Fixed keys: {', '.join(FIXED_KEYS)}", field=k)


def cap_topk(topk, n_items: int) -> list[int]:
    """RecBole's ``topk`` (an int or a list) keeping only K <= ``n_items`` (RecBole's top-K over a
    smaller catalogue crashes); ``[n_items]`` when none is left.

    >>> cap_topk([5, 10, 20], 8), cap_topk(10, 100), cap_topk([20, 50], 8)
    ([5], [10], [8])
    """
    ks = [topk] if isinstance(topk, int) else topk
    if not isinstance(ks, (list, tuple)) or not ks or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise RecalignError(f"expected a positive integer or a list of them, got {topk!r}", field="topk")
    kept = sorted({k for k in ks if k <= n_items})
    return kept or [max(1, n_items)]


def write_recbole_files(split: Split, out_dir: Path, sequential: bool, max_len: int = 50) -> Path:
    """Write ``recalign.{train,valid,test}.inter`` + ``recalign.item`` under ``out_dir/recalign``."""
    d = out_dir / "recalign"
    d.mkdir(parents=True, exist_ok=True)
    write_atomic(d / "recalign.item", [("item_id", "token")], [(i,) for i in split.items])
    if not sequential:
        f = [("user_id", "token"), ("item_id", "token"), ("rating", "float"), ("timestamp", "float")]
        for s in ("train", "valid", "test"):
            write_atomic(d / f"recalign.{s}.inter", f, split.rows(s))
        return d
    f = [("user_id", "token"), ("item_id_list", "token_seq"), ("item_id", "token")]
    train, valid, test = [], [], []
    for u in split.users:
        tr = split.train_items(u)
        for j in range(1, len(tr)):
            train.append((u, " ".join(tr[max(0, j - max_len):j]), tr[j]))
        valid.append((u, " ".join(split.history(u, "valid")[-max_len:]), split.target(u, "valid")))
        test.append((u, " ".join(split.history(u, "test")[-max_len:]), split.target(u, "test")))
    for s, rows in (("train", train), ("valid", valid), ("test", test)):
        write_atomic(d / f"recalign.{s}.inter", f, rows)
    return d


def recbole_config_dict(model: str, hp: dict, data_path: Path, ckpt_dir: Path, n_items: int | None = None) -> dict:
    """RecBole's config: recalign's defaults ← ``hp`` (the user's keys win) ← the fixed keys
    (``FIXED_KEYS``). ``topk`` is capped at ``n_items`` (the catalogue size) when given."""
    seq = model in table.SEQUENTIAL
    defaults = {
        "metrics": ["Recall", "NDCG", "MRR", "Hit"], "topk": list(DEFAULT_KS), "valid_metric": "NDCG@10",
        "metric_decimal_place": 6, "show_progress": False, "worker": 0, "save_dataset": False,
        "save_dataloaders": False, "log_wandb": False, "reproducibility": True, "state": "WARNING",
    }
    fixed = {
        "model": model, "dataset": "recalign", "data_path": str(data_path),
        "benchmark_filename": ["train", "valid", "test"],
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id_list", "item_id"] if seq else ["user_id", "item_id"],
                     "item": ["item_id"]},
        "eval_args": {"group_by": "user", "order": "TO", "mode": "full"},
        "checkpoint_dir": str(ckpt_dir), "use_gpu": False, "device": "cpu",
    }
    reject_fixed(hp)
    cfg = {**defaults, **{k: v for k, v in hp.items() if k not in ("time_budget_s",)}, **fixed}
    if n_items is not None:
        cfg["topk"] = cap_topk(cfg["topk"], n_items)
        metric, at, k = str(cfg["valid_metric"]).partition("@")
        if at and k.isdigit() and int(k) not in cfg["topk"]:
            cfg["valid_metric"] = f"{metric}@{max(cfg['topk'])}"
    if seq:
        cfg.setdefault("MAX_ITEM_LIST_LENGTH", 50)
        # without this alias RecBole remaps item_id_list in its own id space, apart from item_id
        cfg["alias_of_item_id"] = ["item_id_list"]
        if cfg.get("loss_type", "CE") == "CE":
            cfg["train_neg_sample_args"] = None
    return cfg

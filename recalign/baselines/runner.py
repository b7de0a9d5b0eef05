"""Train a RecBole model on exactly recalign's Split and evaluate it with recalign's metrics.

The Split is handed over as RecBole atomic **benchmark files** (``benchmark_filename:
[train, valid, test]``), so RecBole does not re-split:

- general models (BPR, Pop): ``RUN/data/<name>.{train,valid,test}.inter`` as written by
  ``recalign data prepare`` (user, item, rating, timestamp);
- sequential models (SASRec, GRU4Rec, BERT4Rec): RecBole expects benchmark files that are
  already augmented (``item_id_list`` per row), so we write them: train = every prefix of
  the train sequence → next train item; valid = train items → valid item; test =
  train+valid items → test item (each list cut to its last ``MAX_ITEM_LIST_LENGTH``
  items). So the test-time input sequence is exactly ``split.history(u, "test")``.

Both are written under ``RUN/baselines/recbole_data/`` with an ``.item`` file listing the
whole catalogue (the dataset is named ``recalign`` so none of RecBole's per-dataset
defaults apply). Training uses RecBole's own trainer epoch by epoch (``_train_epoch``,
``_valid_epoch``) in a loop of ours that adds a wall-time budget and keeps the best
state in memory (see recbole_compat); early stopping on valid NDCG@10 — computed by recalign with
its masking, not RecBole's unmasked sequential score — with patience ``stopping_step``
evaluations. The best model's full-sort scores then go through
``topk_from_scores`` with recalign's masking (valid: train items; test: train+valid),
after reordering the score columns to recalign's catalogue order (``split.items``), so that
the tie rule (catalogue order) is the same for every model.
"""
from __future__ import annotations

import copy
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic_io import write_json
from ..data import Split, load_split, split_stats
from ..data.atomic_files import write_atomic
from ..errors import RecalignError, nearest
from ..eval.metrics import (DEFAULT_KS, Ranking, candidate_metrics, ranking_metrics, split_fingerprint,
                            topk_from_scores)
from ..eval.report import PROTOCOL, write_result
from .recbole_compat import recbole_api, set_threads
from .table import COMMON, FIXED_KEYS, GENERAL, MODEL_DEFAULTS, MODELS, SEQUENTIAL  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


def model_config(model: str, overrides: dict | None = None) -> dict:
    """recalign's RecBole hyperparameters for ``model`` (defaults ← ``overrides``).

    Any RecBole key may be overridden except recalign's protocol-critical ones (``FIXED_KEYS``:
    the Split's benchmark files and fields, ``eval_args``, output and device), which are an error.
    """
    if model not in MODELS:
        raise RecalignError(f"unknown baseline {model!r}; choose from {', '.join(MODELS)}.{nearest(model, MODELS)}",
                            field="model")
    overrides = dict(overrides or {})
    reject_fixed(overrides)
    return {**COMMON, **MODEL_DEFAULTS.get(model, {}), **overrides}


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
    seq = model in SEQUENTIAL
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


@dataclass
class TrainLog:
    epochs: int = 0
    best_epoch: int = -1
    best_valid: float = -np.inf
    stopped_by: str = "max_epochs"
    wall_time_s: float = 0.0
    history: list = field(default_factory=list)

    def as_dict(self, max_epochs: int) -> dict:
        return {"epochs": self.epochs, "max_epochs": max_epochs, "best_epoch": self.best_epoch,
                "best_valid_ndcg@10": None if self.best_valid == -np.inf else round(self.best_valid, 6),
                "converged": self.stopped_by in ("early_stopping", "no_training"), "stopped_by": self.stopped_by,
                "wall_time_s": round(self.wall_time_s, 2), "history": self.history}


def train(trainer, train_data, valid_fn, epochs: int, stopping_step: int, eval_step: int,
          time_budget_s: float | None = None) -> TrainLog:
    """RecBole's epoch function in an early-stopping loop; best state restored at the end.

    ``valid_fn()`` returns the model's valid NDCG@10 under recalign's masking (RecBole's own
    valid score does not mask history items for sequential models, which misleads early
    stopping: GRU4Rec's unmasked score fell from epoch 1 while the masked one rose).
    """
    tl = TrainLog()
    model = trainer.model
    best_state = copy.deepcopy(model.state_dict())
    bad = 0
    trainer.eval_collector.data_collect(train_data)
    dynamic = (trainer.config["train_neg_sample_args"] or {}).get("dynamic", False)
    t0 = time.perf_counter()
    for ep in range(epochs):
        if dynamic:
            train_data.get_model(model)
        te = time.perf_counter()
        loss = trainer._train_epoch(train_data, ep, show_progress=False)
        loss = float(sum(loss)) if isinstance(loss, tuple) else float(loss)
        if np.isnan(loss):
            raise RecalignError(f"training loss is NaN at epoch {ep}: lower learning_rate")
        tl.epochs = ep + 1
        rec = {"epoch": ep, "loss": round(loss, 4), "train_s": round(time.perf_counter() - te, 2)}
        if (ep + 1) % eval_step == 0 or ep + 1 == epochs:
            score = valid_fn()
            rec["valid_ndcg@10"] = round(float(score), 6)
            if score > tl.best_valid:
                tl.best_valid, tl.best_epoch, bad = float(score), ep, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
        rec["elapsed_s"] = round(time.perf_counter() - t0, 2)
        tl.history.append(rec)
        log.info("epoch %s", rec)
        if bad >= stopping_step:
            tl.stopped_by = "early_stopping"
            break
        if time_budget_s is not None and time.perf_counter() - t0 >= time_budget_s and ep + 1 < epochs:
            tl.stopped_by = "time_budget"
            break
    tl.wall_time_s = time.perf_counter() - t0
    model.load_state_dict(best_state)
    return tl


def full_scores(model, dataloader, dataset) -> tuple[list[str], np.ndarray, list[str]]:
    """(user tokens, scores users × items, item tokens) from ``full_sort_predict`` — raw
    scores, no masking (recalign masks); the padding item 0 is dropped."""
    import torch

    uid = dataset.uid_field
    n_items = dataset.item_num
    users, blocks = [], []
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            inter = batch[0]
            s = model.full_sort_predict(inter).view(-1, n_items)[:, 1:]
            blocks.append(s.float().cpu().numpy())
            users.extend(dataset.id2token(uid, inter[uid].cpu().numpy()).tolist())
    items = dataset.field2id_token[dataset.iid_field][1:].tolist()
    return users, np.concatenate(blocks), items


def check_input_sequences(dataset, split: Split, which: str, max_len: int) -> int:
    """Verify RecBole's evaluation input sequences are ``split.history(u, which)[-max_len:]``
    for every user (the leakage rule holds on RecBole's side too). Returns users checked."""
    uid, iid = dataset.uid_field, dataset.iid_field
    inter = dataset.inter_feat
    users = dataset.id2token(uid, inter[uid].numpy())
    lists, lens = inter[dataset.item_id_list_field].numpy(), inter[dataset.item_list_length_field].numpy()
    for u, row, n in zip(users, lists, lens):
        got = tuple(dataset.id2token(iid, row[:n]).tolist())
        want = tuple(split.history(u, which)[-max_len:])
        if got != want:
            raise RecalignError(f"RecBole's {which} input for user {u} is {got[-5:]}..., expected "
                                f"{want[-5:]}... (history must be {'train+valid' if which == 'test' else 'train'})")
    return len(users)


def to_catalogue_order(scores: np.ndarray, items: list[str], catalogue: list[str]) -> np.ndarray:
    """Reorder score columns from RecBole's internal item order to recalign's catalogue order
    (``split.items``), so the tie rule means the same for every model; unknown items get -inf."""
    col = {it: j for j, it in enumerate(items)}
    idx = np.array([col.get(i, -1) for i in catalogue])
    out = scores[:, np.maximum(idx, 0)]
    out[:, idx < 0] = -np.inf
    return out


def ranking_for(split: Split, which: str, users, scores, items, k: int = 100) -> Ranking:
    hist = [split.history(u, which) for u in users]
    return Ranking(list(users), topk_from_scores(scores, items, hist, k), [split.target(u, which) for u in users])


def ranking_task_candidates(run_dir: str | Path, split: str = "test") -> dict[str, tuple[list[str], str]] | None:
    """The ranking task's own candidate lists from ``RUN/text/ranking/<split>`` (materialized by
    ``recalign generate``), as ``{user: (candidate item ids, target item id)}``; None if absent."""
    d = Path(run_dir) / "text" / "ranking" / split
    if not d.is_dir():
        return None
    import datasets

    ds = datasets.load_from_disk(str(d))
    return {str(u): (list(c), str(t)) for u, c, t in zip(ds["user"], ds["candidates"], ds["target_item"])}


def read_candidates(path: str | Path) -> dict[str, tuple[list[str], str]]:
    """Candidate lists: a JSONL file of ``{"user", "candidates": [item ids], "target"}``, or a run
    directory with the materialized ranking task (``RUN/text/ranking/test``)."""
    if Path(path).is_dir():
        found = ranking_task_candidates(path)
        if found is None:
            raise RecalignError("no materialized ranking task here (text/ranking/test): run `recalign generate`",
                                path=path)
        return found
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    r = json.loads(line)
                    out[str(r["user"])] = ([str(c) for c in r["candidates"]], str(r["target"]))
                except (json.JSONDecodeError, KeyError) as e:
                    raise RecalignError(f"expected JSON with user, candidates, target ({e})", path=path,
                                        line=n) from None
    return out


def score_candidates(users, scores, items, candidates: dict[str, tuple[list[str], str]]) -> Ranking:
    """Rank each user's candidate list by the model's full-sort scores (ties: list order)."""
    col = {it: j for j, it in enumerate(items)}
    row = {u: i for i, u in enumerate(users)}
    us, ranked, targets = [], [], []
    for u, (cands, target) in candidates.items():
        if u not in row:
            continue
        s = np.array([scores[row[u], col[c]] if c in col else -np.inf for c in cands])
        order = np.argsort(-s, kind="stable")
        us.append(u)
        ranked.append([cands[j] for j in order])
        targets.append(target)
    return Ranking(us, ranked, targets)


def run_baseline(run_dir: str | Path, model: str, *, epochs: int | None = None, overrides: dict | None = None,
                 dataset: str = "ml-100k", time_budget_s: float | None = None, threads: int | None = None,
                 candidates: str | Path | None = None, name: str | None = None) -> dict:
    """Train ``model`` on the run's Split and write ``RUN/results/<name>/metrics.json``.

    Returns the metrics dict. ``overrides`` are RecBole config keys (e.g.
    ``{"MAX_ITEM_LIST_LENGTH": 50}``); ``epochs`` caps training; ``time_budget_s`` stops
    after the epoch that crosses it (the result then says ``converged: false``). The ranking
    task's candidate lists are scored too when ``candidates`` is given or the run has
    ``text/ranking/test``.
    """
    run_dir = Path(run_dir)
    hp = model_config(model, overrides)
    if epochs is not None:
        hp["epochs"] = int(epochs)
    if time_budget_s is None:
        time_budget_s = hp.get("time_budget_s")
    if not (run_dir / "data" / "split.json").is_file():
        from ..data import prepare

        prepare(dataset, run_dir)
    split = load_split(run_dir)
    n_threads = set_threads(threads)
    rb = recbole_api()
    seq = model in SEQUENTIAL
    max_len = int(hp.get("MAX_ITEM_LIST_LENGTH", 50))
    data_path = run_dir / "baselines" / "recbole_data" / (f"seq{max_len}" if seq else "general")
    write_recbole_files(split, data_path, seq, max_len)
    name = name or model
    res_dir = run_dir / "results" / name
    cfg = recbole_config_dict(model, hp, data_path, res_dir / "recbole_saved", n_items=len(split.items))
    t_all = time.perf_counter()
    argv, sys.argv = sys.argv, sys.argv[:1]   # RecBole's Config reads `--key=value` from sys.argv
    try:
        config = rb.Config(model=model, dataset="recalign", config_dict=cfg)
    finally:
        sys.argv = argv
    rb.init_seed(config["seed"], config["reproducibility"])
    ds = rb.create_dataset(config)
    train_data, valid_data, test_data = rb.data_preparation(config, ds)
    rb.init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    net = rb.get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = rb.get_trainer(config["MODEL_TYPE"], config["model"])(config, net)
    catalogue = list(split.items)

    def valid_ndcg10() -> float:
        vu, vs, vi = full_scores(net, valid_data, valid_data._dataset)
        r = ranking_for(split, "valid", vu, to_catalogue_order(vs, vi, catalogue), catalogue, k=10)
        return ranking_metrics(r, ks=(10,))["ndcg@10"]

    tl = train(trainer, train_data, valid_ndcg10, int(config["epochs"]), int(config["stopping_step"]),
               int(config["eval_step"]), time_budget_s)
    if model == "Pop":
        tl.stopped_by = "no_training"  # counts are exact after one pass
    recbole_test = {k: float(v) for k, v in trainer.evaluate(test_data, load_best_model=False).items()}

    if seq:
        check_input_sequences(test_data._dataset, split, "test", max_len)
        check_input_sequences(valid_data._dataset, split, "valid", max_len)
    users, scores, items = full_scores(net, test_data, test_data._dataset)
    scores, items = to_catalogue_order(scores, items, catalogue), catalogue
    test_rank = ranking_for(split, "test", users, scores, items)
    vusers, vscores, vitems = full_scores(net, valid_data, valid_data._dataset)
    valid_rank = ranking_for(split, "valid", vusers, to_catalogue_order(vscores, vitems, catalogue), catalogue)
    result = {
        "kind": "baseline", "split": "test", "split_fingerprint": split_fingerprint(split),
        "dataset": split_stats(split), "protocol": dict(PROTOCOL),
        "retrieval": ranking_metrics(test_rank),
        "valid_retrieval": ranking_metrics(valid_rank),
        "recbole_test": recbole_test,
        "training": {**tl.as_dict(int(config["epochs"])), "threads": n_threads,
                     "total_wall_time_s": round(time.perf_counter() - t_all, 2)},
        "config": {k: v for k, v in cfg.items() if k not in ("data_path", "checkpoint_dir")},
        "notes": [],
    }
    asked = hp.get("topk", list(DEFAULT_KS))
    if sorted({asked} if isinstance(asked, int) else set(asked)) != cfg["topk"]:
        result["notes"].append(f"RecBole topk {asked} capped at the catalogue size ({len(split.items)} items): "
                               f"{cfg['topk']}; recalign's @K metrics past the catalogue rank every item")
    if tl.stopped_by == "time_budget":
        result["notes"].append(f"cut short by the time budget ({time_budget_s:.0f} s) after {tl.epochs} epoch(s): "
                               "valid NDCG@10 may still be improving")
    elif tl.stopped_by == "max_epochs":
        result["notes"].append(f"stopped at the epoch cap ({tl.epochs}) before early stopping: may not be converged")
    cand = read_candidates(candidates) if candidates is not None else ranking_task_candidates(run_dir)
    if cand:
        cr = score_candidates(users, scores, items, cand)
        if len(cr):
            result["ranking"] = candidate_metrics(cr)
            result["notes"].append("'ranking' = the ranking task's own sampled candidate lists, scored with "
                                   "the model's full-sort scores (ties: list order)")
    result_dir = write_result(run_dir, name, result, test_rank)
    write_json(result_dir / "valid_metrics.json", result["valid_retrieval"])
    return {"model": name, **result}

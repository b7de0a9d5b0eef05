"""Train a RecBole model on exactly recalign's Split and evaluate it with recalign's metrics
(RecBole's ``run_recbole`` in one call, on recalign's terms).

The run: the Split as benchmark files (``recbole_files``) → RecBole's Config, dataset and
model → RecBole's trainer epoch by epoch in a loop of ours (``training``: wall-time budget,
best state in memory, early stopping on valid NDCG@10 computed by recalign with its masking)
→ the best model's full-sort scores through ``topk_from_scores`` with recalign's masking
(valid: train items; test: train+valid), after reordering the score columns to recalign's
catalogue order (``scoring``) → ``RUN/results/<name>/metrics.json`` (BPR and SASRec also write their
embedding tables, ``cf_embeddings.safetensors``: ``cf_embeddings``).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..atomic_io import write_json
from ..data import split_stats
from ..data.fingerprint import split_fingerprint
from ..eval.metrics import DEFAULT_KS, candidate_metrics, ranking_metrics
from ..eval.report import PROTOCOL, write_result
from ..run_dir import RunDir
from .recbole_compat import recbole_api, set_threads
from .recbole_files import model_config, recbole_config_dict, write_recbole_files
from .scoring import (check_input_sequences, full_scores, ranking_for, ranking_task_candidates, read_candidates,
                      score_candidates, to_catalogue_order)
from . import cf_embeddings, table
from .training import train


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
    run = RunDir(run_dir)
    hp = model_config(model, overrides)
    if epochs is not None:
        hp["epochs"] = int(epochs)
    if time_budget_s is None:
        time_budget_s = hp.get("time_budget_s")
    split = run.ensure_split(dataset)
    n_threads = set_threads(threads)
    rb = recbole_api()
    seq = model in table.SEQUENTIAL
    max_len = int(hp.get("MAX_ITEM_LIST_LENGTH", 50))
    data_path = run.recbole_data / (f"seq{max_len}" if seq else "general")
    write_recbole_files(split, data_path, seq, max_len)
    name = name or model
    res_dir = run.result(name)
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
        "input_window": max_len if seq else None,   # history items the model reads (compare's window line)
        "dataset": split_stats(split), "protocol": dict(PROTOCOL),
        "retrieval": ranking_metrics(test_rank, per_user=True),
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
    cand = read_candidates(candidates) if candidates is not None else ranking_task_candidates(run)
    if cand:
        cr = score_candidates(users, scores, items, cand)
        if len(cr):
            result["ranking"] = candidate_metrics(cr, per_user=True)
            result["notes"].append("'ranking' = the ranking task's own sampled candidate lists, scored with "
                                   "the model's full-sort scores (ties: list order)")
    if model in cf_embeddings.SUPPORTED:   # the best epoch's tables, rows in catalogue order (train split only)
        cf_embeddings.export_cf_embeddings(net, train_data._dataset, model, catalogue, split.users,
                                           result["split_fingerprint"], run.cf_embeddings(name), tl.best_epoch)
        result["cf_embeddings"] = run.cf_embeddings(name).name
    else:   # another model under a name that held BPR/SASRec: its tables are not this result's
        run.cf_embeddings(name).unlink(missing_ok=True)
    result_dir = write_result(run.root, name, result, test_rank)
    write_json(result_dir / "valid_metrics.json", result["valid_retrieval"])
    return {"model": name, **result}

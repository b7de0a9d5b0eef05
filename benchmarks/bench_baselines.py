"""Convergence study of the RecBole baselines on recalign's ml-100k split (2-core CPU).

One model per invocation (run it under the CPU lock, keep a hold under ~10 minutes):

    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/bench_baselines.py \
        --model SASRec --run-dir /tmp/bench-run --time-budget 540 -o MAX_ITEM_LIST_LENGTH=20

Prints one JSON line: epochs run, best epoch, whether valid NDCG@10 stopped improving
(early stopping) or a budget cut it, train wall time, seconds per epoch, and test metrics
(recalign's, full ranking, history masked). Appends the same line to
``RUN/bench_baselines.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from recalign.baselines import run_baseline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--run-dir", default="/tmp/recalign-bench")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--time-budget", type=float, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--name", default=None)
    ap.add_argument("-o", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    ov = {k: yaml.safe_load(v) for k, _, v in (o.partition("=") for o in a.overrides)}
    name = a.name or "-".join([a.model] + [f"{k}{v}" for k, v in ov.items()])
    t0 = time.perf_counter()
    r = run_baseline(a.run_dir, a.model, epochs=a.epochs, overrides=ov, time_budget_s=a.time_budget,
                     threads=a.threads, name=name)
    t = r["training"]
    ep_s = [h["train_s"] for h in t["history"]]
    line = {"name": name, "model": a.model, "overrides": ov, "epochs": t["epochs"], "best_epoch": t["best_epoch"],
            "converged": t["converged"], "stopped_by": t["stopped_by"], "train_wall_s": t["wall_time_s"],
            "total_wall_s": round(time.perf_counter() - t0, 1),
            "s_per_epoch": round(sum(ep_s) / len(ep_s), 2), "threads": t["threads"],
            "best_valid_ndcg@10": t["best_valid_ndcg@10"],
            "test": {k: round(v, 4) for k, v in r["retrieval"].items() if k != "users"},
            "valid_curve": [h.get("valid_ndcg@10") for h in t["history"]],
            "config": {k: r["config"].get(k) for k in ("learning_rate", "train_batch_size", "stopping_step",
                                                        "eval_step", "MAX_ITEM_LIST_LENGTH") if k in r["config"]}}
    print(json.dumps(line))
    with open(Path(a.run_dir) / "bench_baselines.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()

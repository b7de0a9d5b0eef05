"""Generation speed: examples per second for all six tasks, all splits, written to disk.

Data: ml-100k, and synthetic data 10x and 100x larger made of disjoint copies of
ml-100k (users, items and interactions all multiplied; item titles suffixed to stay
unique), so per-user sequences keep ml-100k's shape while the catalogue grows.
``--sample-users F`` generates for a seeded fraction F of the users (used at 100x,
where the full run would take ~15 minutes on 2 cores; the per-example cost is what
is compared).

    python benchmarks/bench_generate.py --scales 1,10,100 --sample-users 1,1,0.1

Prints one markdown row per scale and task.
"""
from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from recalign.data import Dataset, Item, leave_one_out, load_dataset
from recalign.materialize import generate
from recalign.tasks import TASKS, GenerateConfig


def scaled(ds: Dataset, k: int) -> Dataset:
    """``k`` disjoint copies of ``ds`` (copy 0 is ``ds`` itself)."""
    if k == 1:
        return ds
    items = dict(ds.items)
    for c in range(1, k):
        items.update({f"{i}#{c}": Item(f"{i}#{c}", f"{it.title} #{c}", it.raw_title, it.fields)
                      for i, it in ds.items.items()})
    suf = [""] + [f"#{c}" for c in range(1, k)]
    users = np.concatenate([np.char.add(ds.users.astype(str), s) for s in suf]).astype(object)
    item_ids = np.concatenate([np.char.add(ds.item_ids.astype(str), s) for s in suf]).astype(object)
    ts = np.concatenate([ds.timestamps] * k)
    return Dataset(f"{ds.name}x{k}", items, users, item_ids, ts, np.concatenate([ds.ratings] * k))


def run(scale: int, frac: float, seed: int = 0) -> list[dict]:
    t = time.perf_counter()
    split = leave_one_out(scaled(load_dataset("ml-100k"), scale))
    prep = time.perf_counter() - t
    users = split.users
    if frac < 1:
        rng = np.random.default_rng(seed)
        users = [users[i] for i in np.sort(rng.choice(len(users), int(len(users) * frac), replace=False))]
    out = Path(tempfile.mkdtemp(prefix="bench_gen_"))
    rows = []
    try:
        cfg = GenerateConfig(seed=seed, progress=False)
        for task in TASKS.names():
            t = time.perf_counter()
            m = generate(split, [task], out, cfg, users=users)
            dt = time.perf_counter() - t
            n = sum(m["counts"][task].values())
            rows.append({"scale": scale, "users": len(users), "task": task, "examples": n, "seconds": dt})
            shutil.rmtree(out / "text" / task, ignore_errors=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"# scale {scale}x: {len(split.users):,} users, {len(split.items):,} items, "
          f"{len(split.dataset):,} interactions; split built in {prep:.1f} s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,10,100")
    ap.add_argument("--sample-users", default="1,1,0.1", help="fraction of users per scale")
    a = ap.parse_args()
    scales = [int(x) for x in a.scales.split(",")]
    fracs = [float(x) for x in a.sample_users.split(",")]
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| scale | users generated | task | examples (all 5 splits) | seconds | examples/s |")
    print("|---|---|---|---|---|---|")
    for s, f in zip(scales, fracs):
        rows = run(s, f)
        for r in rows:
            print(f"| {s}x | {r['users']:,} | {r['task']} | {r['examples']:,} | {r['seconds']:.2f} | "
                  f"{r['examples'] / r['seconds']:,.0f} |")
        n, sec = sum(r["examples"] for r in rows), sum(r["seconds"] for r in rows)
        print(f"| {s}x | {rows[0]['users']:,} | **all six** | {n:,} | {sec:.2f} | {n / sec:,.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""Cold items: can a model recommend an item it never saw in training? (issue 10)

A seeded 10% of ml-100k's catalogue is *cold*: every train interaction with a cold item is
dropped from the generated train (and valid) examples — cold items appear in no training
input and no training target — but they stay in the catalogue, in test histories and as
test targets. The same retrieval-only recipe is trained once per item form on the same
budget, then every test user is ranked over the whole catalogue (history masked) and the
users are grouped by whether their test item is cold or warm.

    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/cold_items.py title   # title → title
    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/cold_items.py id      # id → id (atomic)
    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/cold_items.py minilm  # title → title, pretrained (issue 22)
    .venv/bin/python benchmarks/cold_items.py report                              # the table
    flock /tmp/recalign-cpu.lock .venv/bin/python benchmarks/cold_items.py ranks title id   # exact ranks again

MINUTES (default 3) and OUT (default runs/cold-items) may be set in the environment. Each
arm prints and writes ``OUT/<arm>/cold.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from recalign.config import from_dict, read_yaml
from recalign.data import leave_one_out, load_dataset, write_split
from recalign.data.split import Split, UserSequence
from recalign.eval.evaluate import evaluate
from recalign.eval.metrics import read_per_user
from recalign.materialize import generate, load_task_data
from recalign.run_dir import RunDir
from recalign.eval.item_rank import atomic_token_ids, rank_items
from recalign.eval.scoring import score_token_ids
from recalign.t5_finetune import TrainConfig, load_checkpoint, train
from recalign.tasks import GenerateConfig
from recalign.tasks.items import ItemRule, ItemWriter

ARMS = {"title": dict(item_input="title", item_target="title"),
        "id": dict(item_input="id", item_target="id", item_ids="atomic"),
        # issue 22: the same title recipe on the pretrained all-MiniLM-L6-v2 (BERT2BERT warm start)
        "minilm": dict(item_input="title", item_target="title")}
#: the config whose train section an arm uses (the retrieval-only mixture and the time budget on top)
CONFIGS = {"minilm": "ml100k-cpu-minilm.yaml"}
COLD_SHARE, SEED = 0.10, 0


def cold_items(split: Split, share: float = COLD_SHARE, seed: int = SEED) -> set[str]:
    """A seeded ``share`` of the catalogue (uniform over items, not over interactions)."""
    items = sorted(split.items)
    return set(random.Random(f"{seed}/cold-items").sample(items, round(share * len(items))))


def warm_split(split: Split, cold: set[str]) -> Split:
    """``split`` with every *train* interaction with a cold item removed (valid and test kept;
    the catalogue unchanged, so item ids are numbered exactly as in ``split``)."""
    seqs = {}
    for u, s in split.sequences.items():
        keep = [k for k, i in enumerate(s.items[:-2]) if i not in cold] + [len(s.items) - 2, len(s.items) - 1]
        seqs[u] = UserSequence(u, tuple(s.items[k] for k in keep), tuple(s.ratings[k] for k in keep),
                               tuple(s.timestamps[k] for k in keep))
    return dataclasses.replace(split, sequences=seqs)


def train_config(minutes: float, config: str = "ml100k-cpu.yaml") -> TrainConfig:
    """``configs/<config>``'s train section, retrieval only, ``minutes`` of training."""
    section = read_yaml(Path(__file__).resolve().parents[1] / "configs" / config)["train"]
    return from_dict(TrainConfig, section, [f"time_budget_minutes={minutes}", "report_to=[]",
                                             "mixture={strategy: rates, rates: {retrieval: 1.0}, total: 200000}",
                                             "eval_steps=100000", "save_steps=100000", "curve.users=0"])


def run_arm(arm: str, out: Path, minutes: float) -> dict:
    t0 = time.time()
    split = leave_one_out(load_dataset("ml-100k"))
    cold = cold_items(split)
    run = out / arm
    shutil.rmtree(run, ignore_errors=True)
    write_split(split, RunDir(run).data)
    gcfg = GenerateConfig(seed=SEED, history_len=10, num_candidates=20, domain="movies", progress=False, **ARMS[arm])
    generate(split, ["retrieval"], run, gcfg)                  # test rows from the real split
    warm = out / f".{arm}-warm"
    shutil.rmtree(warm, ignore_errors=True)
    generate(warm_split(split, cold), ["retrieval"], warm, gcfg)
    for s in ("train", "valid"):                               # training never sees a cold item
        dst = RunDir(run).task_split("retrieval", s)
        shutil.rmtree(dst)
        shutil.copytree(RunDir(warm).task_split("retrieval", s), dst)
    shutil.rmtree(warm)
    tcfg = train_config(minutes, CONFIGS.get(arm, "ml100k-cpu.yaml"))
    train(tcfg, run)
    m = evaluate(run, tasks=["retrieval"], templates=["seen"], progress=False)
    pu = read_per_user(RunDir(run).result("recalign-t5") / "per_user" / "retrieval.jsonl")
    groups: dict[str, dict] = {}
    for name in ("cold", "warm"):
        idx = [k for k, u in enumerate(pu.users) if (split.target(u, "test") in cold) == (name == "cold")]
        groups[name] = {"users": len(idx), **{c: round(float(pu.columns[c][idx].mean()), 4) if idx else None
                                            for c in ("ndcg@10", "recall@10", "recall@20")}}
    info = json.loads((RunDir(run).model / "recalign_train.json").read_text())
    res = {"arm": arm, "cold_items": len(cold), "items": len(split.items), "minutes": minutes,
           "steps": info["global_step"], "train_examples": info["train_examples"],
           "all": {k: round(m["retrieval"][k], 4) for k in ("ndcg@10", "recall@10")}, **groups,
           "wall_s": round(time.time() - t0)}
    res["target_rank"] = target_ranks(run, split, cold)
    (run / "cold.json").write_text(json.dumps(res, indent=1))
    return res


def target_ranks(run: Path, split: Split, cold: set[str], n_users: int = 95) -> dict:
    """Where the test item lands in an *exact* ranking of the whole catalogue (history masked):
    every title scored by its log-likelihood (title arm; the beam above ranks only 20) or the
    softmax over item tokens (id arm), for the cold-target users and as many warm ones (seeded);
    median rank and mean percentile (0 = top, 0.5 = chance)."""
    import numpy as np

    model, tok = load_checkpoint(RunDir(run).model)
    rows = {r["user"]: r["input"] for r in load_task_data(run, "retrieval", "test")}
    warm_users = [u for u in rows if split.target(u, "test") not in cold]
    groups = {"cold": [u for u in rows if split.target(u, "test") in cold],
              "warm": random.Random(f"{SEED}/warm-sample").sample(warm_users, n_users)}
    settings = RunDir(run).manifest()["settings"]
    writer = ItemWriter(split.items, ItemRule.from_settings(settings))
    items = list(split.items)
    out = {}
    for name, users in groups.items():
        inputs = [rows[u] for u in users]
        if writer.rule.atomic_target:
            its, ids = atomic_token_ids(writer.target, tok)
            ranked = rank_items(model, tok, inputs, its, ids, [list(split.history(u, "test")) for u in users])
            order = [[i for i, _ in r] for r in ranked]
        else:
            cand = [tok(writer.target[i], add_special_tokens=False)["input_ids"] for i in items]
            sc = score_token_ids(model, tok, inputs, [cand] * len(users))
            order = []
            for u, s in zip(users, sc):
                hist = set(split.history(u, "test"))
                order.append([items[k] for k in np.argsort(-s.logp, kind="stable") if items[k] not in hist])
        ranks = [o.index(split.target(u, "test")) + 1 for u, o in zip(users, order)]
        pct = [(r - 1) / max(1, len(o) - 1) for r, o in zip(ranks, order)]
        out[name] = {"users": len(users), "median_rank": float(np.median(ranks)),
                     "mean_percentile": round(float(np.mean(pct)), 3),
                     "of": round(float(np.mean([len(o) for o in order])))}
    return out


def report(out: Path) -> str:
    rows = ["| setting | steps | NDCG@10 cold | Recall@10 cold | NDCG@10 warm | Recall@10 warm | users cold / warm "
            "| exact rank of the test item, cold: median (mean percentile) | warm |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arm, label in (("title", "title → title"), ("id", "id → id (atomic)"),
                       ("minilm", "title → title, MiniLM BERT2BERT (pretrained)")):
        p = out / arm / "cold.json"
        if p.is_file():
            r = json.loads(p.read_text())
            c, w = r["cold"], r["warm"]
            rows.append(f"| {label} | {r['steps']:,} | {c['ndcg@10']:.4f} | {c['recall@10']:.4f} | "
                        f"{w['ndcg@10']:.4f} | {w['recall@10']:.4f} | {c['users']} / {w['users']} | "
                        + " | ".join(f"{t['median_rank']:.0f} of {t['of']} ({t['mean_percentile']:.2f})"
                                     for t in (r.get("target_rank") or {}).values()) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "report"
    out = Path(os.environ.get("OUT", "runs/cold-items"))
    if which == "report":
        print(report(out))
    elif which == "ranks":         # the exact target ranks of trained arms (added to their cold.json)
        split = leave_one_out(load_dataset("ml-100k"))
        for arm in sys.argv[2:] or list(ARMS):
            p = out / arm / "cold.json"
            res = json.loads(p.read_text())
            res["target_rank"] = target_ranks(out / arm, split, cold_items(split))
            p.write_text(json.dumps(res, indent=1))
            print(arm, json.dumps(res["target_rank"]))
    elif which in ARMS:
        print(json.dumps(run_arm(which, out, float(os.environ.get("MINUTES", "3")))))
    else:
        sys.exit(f"usage: cold_items.py {'|'.join(ARMS)}|report")

"""``run_ilm``: every arm of the ILM table on one finished run (``recalign ilm --run RUN``).

The backbone is the run's own instruction-tuned model (``RUN/model``, atomic item tokens — the
paper's OpenP5 setting: a text backbone trained on the prompts, then frozen). Per arm: build the
item encoder, phase 1 when asked, phase 2, then the same ``recalign.eval.evaluate`` every model
goes through, as ``RUN/results/ilm-<arm>`` (beside SASRec, BPR, Pop and ``recalign-t5`` in
``recalign compare RUN``). ``RUN/ilm/<arm>/`` holds the encoder's weights and what each phase did.
A seed N > 0 (``recalign ilm --seed N``, repeatable) names them ``ilm-<arm>-seed<N>`` and
``RUN/ilm/<arm>-seed<N>/``; the ``backbone`` arm (``encoder: none``: no seed changes it) runs once, as
``ilm-backbone``. ``recalign ilm --table`` (``ilm.table``) averages each arm over its seeds.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from ..atomic_io import atomic_path, write_json
from ..errors import RecalignError
from ..run_dir import RunDir
from .config import ILMArm, ILMConfig


def backbone_items(run: RunDir, tokenizer) -> tuple[list[str], list[int]]:
    """``(items, token ids)`` of the backbone's atomic item tokens; one line when it has none."""
    from ..eval.item_rank import atomic_token_ids
    from ..t5_finetune.item_tokens import run_item_writer

    writer = run_item_writer(run.root)
    if writer is None:
        raise RecalignError("ILM needs a backbone whose items are atomic tokens (generate.item_ids: atomic, as "
                            "`make run`'s config): this run's text writes items otherwise", path=run.manifest_path)
    return atomic_token_ids(writer.target, tokenizer)


def _max_lengths(run: RunDir) -> tuple[int, int]:
    from ..config import read_yaml

    p = run.root / "train_config.yaml"
    t = read_yaml(p) if p.is_file() else {}
    return int(t.get("max_source_length", 512)), int(t.get("max_target_length", 64))


def run_arm(run: RunDir, cfg: ILMConfig, arm: ILMArm, log=print, cache: dict | None = None) -> dict:
    """Train (unless ``encoder: none``) and evaluate one arm with ``cfg.seed``, as
    ``RUN/results/<arm.result_name(cfg.seed)>``; returns its info (also written to ``RUN/ilm/<folder>/``)."""
    import torch

    from ..eval.evaluate import evaluate
    from ..t5_finetune.models import load_checkpoint
    from .data import cf_sources, cooccurring_pairs
    from .encoder import build_encoder
    from .phase1 import item_texts_embedded, pretrain
    from .phase2 import train_phase2
    from .soft_tokens import SoftItems, install

    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    model, tok = load_checkpoint(run.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    items, token_ids = backbone_items(run, tok)
    name, folder = arm.result_name(cfg.seed), run.root / "ilm" / arm.folder(cfg.seed)
    info: dict = {"arm": arm.__dict__, "result": name, "seed": cfg.seed if arm.seeded else None,
                  "backbone": str(run.model), "sources": list(cfg.sources), "items": len(items)}
    if arm.encoder != "none":
        cf = [c.to(device) for c in cf_sources(run, items, list(cfg.sources), shuffle=arm.shuffle_cf, seed=cfg.seed)]
        torch.manual_seed(cfg.seed)
        enc = build_encoder(arm.encoder, [c.shape[1] for c in cf], model.config.d_model, width=cfg.width,
                            n_queries=cfg.n_queries, layers=cfg.layers, heads=cfg.heads, chunks=cfg.chunks).to(device)
        if arm.phase1:
            if "text" not in cache:
                from ..embed.items import item_text

                split = run.split()
                cache["text"] = item_texts_embedded([item_text(split.items[i]) for i in items], cfg.text_model)
                cache["pairs"] = cooccurring_pairs(split, items, cfg.pair_window)
            emb, ids, vocab = cache["text"]
            info["phase1"] = pretrain(enc, cf, emb, ids, vocab, cache["pairs"] if arm.item_item else None,
                                      steps=cfg.phase1_steps, batch_size=cfg.phase1_batch_size, lr=cfg.phase1_lr,
                                      seed=cfg.seed, log=log)
            info["phase1"]["item_item_pairs"] = len(cache["pairs"]) if arm.item_item else 0
        soft = SoftItems(enc, cf, token_ids, len(tok)).to(device)
        info["phase2"] = train_phase2(model, tok, soft, run.root, cfg.mixture, steps=cfg.phase2_steps,
                                      batch_size=cfg.batch_size, lr=cfg.learning_rate, max_lengths=_max_lengths(run),
                                      seed=cfg.seed, log=log)
        install(model, soft)
        folder.mkdir(parents=True, exist_ok=True)
        from safetensors.torch import save_file

        with atomic_path(folder / "item_encoder.safetensors") as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in enc.state_dict().items()}, str(tmp))
    t1 = time.perf_counter()
    metrics = evaluate(run.root, model=model, tokenizer=tok, name=name, tasks=cfg.eval_tasks,
                       templates=cfg.eval_templates, max_users=cfg.eval_max_users or None,
                       batch_size=cfg.eval_batch_size, progress=False, device=device)
    info.update(train_s=round(t1 - t0, 1), eval_s=round(time.perf_counter() - t1, 1),
                retrieval_ndcg10=metrics.get("retrieval", {}).get("ndcg@10"))
    write_json(folder / "info.json", info)
    log(f"[ilm] {name}: retrieval NDCG@10 {info['retrieval_ndcg10']} (train {info['train_s']} s, "
        f"evaluate {info['eval_s']} s)")
    return info


def run_ilm(run_dir: str | Path, cfg: ILMConfig | None = None, arms: list[str] | None = None, log=print,
            seeds: list[int] | None = None) -> list[dict]:
    """Every arm of ``cfg`` (or those named in ``arms``) in order, once per seed of ``seeds`` (default
    ``[cfg.seed]``; an arm no seed changes, ``encoder: none``, once in all); ``RUN/ilm/summary.json``
    (keyed by result name)."""
    cfg = cfg or ILMConfig()
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    seeds = list(dict.fromkeys(seeds)) if seeds else [cfg.seed]
    bad_seed = [s for s in seeds if not isinstance(s, int) or isinstance(s, bool) or s < 0]
    if bad_seed:
        raise RecalignError(f"seeds must be non-negative integers, got {bad_seed[0]!r}", field="--seed")
    if not (run.model / "config.json").is_file():
        raise RecalignError("no trained backbone here (RUN/model): run `recalign run` (e.g. `make run`) first",
                            path=run.model)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    todo = cfg.arm_list()
    if arms:
        known = {a.name for a in todo}
        bad = [a for a in arms if a not in known]
        if bad:
            raise RecalignError(f"unknown arm {bad[0]!r} (arms: {', '.join(sorted(known))})", field="--arm")
        todo = [a for a in todo if a.name in arms]
    cache: dict = {}
    out, done = [], set()
    for seed in seeds:
        for a in todo:
            if a.result_name(seed) in done:      # the backbone: one run whatever the seed
                continue
            done.add(a.result_name(seed))
            out.append(run_arm(run, dataclasses.replace(cfg, seed=seed), a, log=log, cache=cache))
    summary = run.root / "ilm" / "summary.json"
    old = json.loads(summary.read_text()) if summary.is_file() else {}
    old = {k if k.startswith("ilm-") else f"ilm-{k}": v for k, v in old.items()}   # older files: keyed by arm
    old.update({i["result"]: i for i in out})
    write_json(summary, old)
    return out


__all__ = ["run_ilm", "run_arm", "backbone_items"]

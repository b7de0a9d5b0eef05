"""Phase 2: only the item encoder and its adaptor learn, on the recommendation prompts; the
backbone is frozen (its weights' hash is checked before and after) and read in eval mode.

Batches are the run's own generated examples (``RUN/text``: retrieval, ranking, rating by
default, ``mixture``), tokenized by the training collator, so the loss is exactly the one the
backbone was trained with — now a function of the soft item tokens alone.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import RecalignError
from .soft_tokens import SoftItems, freeze, install, uninstall, weights_hash


def phase2_batches(run_dir: str | Path, tokenizer, model, mixture, steps: int, batch_size: int, max_lengths,
                   seed: int = 0):
    """``steps`` collated batches of the run's training mixture (seeded order)."""
    from ..t5_finetune.collator import Seq2SeqCollator
    from ..t5_finetune.data import load_mixture, text_for_training

    ds = text_for_training(load_mixture(mixture, run_dir, seed, max_examples=steps * batch_size))
    if len(ds) == 0:
        raise RecalignError("no phase-2 training examples in the run's generated text", field="ilm.mixture")
    collate = Seq2SeqCollator(tokenizer, model, max_lengths=tuple(max_lengths))
    n = len(ds)
    for step in range(steps):
        lo = (step * batch_size) % n
        rows = ds.select([(lo + k) % n for k in range(batch_size)])
        yield collate([{"input": r["input"], "target": r["target"]} for r in rows])


def train_phase2(model, tokenizer, items: SoftItems, run_dir: str | Path, mixture, *, steps: int, batch_size: int,
                 lr: float, max_lengths=(512, 64), warmup: float = 0.05, seed: int = 0, log=print) -> dict:
    """Freeze ``model``, install ``items``, train ``items.encoder`` on the run's mixture; the
    soft tokens stay installed on return (evaluate with them). Refuses when any backbone weight
    changed or the optimizer holds anything but the item encoder."""
    torch.manual_seed(seed)
    uninstall(model)
    before = freeze(model)
    install(model, items)
    params = [p for p in items.encoder.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    held = {id(p) for g in opt.param_groups for p in g["params"]}
    backbone = {id(p) for n, p in model.named_parameters() if ".items." not in f".{n}"}
    if held & backbone or held != {id(p) for p in items.encoder.parameters()}:
        raise RecalignError("phase 2's optimizer must hold the item encoder's parameters only")
    warm = max(1, int(warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / max(1, steps)))
    device = next(model.parameters()).device
    model.eval()                         # the frozen backbone: no dropout
    items.encoder.train()
    losses, t0 = [], time.perf_counter()
    for step, batch in enumerate(phase2_batches(run_dir, tokenizer, model, mixture, steps, batch_size,
                                                max_lengths, seed)):
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % max(1, steps // 5) == 0:
            log(f"[ilm phase 2] step {step + 1}/{steps}: loss {sum(losses[-20:]) / len(losses[-20:]):.4f}")
    items.encoder.eval()
    uninstall(model)
    after = weights_hash(model)
    install(model, items)
    if after != before:
        raise RecalignError("the backbone's weights changed during phase 2 (frozen: they must not)")
    return {"steps": len(losses), "batch_size": batch_size, "learning_rate": lr,
            "seconds": round(time.perf_counter() - t0, 1), "first_loss": round(losses[0], 4) if losses else None,
            "last_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4) if losses else None,
            "backbone_sha256": before, "backbone_unchanged": True,
            "trainable_parameters": sum(p.numel() for p in params)}


__all__ = ["train_phase2", "phase2_batches"]

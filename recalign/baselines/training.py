"""The training loop around RecBole's own epoch function: early stopping on recalign's masked
valid NDCG@10 (RecBole's sequential valid score does not mask history items), a wall-time
budget, and the best state kept in memory (see recbole_compat)."""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import RecalignError

log = logging.getLogger(__name__)


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

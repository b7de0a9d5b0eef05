"""``train(cfg, run_dir)``: multi-task fine-tuning with ``Seq2SeqTrainer``.

Run directory after ``train``::

    RUN/train_config.yaml      the resolved TrainConfig
    RUN/tokenizer/             tokenizer trained on the run's text (presets only)
    RUN/checkpoints/checkpoint-N/   Trainer checkpoints + recalign_checkpoint.json (written last: the
                               folder is complete); a new call resumes from the newest complete one,
                               continuing its training clock (time budget, LR schedule, reported time)
    RUN/logs/train.jsonl       every log / eval event, one JSON object a line
    RUN/logs/curve.jsonl       learning-curve points (with an ``evaluate_fn``; see ``curve.py``)
    RUN/wandb/                 offline wandb run (report_to: [wandb])
    RUN/model/                 best (or last) model + tokenizer + recalign_train.json
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import shutil
from pathlib import Path

from transformers import Seq2SeqTrainer

from ..atomic_io import replace_dir, write_json
from ..config import save_config
from ..errors import RecalignError
from ..progress import interactive
from ..run_dir import RunDir
from ..wandb_io import finish_wandb, offline_unless_reachable
from .callbacks import BudgetProgress, CoarseProgress, JsonlLogger, TimeBudget, TrainClock, WandbConfig
from .checkpoints import latest_complete, mark_complete, read_marker
from .collator import Seq2SeqCollator
from .config import TrainConfig
from .curve import EvaluateFn, LearningCurve
from .data import consumable_examples, load_eval_sets, load_mixture, text_for_training, tokenize, tokenizer_texts
from .deepspeed_config import resolve_deepspeed, single_process_env, zero_stage
from .models import build_model, check_model_name, is_preset
from .precision import resolve as resolve_precision
from .item_tokens import add_item_tokens, init_item_rows
from .tokenizer import load_tokenizer, train_tokenizer

log = logging.getLogger(__name__)


class RecalignTrainer(Seq2SeqTrainer):
    """Seq2SeqTrainer with per-task evaluation summarized as one line, an overall
    ``eval_loss`` (example-weighted mean of the tasks' losses) for best-model selection,
    optionally a learning-rate schedule paced by a time budget (``budget_schedule``), and a
    completion marker written into each checkpoint after the Trainer's save (``checkpoints.py``)."""

    budget_schedule: tuple | None = None   # (seconds, warmup: ratio float or int steps, kind)
    clock: TrainClock | None = None        # training seconds across resumes
    budget: TimeBudget | None = None

    embedding_lr_scale: float = 1.0

    def create_optimizer(self):
        opt = super().create_optimizer()
        if self.embedding_lr_scale != 1.0 and not any(g.get(EMBEDDING_GROUP) for g in opt.param_groups):
            scale_embedding_lr(opt, self.model.get_input_embeddings().weight, self.embedding_lr_scale)
        return opt

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None and self.budget_schedule:
            from torch.optim.lr_scheduler import LambdaLR

            clock = self.clock.elapsed if self.clock else None
            self.lr_scheduler = LambdaLR(optimizer or self.optimizer,
                                         budget_lr_lambda(num_training_steps, *self.budget_schedule, clock=clock))
            self._created_lr_scheduler = True
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.world_size > 1:
            self.accelerator.wait_for_everyone()      # every rank's shards are on disk
        if self.args.should_save:
            ckpt = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            mark_complete(ckpt, step=self.state.global_step,
                          train_seconds=round(self.clock.elapsed(), 3) if self.clock else None,
                          stopped_by_budget=bool(self.budget and self.budget.stopped),
                          saved_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    def _issue_warnings_after_load(self, load_result) -> None:
        """Keys missing from a checkpoint only because they are tied to a saved one (T5's
        ``encoder/decoder.embed_tokens`` and ``lm_head`` share ``shared.weight``) are not missing:
        re-tie and say nothing; anything else is warned about as the Trainer does."""
        tied = tied_parameter_names(self.model)
        missing = [k for k in load_result.missing_keys if k not in tied]
        if len(missing) != len(load_result.missing_keys) and hasattr(self.model, "tie_weights"):
            self.model.tie_weights()
        super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))

    def _get_train_sampler(self, train_dataset=None):
        ds = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and "length" in getattr(ds, "column_names", []):
            from transformers.trainer_pt_utils import LengthGroupedSampler

            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                        lengths=list(ds["length"]))
        return super()._get_train_sampler(train_dataset)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        sets = eval_dataset if eval_dataset is not None else self.eval_dataset
        if isinstance(sets, dict) and sets and f"{metric_key_prefix}_loss" not in metrics:
            sizes = {name: len(ds) for name, ds in sets.items()}
            per_task = {n: metrics[f"{metric_key_prefix}_{n}_loss"] for n in sizes
                        if f"{metric_key_prefix}_{n}_loss" in metrics}
            total = sum(sizes[n] for n in per_task) or 1
            overall = sum(per_task[n] * sizes[n] for n in per_task) / total
            metrics[f"{metric_key_prefix}_loss"] = overall
            self.log({f"{metric_key_prefix}_loss": overall})
            if self.is_world_process_zero():
                from tqdm.auto import tqdm

                tasks = " ".join(f"{n} {v:.3f}" for n, v in per_task.items())
                tqdm.write(f"[eval] step {self.state.global_step}/{self.state.max_steps}: "
                           f"valid loss {overall:.4f} ({total} examples) | {tasks}")
        return metrics


def tied_parameter_names(model) -> set[str]:
    """Names under which a parameter appears a second (third …) time: tied weights.

    >>> import torch
    >>> m = torch.nn.Module(); m.a = torch.nn.Linear(2, 2); m.b = torch.nn.Linear(2, 2); m.b.weight = m.a.weight
    >>> sorted(tied_parameter_names(m))
    ['b.weight']
    """
    seen, tied = set(), set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            tied.add(name)
        seen.add(id(p))
    return tied


def finished_before(marker: dict, max_steps: int, budget_s: float | None) -> str | None:
    """Why a complete checkpoint needs no more training under the same settings (None: it does):
    its step reached ``max_steps``, or its training clock the time budget.

    >>> finished_before({"step": 20}, 20, None), finished_before({"step": 19}, 20, None)
    ('it reached max_steps (20)', None)
    >>> finished_before({"step": 5, "train_seconds": 61.0}, 20, 60.0)
    'its training time (61 s) reached the time budget (60 s)'
    """
    step = int(marker.get("step") or 0)
    if max_steps and max_steps > 0 and step >= max_steps:
        return f"it reached max_steps ({max_steps})"
    secs = marker.get("train_seconds")
    if budget_s and secs is not None and float(secs) >= budget_s:
        return f"its training time ({float(secs):.0f} s) reached the time budget ({budget_s:.0f} s)"
    return None


EMBEDDING_GROUP = "recalign_embedding"   # marks the group scale_embedding_lr made (never scaled twice)


def scale_embedding_lr(optimizer, weight, scale: float) -> bool:
    """Move ``weight`` into a param group of its own whose learning rate is ``scale`` times the one
    it was in (same weight decay and other options); call before the scheduler is made, whose
    multipliers then apply to every group alike. False when ``weight`` is in no group.

    >>> import torch
    >>> emb, body = torch.nn.Parameter(torch.zeros(3, 2)), torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.AdamW([{"params": [emb, body], "weight_decay": 0.0}], lr=1e-3)
    >>> scale_embedding_lr(opt, emb, 10.0), [(len(g["params"]), g["lr"]) for g in opt.param_groups]
    (True, [(1, 0.001), (1, 0.01)])
    """
    for group in optimizer.param_groups:
        rest = [p for p in group["params"] if p is not weight]
        if len(rest) == len(group["params"]):
            continue
        group["params"] = rest
        optimizer.add_param_group({**{k: v for k, v in group.items() if k != "params"},
                                   "params": [weight], "lr": group["lr"] * scale, EMBEDDING_GROUP: True})
        return True
    return False


def budget_lr_lambda(num_training_steps: int, seconds: float, warmup, kind: str, clock=None):
    """LR multiplier driven by progress = max(time used / budget, step / max_steps).

    ``clock()`` returns the training seconds used so far (``TrainClock.elapsed``: a resumed run
    continues where its checkpoint stood, so there is no second warm-up; default: seconds since
    this call). Warm-up is linear over ``warmup`` (a ratio of progress, or an int number of
    steps), then ``kind`` (cosine | linear | constant_with_warmup) decays over the rest, so a
    run stopped by its time budget ends with a decayed learning rate on any machine.

    >>> f = budget_lr_lambda(1000, 60.0, 0.1, "cosine", clock=iter([0.0, 30.0, 59.0]).__next__)
    >>> round(f(0), 3), round(f(1), 3), round(f(2), 3)   # t=0 s, 30 s (of 60), 59 s
    (0.001, 0.587, 0.001)
    """
    import math

    if clock is None:
        clock = TrainClock()
        clock.start()
        clock = clock.elapsed

    def f(step: int) -> float:
        p = min(1.0, max(clock() / seconds, step / max(1, num_training_steps)))
        if isinstance(warmup, int) and warmup >= 1:
            if step < warmup:
                return max(step, 1) / warmup
            w = 0.0
        else:
            w = float(warmup)
            if p < w:
                return max(p / w, 1e-3)
        q = (p - w) / max(1e-9, 1.0 - w)
        if kind == "linear":
            return max(0.0, 1.0 - q)
        if kind == "constant_with_warmup":
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * q))

    return f


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _bf16(setting) -> bool:
    return resolve_precision(setting).bf16


def _load_finished(trainer: RecalignTrainer, ckpt: Path):
    """The state and weights of a complete checkpoint (the best one's weights with
    ``load_best_model_at_end``), as ``trainer.train`` would leave them, without a step."""
    from transformers.trainer_callback import TrainerState
    from transformers.trainer_utils import TrainOutput

    trainer.state = TrainerState.load_from_json(str(ckpt / "trainer_state.json"))
    trainer._load_from_checkpoint(str(ckpt))
    best = trainer.state.best_model_checkpoint
    if trainer.args.load_best_model_at_end and best and Path(best).is_dir():
        trainer._load_best_model()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return TrainOutput(trainer.state.global_step, losses[-1] if losses else None,
                       {"train_runtime": 0.0, "train_loss": losses[-1] if losses else None})


def _wandb_env(run: Path, project: str) -> None:
    os.environ["WANDB_DIR"] = str(run.resolve())       # this run's files under RUN/wandb
    os.environ.setdefault("WANDB_PROJECT", project)
    offline_unless_reachable()                      # never waits for a network
    (run / "wandb").mkdir(parents=True, exist_ok=True)


def training_arguments(cfg: TrainConfig, run: Path, has_eval: bool, **extra):
    """``Seq2SeqTrainingArguments``: ``cfg.trainer`` unchanged, plus what recalign decides
    (output directory, seed, precision, DeepSpeed, integrations, evaluation only with valid data)."""
    from transformers import Seq2SeqTrainingArguments

    kw = dict(cfg.trainer)
    precision = extra.pop("precision", None) or resolve_precision(cfg.bf16)
    kw.setdefault("eval_strategy", "steps")
    if not has_eval:
        kw.update(eval_strategy="no", load_best_model_at_end=False)
    kw.update(output_dir=str(RunDir(run).checkpoints), seed=cfg.seed, bf16=precision.bf16,
              deepspeed=resolve_deepspeed(cfg.deepspeed), report_to=cfg.report_to or "none",
              run_name=run.resolve().name, remove_unused_columns=False)
    kw.setdefault("dataloader_pin_memory", _cuda())
    if kw["bf16"] and not _cuda():
        kw.setdefault("use_cpu", True)        # bf16 autocast on the CPU (AVX512-BF16 cores)
    kw.setdefault("disable_tqdm", not interactive())
    kw.update(extra)
    try:
        return Seq2SeqTrainingArguments(**kw)
    except (TypeError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise RecalignError(msg[:300] + ("…" if len(msg) > 300 else ""), field="trainer") from None


def _preset_tokenizer(cfg: TrainConfig, run: Path, train_raw):
    """A preset's tokenizer: the run's own (resume), else one trained on the run's text."""
    tok_dir = RunDir(run).tokenizer
    if (tok_dir / "tokenizer_config.json").is_file():      # resume: the same tokenizer
        return load_tokenizer(tok_dir)
    return train_tokenizer(tokenizer_texts(run, train_raw), tok_dir, cfg.vocab_size,
                           model_max_length=max(cfg.max_source_length, cfg.max_target_length))


def _position_items(cfg: TrainConfig, tokenizer, items) -> tuple[int, int] | None:
    """The atomic item tokens' ``[first, end)`` ids when positions are counted over items."""
    if cfg.encoder_positions_over != "items" or not cfg.encoder_positions:
        return None
    if items is None:
        raise RecalignError("train.encoder_positions_over: items needs atomic item ids (generate with "
                            "item_ids: atomic); this run writes items as text", field="encoder_positions_over")
    ids = tokenizer.convert_tokens_to_ids(items.tokens())
    first, end = min(ids), max(ids) + 1
    if end - first != len(ids):
        raise RecalignError(f"the item tokens' ids are not contiguous ({len(ids)} tokens over {first}..{end - 1})",
                            field="encoder_positions_over")
    return first, end


def _curve_callback(cfg: TrainConfig, run: Path, clock: TrainClock, evaluate_fn: EvaluateFn | None):
    c = cfg.curve
    if evaluate_fn is None or not c.users:
        return None
    minutes = c.every_minutes
    if minutes is None and c.every_steps is None and cfg.time_budget_minutes:
        minutes = cfg.time_budget_minutes / 6     # 100 users ≈ 2-5 s a point on 2 CPU cores: < 5% of a 13-min budget
    steps = c.every_steps or (None if minutes else cfg.trainer.get("eval_steps") or 200)
    return LearningCurve(evaluate_fn, RunDir(run).logs / "curve.jsonl", clock, every_steps=steps,
                         every_seconds=minutes * 60.0 if minutes else None)


def train(cfg: TrainConfig, run_dir: str | Path, callbacks=(), evaluate_fn: EvaluateFn | None = None) -> Path:
    """Fine-tune ``cfg.model`` on the tasks ``RUN/text/manifest.json`` lists; returns ``RUN/model``.

    Resumes from the newest complete ``RUN/checkpoints/checkpoint-N`` when there is one (its
    training clock too). With ``evaluate_fn(model, tokenizer) -> dict`` (e.g.
    ``recalign.eval.curves.curve_evaluator``) it records the learning curve (``cfg.curve``).
    """
    from transformers import set_seed

    check_model_name(cfg.model)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if cfg.deepspeed:
        set_env = single_process_env()
        if set_env:
            log.info("DeepSpeed without a launcher: single process (%s)", ", ".join(set_env))
    if "wandb" in cfg.report_to:
        _wandb_env(run, cfg.wandb_project)

    # a checkpoint's tokenizer loads (or fails: an unreachable hub name) before DeepSpeed compiles anything
    tokenizer = None if is_preset(cfg.model) else load_tokenizer(cfg.model)
    t = cfg.trainer
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    consumable = consumable_examples(t["max_steps"], t["per_device_train_batch_size"],
                                     t["gradient_accumulation_steps"], world)
    train_raw = load_mixture(cfg.mixture, run, cfg.seed, max_examples=consumable)
    eval_raw = load_eval_sets(cfg.mixture, run, cfg.eval_max_examples, cfg.seed)
    precision = resolve_precision(cfg.bf16)
    args = training_arguments(cfg, run, has_eval=bool(eval_raw), precision=precision)
    if args.process_index == 0:
        if precision.warning:
            log.warning(precision.warning)
        print(f"[train] precision: {precision.reason}", flush=True)
    with args.main_process_first(desc="tokenizer"):
        if args.process_index == 0:
            save_config(cfg, run / "train_config.yaml")
        tokenizer = tokenizer or _preset_tokenizer(cfg, run, train_raw)
    items = add_item_tokens(tokenizer, run)  # atomic item ids: one added token per item (or None)
    train_ds = text_for_training(train_raw)  # tokenized batch by batch by the collator
    eval_ds = {t: tokenize(d, tokenizer, cfg.max_source_length, cfg.max_target_length) for t, d in eval_raw.items()}

    with args.main_process_first(desc="checkpoints"):
        last = latest_complete(RunDir(run).checkpoints)      # rank 0 sets incomplete ones aside first
    clock = TrainClock((read_marker(last).get("train_seconds") or 0.0) if last else 0.0)

    set_seed(cfg.seed)
    model = build_model(cfg.model, tokenizer, dropout=cfg.dropout, encoder_positions=cfg.encoder_positions,
                        position_items=_position_items(cfg, tokenizer, items))
    if items is not None and not is_preset(cfg.model):
        init_item_rows(model, tokenizer, items)  # new rows = mean of the item's title-token rows
    budget = TimeBudget(cfg.time_budget_minutes, clock)
    cbs = [budget, JsonlLogger(RunDir(run).logs / "train.jsonl", clock)]
    curve = _curve_callback(cfg, run, clock, evaluate_fn)
    if curve is not None and args.world_size > 1 and zero_stage(cfg.deepspeed) == 3:
        log.warning("no learning curve under ZeRO-3 with %d processes: rank 0 alone cannot decode "
                    "with sharded weights", args.world_size)
        curve = None
    if curve is not None:
        cbs.append(curve)
    if "wandb" in cfg.report_to:
        cbs.append(WandbConfig(dataclasses.asdict(cfg)))
    collator = Seq2SeqCollator(tokenizer, model, max_lengths=(cfg.max_source_length, cfg.max_target_length))
    trainer = RecalignTrainer(model=model, args=args, data_collator=collator,
                              train_dataset=train_ds, eval_dataset=eval_ds or None, processing_class=tokenizer,
                              callbacks=[*cbs, *callbacks])
    trainer.clock, trainer.budget = clock, budget
    trainer.embedding_lr_scale = float(cfg.embedding_lr_scale)
    if cfg.time_budget_minutes and not args.disable_tqdm:
        from transformers.trainer_callback import ProgressCallback

        trainer.remove_callback(ProgressCallback)          # a step bar to max_steps would mislead
        trainer.add_callback(BudgetProgress(cfg.time_budget_minutes * 60.0, clock.elapsed))
    if args.disable_tqdm and not interactive():            # a log file: a plain line every 30 s
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(CoarseProgress(30.0, clock.elapsed))
    if cfg.time_budget_minutes and cfg.schedule_by_time:
        trainer.budget_schedule = (cfg.time_budget_minutes * 60.0, cfg.warmup(), cfg.trainer["lr_scheduler_type"])
    done_why = finished_before(read_marker(last), args.max_steps,
                               cfg.time_budget_minutes * 60.0 if cfg.time_budget_minutes else None) if last else None
    if done_why and not cfg.deepspeed:
        # resuming would train one step past the configured run: take the checkpoint as it is
        log.info("%s is complete (%s): no step trained", last.name, done_why)
        result = _load_finished(trainer, last)
        budget.stopped = bool(read_marker(last).get("stopped_by_budget"))
    else:
        if last:
            log.info("resuming from %s (%.1f s of training so far)", last, clock.before)
        result = trainer.train(resume_from_checkpoint=str(last) if last else None)

    tmp = run / ".model.tmp"
    if trainer.is_world_process_zero():
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))             # every rank: ZeRO-3 gathers the weights
    out = RunDir(run).model
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(tmp))
        st = trainer.state
        write_json(tmp / "recalign_train.json", {
            "model": cfg.model, "preset": is_preset(cfg.model), "config": dataclasses.asdict(cfg),
            "global_step": st.global_step, "max_steps": st.max_steps,
            "completed": st.global_step >= st.max_steps, "stopped_by_budget": budget.stopped,
            "resumed_from": last.name if last else None,
            "best_metric": st.best_metric, "metric_for_best_model": args.metric_for_best_model,
            "best_model_checkpoint": Path(st.best_model_checkpoint).name if st.best_model_checkpoint else None,
            "saved_weights": "best" if args.load_best_model_at_end and st.best_model_checkpoint else "last",
            "train_examples": len(train_ds), "eval_examples": {t: len(d) for t, d in eval_ds.items()},
            # inputs at max_source_length tokens may have been cut: 0 when generate fitted them (tasks/fit.py);
            # counted over the examples this leg's batches tokenized
            "sources_at_max_length": collator.truncated_sources,
            "examples_tokenized": collator.tokenized_examples,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "precision": "bf16" if args.bf16 else "fp32", "precision_reason": precision.reason,
            "cpu": precision.cpu, "deepspeed": cfg.deepspeed,
            # training seconds over every leg (a resumed run continues its checkpoint's clock);
            # learning-curve evaluation is not counted
            "train_runtime_s": round(clock.elapsed(), 3),
            "train_runtime_this_leg_s": result.metrics.get("train_runtime"),
            "curve_eval_s": round(curve.eval_seconds, 3) if curve is not None else None,
            "train_loss": result.metrics.get("train_loss"),
            "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        })
        replace_dir(tmp, out)
    if "wandb" in cfg.report_to:
        finish_wandb()                       # the offline run is complete on disk when we return
    return out

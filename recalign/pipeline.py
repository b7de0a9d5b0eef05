"""``recalign run``: the main job, end to end, resumable stage by stage.

prepare → generate → train → evaluate (seen and unseen templates) → baselines → compare.

Each stage skips work already done in the run directory (its completion marker is
written last, atomically), prints where its outputs are, and records its wall time
in ``RUN/timings.json``. ``ablation: true`` also trains the recommendation tasks
alone (``RUN/ablation/rec-only``) under the same budget and evaluates it into
``RUN/results/<name>-rec-only``, so the table shows both side by side.

>>> from recalign.pipeline import load_run_config, run
>>> cfg = load_run_config("configs/ml100k-cpu.yaml", overrides=["train.max_steps=50"])  # doctest: +SKIP
>>> run(cfg)                                                                            # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .atomic import write_json
from .config import from_dict, read_yaml, save_config
from .errors import RecalignError

REC_TASKS = ("retrieval", "ranking", "rating")
AUX_TASKS = ("mim", "mlm", "bpr")


def _h(text: str, **kw):
    return field(metadata={"help": text}, **kw)


@dataclass
class DataConfig:
    dataset: str = _h("ml-100k (embedded) or a directory of RecBole atomic files.", default="ml-100k")
    user_k: int = _h("k-core: min interactions per user (0 = off).", default=0)
    item_k: int = _h("k-core: min interactions per item (0 = off).", default=0)
    min_interactions: int = _h("Users with fewer interactions are dropped (>= 3).", default=3)


@dataclass
class EvaluateConfig:
    split: str = _h("test or valid.", default="test")
    tasks: list = _h("Tasks to evaluate.", default_factory=lambda: list(REC_TASKS))
    templates: list = _h("Template sets: seen and/or unseen.", default_factory=lambda: ["seen", "unseen"])
    beam: int = _h("Beam size of trie-constrained retrieval.", default=20)
    length_penalty: float = _h("0.0 ranks titles by their true probability.", default=0.0)
    batch_size: int = _h("Users per batch.", default=32)
    max_users: Optional[int] = _h("Evaluate the first N users only (None = all).", default=None)
    name: str = _h("Result name of the fine-tuned model.", default="recalign-t5")


@dataclass
class BaselinesConfig:
    models: list = _h("RecBole baselines to run.", default_factory=lambda: ["SASRec", "BPR", "Pop"])
    overrides: dict = _h("Per model: RecBole config overrides, e.g. {SASRec: {epochs: 30}}.", default_factory=dict)
    time_budget_s: Optional[float] = _h("Per model wall-time cap (None = until early stopping).", default=None)
    rating_baseline: bool = _h("Fit the user/item-bias rating baseline.", default=True)


@dataclass
class RunConfig:
    run_dir: str = _h("Where everything this run makes is written.", default="runs/ml100k-cpu")
    data: DataConfig = _h("Dataset and filtering.", default_factory=DataConfig)
    generate: dict = _h("recalign.generators.GenerateConfig fields + tasks.", default_factory=dict)
    train: dict = _h("recalign.t5_finetune.TrainConfig fields.", default_factory=dict)
    evaluate: EvaluateConfig = _h("Seq2seq evaluation.", default_factory=EvaluateConfig)
    baselines: BaselinesConfig = _h("Classic recommenders on the same split.", default_factory=BaselinesConfig)
    ablation: bool = _h("Also train the recommendation tasks alone, same budget.", default=False)
    report_to: list = _h("wandb to log training and the comparison (offline without an API key).",
                         default_factory=list)

    def __post_init__(self) -> None:
        self.generate = dict(self.generate or {})
        self.train = dict(self.train or {})
        self.generate.setdefault("tasks", list(REC_TASKS + AUX_TASKS))


def load_run_config(path: str | Path | None = None, overrides=(), **kw) -> RunConfig:
    """Read a run YAML (or defaults), apply ``key=value`` overrides, validate every section."""
    data = read_yaml(path) if path else {}
    try:
        cfg = from_dict(RunConfig, data, overrides)
    except RecalignError as e:
        raise RecalignError(e.message, path=path, field=e.field) from None
    for k, v in kw.items():
        if v is not None:
            setattr(cfg, k, v)
    generate_config(cfg), train_config(cfg)  # fail early, before any work
    return cfg


def generate_config(cfg: RunConfig):
    from .generators import GenerateConfig

    return from_dict(GenerateConfig, {k: v for k, v in cfg.generate.items() if k != "tasks"},
                     where="generate.")


def train_config(cfg: RunConfig, tasks=None):
    from .t5_finetune import TrainConfig

    d = dict(cfg.train)
    mix = dict(d.get("mixture") or {})
    mix["tasks"] = list(tasks or mix.get("tasks") or cfg.generate["tasks"])
    d["mixture"] = mix
    if cfg.report_to and "report_to" not in cfg.train:
        d["report_to"] = list(cfg.report_to)
    return from_dict(TrainConfig, d, where="train.")


class Stages:
    """Runs named stages once each, timing them into RUN/timings.json."""

    def __init__(self, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        self.run_dir, self.echo = run_dir, echo
        self.path = run_dir / "timings.json"
        self.timings = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def __call__(self, name: str, done: Path, fn: Callable[[], object], where: str | Path) -> None:
        if done.exists():
            self.echo(f"[{name}] already done → {where}")
            return
        self.echo(f"[{name}] running …")
        t0 = time.time()
        fn()
        dt = round(time.time() - t0, 1)
        self.timings[name] = dt
        write_json(self.path, self.timings)
        self.echo(f"[{name}] done in {dt:.0f} s → {where}")


def _link_shared(variant: Path, run_dir: Path) -> None:
    """A variant directory sees the run's data and text through symlinks."""
    variant.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "text"):
        link = variant / sub
        if not link.exists():
            os.symlink(os.path.relpath(run_dir / sub, variant), link)


def run(cfg: RunConfig, echo: Callable[[str], None] = print) -> dict:
    """Run every stage of the main job; returns the comparison (see ``eval.report.compare``)."""
    from .data import format_stats, load_split, prepare, split_stats

    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "run_config.yaml")
    stage = Stages(run_dir, echo)
    d = cfg.data

    stage("prepare", run_dir / "data" / "split.json",
          lambda: prepare(d.dataset, run_dir, d.user_k, d.item_k, d.min_interactions), run_dir / "data")
    split = load_split(run_dir)
    echo(format_stats(split_stats(split)))

    def _generate():
        from .generators import generate

        generate(split, cfg.generate["tasks"], run_dir, generate_config(cfg))

    stage("generate", run_dir / "text" / "manifest.json", _generate, run_dir / "text")

    variants = [("", run_dir, list(cfg.generate["tasks"]))]
    if cfg.ablation:
        rec = [t for t in cfg.generate["tasks"] if t in REC_TASKS]
        if rec == list(cfg.generate["tasks"]):
            raise RecalignError("ablation needs auxiliary tasks (mim, mlm, bpr) in generate.tasks", field="ablation")
        _link_shared(run_dir / "ablation" / "rec-only", run_dir)
        variants.append(("-rec-only", run_dir / "ablation" / "rec-only", rec))

    from .t5_finetune import train

    for suffix, vdir, tasks in variants:
        tcfg = train_config(cfg, tasks)
        stage(f"train{suffix}", vdir / "model" / "recalign_train.json", lambda: train(tcfg, vdir), vdir / "model")

    from .eval.evaluate import evaluate

    e = cfg.evaluate
    for suffix, vdir, _ in variants:
        name = e.name + suffix
        tasks = [t for t in e.tasks if t in cfg.generate["tasks"]]
        stage(f"evaluate{suffix}", run_dir / "results" / name / "metrics.json",
              lambda: evaluate(run_dir, e.split, vdir / "model", tasks=tasks, templates=e.templates,
                               beam=e.beam, length_penalty=e.length_penalty, batch_size=e.batch_size,
                               max_users=e.max_users, name=name),
              run_dir / "results" / name)

    from .baselines import run_baseline

    b = cfg.baselines
    for model in b.models:
        stage(f"baseline-{model}", run_dir / "results" / model / "metrics.json",
              lambda: run_baseline(run_dir, model, overrides=(b.overrides or {}).get(model),
                                   time_budget_s=b.time_budget_s), run_dir / "results" / model)
    if b.rating_baseline:
        from .baselines import run_bias_baseline

        stage("baseline-rating", run_dir / "results" / "UserItemBias" / "metrics.json",
              lambda: run_bias_baseline(run_dir), run_dir / "results" / "UserItemBias")

    from .eval.report import compare

    t0 = time.time()
    out = compare([run_dir], wandb="wandb" in cfg.report_to)
    stage.timings["compare"] = round(time.time() - t0, 1)
    write_json(stage.path, stage.timings)
    echo("")
    echo(out["markdown"])
    echo(f"report: {out['paths']['markdown']}")
    echo(f"plot:   {out['paths']['plot']}")
    echo("stage wall times (s): " + ", ".join(f"{k} {v}" for k, v in stage.timings.items()))
    return out

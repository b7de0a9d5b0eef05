"""``recalign run``: the main job, end to end, resumable stage by stage.

prepare → generate → train → evaluate (seen and unseen templates) → baselines → compare.

The whole run holds the run directory's lock (``RunDir.lock``). A stage is skipped only when
it finished *from the same inputs and settings*: prepare compares ``RUN/data/split.json``'s
recorded source with ``data:``; generate compares the manifest (split fingerprint, settings,
template fingerprints, tasks) with ``generate:``; train, evaluate and the baselines compare
their completion marker (``RUN/stages/<stage>.json``: a fingerprint of the inputs they were
made from — the manifest, the trained model, the data, their section of the config — and of
the output they wrote). When a finished stage was made from anything else, the run refuses
with one line naming what changed (it never reports "already done" on stale data, and it
never deletes work): use a new run directory, or delete that stage's output to redo it.
``run_config.yaml`` is written only once the stages agree, just before the first one works.
Each stage's wall time goes to ``RUN/timings.json``. ``ablation: true`` also trains the
recommendation tasks alone (``RUN/ablation/rec-only``) under the same budget and evaluates it
into ``RUN/results/<name>-rec-only``, so the table shows both side by side; ``ablation: full``
adds rec + each auxiliary task alone, and ``seeds: N`` repeats every arm with N training seeds
(``recalign.variants``; ``baselines.seeds`` likewise for the RecBole baselines).

>>> from recalign.pipeline import load_run_config, run
>>> cfg = load_run_config(None, overrides=["train.max_steps=50"])   # or a YAML: configs/ml100k-cpu.yaml
>>> cfg.train
{'max_steps': 50}

``run(cfg)`` then runs every stage not already done (minutes on a CPU).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .atomic_io import write_json
from .baselines import run_baseline, run_bias_baseline  # light: the runners load on first use
from .baselines import table as baselines_table
from .config import from_dict, read_yaml, save_config, to_dict
from .data import format_stats, split_stats
from .data.fingerprint import split_fingerprint
from .data.readers import dataset_identity, resolve_dataset_dir
from .embed.config import EmbedConfig  # settings only: the embed stack (torch) loads in train-embedder
from .errors import RecalignError, nearest, shown
from .eval.report import compare
from .materialize import generate, templates_fingerprint
from .run_dir import RunDir, changes, fingerprint
from .t5_finetune import TrainConfig  # the package itself is light: torch and transformers load on first use
from .t5_finetune.run_tokenizer import ensure_run_tokenizer, run_source_settings, share_tokenizer
from .tasks.fit import fit_lines
from .tasks import TASKS, GenerateConfig
from .variants import baseline_runs, plan as plan_variants

def _h(text: str, **kw):
    return field(metadata={"help": text}, **kw)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _expect(ok: bool, name: str, expected: str, value) -> None:
    """One line naming the field and what was expected (checked when the config loads, before any work)."""
    if not ok:
        raise RecalignError(f"expected {expected}, got {shown(value)}", field=name)


@dataclass
class DataConfig:
    dataset: str = _h("ml-100k (embedded) or a directory of RecBole atomic files.", default="ml-100k")
    user_k: int = _h("k-core: min interactions per user (0 = off).", default=0)
    item_k: int = _h("k-core: min interactions per item (0 = off).", default=0)
    min_interactions: int = _h("Users with fewer interactions are dropped (>= 3).", default=3)

    def __post_init__(self) -> None:
        _expect(isinstance(self.dataset, str) and bool(self.dataset.strip()), "dataset",
                "a dataset name or directory", self.dataset)
        for k in ("user_k", "item_k"):
            _expect(_int(getattr(self, k)) and getattr(self, k) >= 0, k, "an integer >= 0 (0 = off)", getattr(self, k))
        _expect(_int(self.min_interactions) and self.min_interactions >= 3, "min_interactions",
                "an integer >= 3 (train, valid and test need one each)", self.min_interactions)


@dataclass
class EvaluateConfig:
    """The keyword arguments of ``recalign.eval.evaluate.evaluate`` (besides the run and model)."""

    split: str = _h("test or valid.", default="test")
    tasks: list = _h("Tasks to evaluate (default: every task with an evaluator).",
                     default_factory=lambda: [t.name for t in TASKS.evaluable()])
    templates: list = _h("Template sets: seen and/or unseen.", default_factory=lambda: ["seen", "unseen"])
    beam: int = _h("Beam size of trie-constrained retrieval.", default=20)
    length_penalty: float = _h("0.0 ranks titles by their true probability.", default=0.0)
    max_users: Optional[int] = _h("Evaluate the first N users only (None = all); such rows are marked in the "
                                  "comparison.", default=None)
    batch_size: int = _h("Users per batch.", default=16)
    exact: bool = _h("Also rank every title by log-likelihood (small catalogues).", default=False)
    name: str = _h("Result name of the fine-tuned model.", default="recalign-t5")
    progress: bool = _h("Progress bars.", default=True)

    def __post_init__(self) -> None:
        evaluable = [t.name for t in TASKS.evaluable()]
        _expect(self.split in ("test", "valid"), "split", "test or valid", self.split)
        _expect(isinstance(self.tasks, (list, tuple)) and len(self.tasks) > 0, "tasks",
                f"a non-empty list of tasks ({', '.join(evaluable)})", self.tasks)
        for t in self.tasks:
            if t not in evaluable:
                raise RecalignError(f"unknown task {shown(t)}; evaluable: {', '.join(evaluable)}."
                                    f"{nearest(str(t), evaluable)}", field="tasks")
        _expect(isinstance(self.templates, (list, tuple)) and len(self.templates) > 0
                and all(t in ("seen", "unseen") for t in self.templates), "templates",
                "a non-empty list of seen and/or unseen", self.templates)
        _expect(_int(self.beam) and self.beam >= 1, "beam", "an integer >= 1", self.beam)
        _expect(_num(self.length_penalty), "length_penalty", "a number", self.length_penalty)
        _expect(self.max_users is None or (_int(self.max_users) and self.max_users >= 1), "max_users",
                "an integer >= 1, or null for every user", self.max_users)
        _expect(_int(self.batch_size) and self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        _expect(isinstance(self.name, str) and bool(self.name.strip()) and "/" not in self.name
                and self.name not in (".", ".."), "name", "a result name (a directory name under RUN/results)",
                self.name)


@dataclass
class BaselinesConfig:
    models: list = _h("RecBole baselines to run.", default_factory=lambda: ["SASRec", "BPR", "Pop"])
    overrides: dict = _h("Per model: RecBole config overrides, e.g. {SASRec: {epochs: 30}}. Sequential models read "
                         "generate.history_len items unless MAX_ITEM_LIST_LENGTH is given here.", default_factory=dict)
    time_budget_s: Optional[float] = _h("Per model wall-time cap (None = until early stopping).", default=None)
    rating_baseline: bool = _h("Fit the user/item-bias rating baseline.", default=True)
    seeds: int = _h("Run each RecBole baseline with N seeds (results <Model>-seed<i>; 1 = once).", default=1)

    def __post_init__(self) -> None:
        known = list(baselines_table.MODELS)
        _expect(isinstance(self.models, (list, tuple)), "models", f"a list of baselines ({', '.join(known)})",
                self.models)
        for m in self.models:
            if m not in known:
                raise RecalignError(f"unknown baseline {shown(m)}; choose from {', '.join(known)}."
                                    f"{nearest(str(m), known)}", field="models")
        _expect(isinstance(self.overrides, dict), "overrides", "a mapping {Model: {key: value}}", self.overrides)
        for m, hp in (self.overrides or {}).items():
            _expect(hp is None or isinstance(hp, dict), f"overrides.{m}", "a mapping of RecBole settings", hp)
        _expect(self.time_budget_s is None or (_num(self.time_budget_s) and self.time_budget_s > 0), "time_budget_s",
                "a number of seconds > 0, or null", self.time_budget_s)
        _expect(_int(self.seeds) and self.seeds >= 1, "seeds", "an integer >= 1", self.seeds)


@dataclass
class GenerateSection(GenerateConfig):
    """``generate:``: the GenerateConfig of every task, and which tasks to generate."""

    tasks: list = _h("Tasks to generate (default: every registered task).", default_factory=lambda: TASKS.names())
    templates_dirs: list = _h("Extra template directories (as `recalign generate --templates`): add or "
                              "override templates by id; relative paths are read from the working directory.",
                              default_factory=list)


@dataclass
class RunConfig:
    run_dir: str = _h("Where everything this run makes is written.", default="runs/ml100k-cpu")
    data: DataConfig = _h("Dataset and filtering.", default_factory=DataConfig)
    generate: GenerateSection = _h("recalign.tasks.GenerateConfig fields + tasks.", default_factory=GenerateSection)
    train: dict = _h("recalign.t5_finetune.TrainConfig fields (checked when loaded; mixture.tasks defaults to "
                     "generate.tasks, report_to to the top-level report_to).", default_factory=dict)
    evaluate: EvaluateConfig = _h("Seq2seq evaluation.", default_factory=EvaluateConfig)
    baselines: BaselinesConfig = _h("Classic recommenders on the same split.", default_factory=BaselinesConfig)
    ablation: Any = _h("Also train, same budget: true = rec-only; full = rec-only, rec+mim, rec+mlm, rec+bpr; "
                       "or a list of those arms.", default=False)
    seeds: int = _h("Train and evaluate every seq2seq arm with N seeds (train.seed + i; results <name>-seed<i>).",
                    default=1)
    report_to: list = _h("wandb to log training and the comparison (offline without an API key).",
                         default_factory=list)
    embed: dict = _h("recalign.embed.EmbedConfig fields (checked when loaded), read by `recalign train-embedder "
                     "--config` from this same file; `recalign run` itself trains no embedder.", default_factory=dict)

    def __post_init__(self) -> None:
        _expect(isinstance(self.run_dir, str) and bool(self.run_dir.strip()), "run_dir", "a directory path",
                self.run_dir)
        _expect(self.train is None or isinstance(self.train, dict), "train", "a mapping of TrainConfig keys",
                self.train)
        _expect(self.embed is None or isinstance(self.embed, dict), "embed", "a mapping of EmbedConfig keys",
                self.embed)
        self.train = dict(self.train or {})
        self.embed = dict(self.embed or {})


def load_run_config(path: str | Path | None = None, overrides=(), *, run_dir: str | None = None,
                    ablation: Any = None, report_to: list | None = None, seeds: int | None = None,
                    baseline_seeds: int | None = None) -> RunConfig:
    """Read a run YAML (or defaults), apply ``key=value`` overrides, validate every section.

    ``report_to`` (the CLI's ``--report-to``) sets every wandb use at once: the comparison and
    the train section's ``report_to`` (``[]`` turns all of them off).
    """
    data = read_yaml(path) if path else {}
    try:
        cfg = from_dict(RunConfig, data, overrides)
    except RecalignError as e:
        raise RecalignError(e.message, path=path, field=e.field) from None
    if run_dir is not None:
        _expect(bool(str(run_dir).strip()), "run_dir", "a directory path", run_dir)
        cfg.run_dir = str(run_dir)
    if ablation is not None:
        cfg.ablation = ablation
    if seeds is not None:
        cfg.seeds = seeds
    if baseline_seeds is not None:
        cfg.baselines.seeds = baseline_seeds
    if report_to is not None:
        cfg.report_to = list(report_to)
        cfg.train["report_to"] = list(report_to)
    generate_config(cfg), train_config(cfg)  # fail early, before any work
    if not [t for t in cfg.evaluate.tasks if t in cfg.generate.tasks]:
        raise RecalignError(f"none of {', '.join(cfg.evaluate.tasks)} is in generate.tasks "
                            f"({', '.join(cfg.generate.tasks)}): nothing would be evaluated", path=path,
                            field="evaluate.tasks")
    try:
        embed_config(cfg)
    except RecalignError as e:
        raise RecalignError(e.message, path=path, field=e.field) from None
    plan_variants(cfg.generate.tasks, cfg.ablation, cfg.seeds), baseline_runs("", None, cfg.baselines.seeds)
    return cfg


def templates_dirs(cfg: RunConfig) -> list[str]:
    """``generate.templates_dirs``, each checked to be a directory (relative to the working directory)."""
    dirs = [str(d) for d in cfg.generate.templates_dirs or []]
    for d in dirs:
        if not Path(d).is_dir():
            raise RecalignError(f"{d!r} is not a directory of templates (relative paths are read from "
                                f"{Path.cwd()})", field="generate.templates_dirs")
    return dirs


def generate_config(cfg: RunConfig) -> GenerateConfig:
    """``generate:`` with the run's one source budget (``train.max_source_length``, counted by the
    tokenizer training uses: ``t5_finetune.run_tokenizer``)."""
    g = GenerateConfig(**{f.name: getattr(cfg.generate, f.name) for f in dataclasses.fields(GenerateConfig)})
    return run_source_settings(g, train_config(cfg))


def embed_config(cfg: RunConfig) -> EmbedConfig:
    """The ``embed:`` section as ``train-embedder`` reads it (one YAML serves both commands)."""
    return from_dict(EmbedConfig, cfg.embed, where="embed.")


def embed_config_from(data: dict, overrides=()) -> EmbedConfig:
    """``train-embedder --config``'s settings: a run config's ``embed:`` section (defaults when a
    run config has none), else the file is a bare ``EmbedConfig`` mapping; overrides
    (``key=value``) are relative to the section."""
    run_keys = {f.name for f in dataclasses.fields(RunConfig)}
    if "embed" in data or set(data) & run_keys:
        return from_dict(EmbedConfig, data.get("embed") or {}, overrides, where="embed.")
    return from_dict(EmbedConfig, data, overrides)


def train_config(cfg: RunConfig, tasks=None, seed_offset: int = 0):
    d = dict(cfg.train)
    mix = dict(d.get("mixture") or {})
    mix["tasks"] = list(tasks or mix.get("tasks") or cfg.generate.tasks)
    d["mixture"] = mix
    if "report_to" not in cfg.train:
        d["report_to"] = list(cfg.report_to)
    tcfg = from_dict(TrainConfig, d, where="train.")
    return dataclasses.replace(tcfg, seed=tcfg.seed + seed_offset) if seed_offset else tcfg


class Stages:
    """Runs named stages once each (see the module docstring), timing them into RUN/timings.json.

    ``run_config`` is written by the first stage that does any work (after every earlier
    stage agreed with the config), so a refused run leaves the recorded config alone.
    """

    def __init__(self, run: RunDir, cfg: RunConfig, echo: Callable[[str], None] = print) -> None:
        self.run, self.cfg, self.echo = run, cfg, echo
        self.timings = json.loads(run.timings.read_text()) if run.timings.is_file() else {}
        self.config_saved = False

    def save_config(self) -> None:
        if not self.config_saved:
            save_config(self.cfg, self.run.run_config)
            self.config_saved = True

    def refuse(self, name: str, output: Path, why: str, also: Path | None = None) -> RecalignError:
        """``also``: unfinished work (training's checkpoints) to delete with ``output``, named in the same line."""
        gone = f"{output} and {also}" if also is not None else f"{output}"
        return RecalignError(f"[{name}] {output} was {why}: use a new --run-dir, or delete {gone} to redo "
                             "this stage", path=self.run.root)

    def __call__(self, name: str, output: Path, fn: Callable[[], object], where: Path,
                 inputs: dict | None = None, recorded: dict | None = None, resumes: Path | None = None) -> None:
        """Run ``fn`` unless ``output`` exists and was made from ``inputs``.

        ``recorded``: what the output itself records about its inputs (compared with ``inputs``
        directly); otherwise the stage marker's fingerprint is compared and rewritten after ``fn``.
        ``resumes``: where ``fn`` picks up unfinished work (training's checkpoints); an unfinished
        attempt from other inputs is refused rather than resumed.
        """
        if output.exists():
            if recorded is not None:
                why = "done" if recorded == inputs else "made from other inputs (" + changes(recorded, inputs) + ")"
            else:
                why = self.run.stage_state(name, inputs or {}, output)
            if why != "done":
                started = self.run.stage_marker(f"{name}.started")
                stale = resumes is not None and resumes.exists() and self.run.stage_state(
                    f"{name}.started", inputs or {}, started, check_output=False) != "done"
                raise self.refuse(name, output, why, resumes if stale else None)   # both in one line
            self.echo(f"[{name}] already done → {where}")
            return
        if resumes is not None and resumes.exists():
            why = self.run.stage_state(f"{name}.started", inputs or {}, self.run.stage_marker(f"{name}.started"),
                                       check_output=False)
            if why != "done":
                raise self.refuse(name, resumes, why.replace("made", "started", 1))
        elif resumes is not None:
            self.run.mark_done(f"{name}.started", inputs or {}, resumes)
        self.save_config()
        self.echo(f"[{name}] running …")
        t0 = time.time()
        fn()
        dt = round(time.time() - t0, 1)
        if recorded is None:
            self.run.mark_done(name, inputs or {}, output)
        self.timings[name] = dt
        write_json(self.run.timings, self.timings)
        self.echo(f"[{name}] done in {dt:.0f} s → {where}")


def prepare_inputs(d: DataConfig) -> dict:
    """What ``RUN/data/split.json`` must record (``source``) for the prepared data to be this config's."""
    _, path = resolve_dataset_dir(d.dataset)
    return {"path": dataset_identity(path), "user_k": d.user_k, "item_k": d.item_k,
            "min_interactions": d.min_interactions}


def recorded_source(run: RunDir) -> dict:
    src = json.loads(run.split_meta.read_text()).get("source") or {}
    out = {k: src.get(k) for k in ("path", "user_k", "item_k", "min_interactions")}
    if out["path"] is not None:
        out["path"] = dataset_identity(out["path"])  # the embedded data is the same from any environment
    return out


def generate_inputs(split_fp: str, gcfg: GenerateConfig, tasks: list[str], templates_dirs: list | None = None) -> dict:
    return {"split_fingerprint": split_fp, "settings": _settings(dataclasses.asdict(gcfg)), "tasks": sorted(tasks),
            "templates_fingerprint": templates_fingerprint(tasks, templates_dirs or [])}


def _settings(settings: dict) -> dict:
    """Generation settings that change the examples (progress bars do not)."""
    return {k: v for k, v in settings.items() if k != "progress"}


def recorded_generate(run: RunDir, tasks: list[str]) -> dict:
    m = run.generated_text()
    listed = [t for t in tasks if m.lists(t)]
    return {"split_fingerprint": m.split_fingerprint, "settings": _settings(m.settings or {}),
            "tasks": sorted(listed),
            "templates_fingerprint": {t: (m.templates_fingerprint or {}).get(t) for t in tasks}}


def train_inputs(run: RunDir, tcfg: TrainConfig) -> dict:
    """What a trained model is made from: the generated text (its manifest) and the training settings
    (where the logs go and how the work is spread — ``report_to``, ``deepspeed`` — do not count).
    ``recalign train`` given a run config records the same, so ``run`` takes its model as done."""
    settings = {k: v for k, v in to_dict(tcfg).items() if k not in ("report_to", "deepspeed")}
    return {"manifest": file_fingerprint(run.manifest_path), "train": settings}


def same_window(model: str, overrides: dict | None, history_len: int) -> dict | None:
    """A sequential baseline reads as many history items as the seq2seq model
    (``generate.history_len``) unless its overrides set ``MAX_ITEM_LIST_LENGTH``.

    >>> same_window("SASRec", {"epochs": 5}, 10), same_window("BPR", None, 10)
    ({'epochs': 5, 'MAX_ITEM_LIST_LENGTH': 10}, None)
    >>> same_window("SASRec", {"MAX_ITEM_LIST_LENGTH": 50}, 10)
    {'MAX_ITEM_LIST_LENGTH': 50}
    """
    if model not in baselines_table.SEQUENTIAL or "MAX_ITEM_LIST_LENGTH" in (overrides or {}):
        return overrides
    return {**(overrides or {}), "MAX_ITEM_LIST_LENGTH": int(history_len)}


def file_fingerprint(path: Path) -> str:
    return fingerprint(path.read_text(encoding="utf-8")) if path.is_file() else "<missing>"


def run(cfg: RunConfig, echo: Callable[[str], None] = print) -> dict:
    """Run every stage of the main job under the run directory's lock; returns the comparison
    (see ``eval.report.compare``)."""
    run_dir = RunDir(cfg.run_dir)
    with run_dir.lock("run"):
        return _run(cfg, run_dir, echo)


def _run(cfg: RunConfig, run_dir: RunDir, echo: Callable[[str], None]) -> dict:

    stage = Stages(run_dir, cfg, echo)
    dirs = templates_dirs(cfg)
    d = cfg.data
    want = prepare_inputs(d)
    stage("prepare", run_dir.split_meta,
          lambda: run_dir.ensure_split(d.dataset, d.user_k, d.item_k, d.min_interactions), run_dir.data,
          inputs=want, recorded=recorded_source(run_dir) if run_dir.has_split() else None)
    split = run_dir.split()
    echo(format_stats(split_stats(split)))

    tasks = list(cfg.generate.tasks)
    gcfg = generate_config(cfg)
    gen_in = generate_inputs(split_fingerprint(split), gcfg, tasks, dirs)
    def _generate() -> None:   # a preset's tokenizer first: it counts the source budget (run_tokenizer)
        ensure_run_tokenizer(run_dir.root, split, tasks, gcfg, train_config(cfg), dirs)
        generate(split, tasks, run_dir, gcfg, dirs)

    stage("generate", run_dir.manifest_path, _generate, run_dir.text,
          inputs=gen_in, recorded=recorded_generate(run_dir, tasks) if run_dir.has_manifest() else {})
    for line in fit_lines(run_dir.generated_text().fit):
        echo(line)

    variants = [(v.suffix, run_dir.variant(v.subdir) if v.subdir else run_dir, v.tasks, v.seed_offset)
                for v in plan_variants(tasks, cfg.ablation, cfg.seeds)]   # ablation arms x seeds

    from .eval.curves import curve_evaluator  # lazy: torch
    from .t5_finetune import train  # lazy: transformers

    manifest_fp = file_fingerprint(run_dir.manifest_path)
    for suffix, vdir, vtasks, seed_offset in variants:
        tcfg = train_config(cfg, vtasks, seed_offset)
        curve = tcfg.curve                    # learning curve: RUN/logs/curve.jsonl
        stage(f"train{suffix}", vdir.train_info,
              lambda: (share_tokenizer(run_dir.root, vdir.root),   # the tokenizer its inputs were fitted with
                       train(tcfg, vdir.root, evaluate_fn=curve_evaluator(vdir.root, curve.users, curve.seed,
                                                                          curve.beam))), vdir.model,
              inputs=train_inputs(run_dir, tcfg), resumes=vdir.checkpoints)

    from .eval.evaluate import evaluate  # lazy: torch

    e = cfg.evaluate
    for suffix, vdir, _, _ in variants:
        name = e.name + suffix
        kw = {**dataclasses.asdict(e), "name": name, "tasks": [t for t in e.tasks if t in tasks]}
        stage(f"evaluate{suffix}", run_dir.metrics(name),
              lambda: evaluate(run_dir.root, model_dir=vdir.model, **kw), run_dir.result(name),
              inputs={"manifest": manifest_fp, "model": file_fingerprint(vdir.train_info),
                      "evaluate": {k: v for k, v in kw.items() if k != "progress"}})

    b = cfg.baselines
    data_fp = run_dir.data_fingerprint()
    for model, name, hp in [(m, *r) for m in b.models
                            for r in baseline_runs(m, same_window(m, (b.overrides or {}).get(m), gcfg.history_len),
                                                   b.seeds)]:
        stage(f"baseline-{name}", run_dir.metrics(name),
              lambda: run_baseline(run_dir.root, model, overrides=hp, time_budget_s=b.time_budget_s, name=name),
              run_dir.result(name),
              inputs={"data": data_fp, "manifest": manifest_fp, "overrides": hp, "time_budget_s": b.time_budget_s})
    if b.rating_baseline:
        stage("baseline-rating", run_dir.metrics("UserItemBias"), lambda: run_bias_baseline(run_dir.root),
              run_dir.result("UserItemBias"), inputs={"data": data_fp, "manifest": manifest_fp})

    stage.save_config()
    t0 = time.time()
    out = compare([run_dir.root], wandb="wandb" in cfg.report_to)
    stage.timings["compare"] = round(time.time() - t0, 1)
    write_json(run_dir.timings, stage.timings)
    echo("")
    echo(out["markdown"])
    echo(f"report: {out['paths']['markdown']}")
    echo(f"plot:   {out['paths']['plot']}")
    echo("stage wall times (s): " + ", ".join(f"{k} {v}" for k, v in stage.timings.items()))
    return out

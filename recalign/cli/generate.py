"""`recalign generate`: materialize task text pairs into RUN_DIR/text."""
from __future__ import annotations

import time
from pathlib import Path

import click

from ..config import from_dict, read_yaml
from ..data import check_source
from ..pipeline import load_run_config, train_config
from ..run_dir import RunDir
from ..t5_finetune.run_tokenizer import ensure_run_tokenizer, run_source_settings
from ..errors import RecalignError
from ..tasks import TASKS, GenerateConfig, load_templates
from ..tasks.fit import fit_lines
from ..tasks.items import ID_FORMS, INPUT_FORMS, TARGET_FORMS
from .options import override_option, run_dir_option


@click.command("generate")
@click.option("--dataset", "-d", default="ml-100k", show_default=True,
              help="Embedded name (ml-100k) or a directory of RecBole atomic files (used if RUN_DIR/data is "
                   "missing; if given while RUN_DIR/data exists, it must be the dataset RUN_DIR/data was prepared from).")
@click.option("--tasks", default=None, help=f"Comma-separated task names (default: every registered task: "
                                            f"{','.join(TASKS.names())}).")
@run_dir_option("Run directory: reads RUN/data (prepares it if missing), writes RUN/text.")
@click.option("--templates", "templates_dir", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Extra template directory (repeatable, after a --config's generate.templates_dirs; later ones "
                   "win): adds or overrides templates by id; each override is noted on stderr.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="YAML with GenerateConfig keys (or a `generate:` section). A run config (with a `train:` "
                   "section) also sets the source budget to train.max_source_length and, for a preset, trains "
                   "RUN/tokenizer first, as `recalign run` does.")
@override_option("Override a GenerateConfig key, e.g. -o train_per_user='{ranking: 10}'.")
@click.option("--seed", type=int, default=None, help="Seed (default 0).")
@click.option("--history-len", type=int, default=None, help="Most recent titles shown (default 20).")
@click.option("--num-candidates", type=int, default=None, help="Ranking candidates (default 20).")
@click.option("--item-input", type=click.Choice(INPUT_FORMS), default=None,
              help="How items are written in inputs (default title; tasks/items.py).")
@click.option("--item-target", type=click.Choice(TARGET_FORMS), default=None,
              help="What the model generates for an item (default title).")
@click.option("--item-ids", type=click.Choice(ID_FORMS), default=None,
              help="ID form: atomic (one added token per item) or text ('item_7') (default atomic).")
@click.option("--item-compact", is_flag=True, default=None,
              help="Atomic id inputs: item tokens back to back, one source token per item (tasks/items.py).")
@click.option("--jsonl", is_flag=True, help="Also write RUN_DIR/text/<task>/<split>.jsonl.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def generate_cmd(dataset: str, tasks: str | None, run_dir: str, templates_dir: tuple[str, ...], config_file: str | None,
                 overrides: tuple[str, ...], seed: int | None, history_len: int | None,
                 num_candidates: int | None, item_input: str | None, item_target: str | None,
                 item_ids: str | None, item_compact: bool | None, jsonl: bool, no_progress: bool) -> None:
    """Build every task's examples, render them with the templates, write Arrow datasets."""
    from ..materialize import generate  # lazy: datasets/pyarrow are heavy for `recalign --help`

    raw = read_yaml(config_file) if config_file else {}
    data = dict(raw.get("generate", raw))
    section_tasks = data.pop("tasks", None)   # a run config's generate.tasks: the default task list
    section_dirs = [str(d) for d in data.pop("templates_dirs", None) or []]   # generate.templates_dirs
    for d in section_dirs:
        if not Path(d).is_dir():
            raise RecalignError(f"{d!r} is not a directory of templates (relative paths are read from "
                                f"{Path.cwd()})", path=config_file, field="generate.templates_dirs")
    templates_dir = (*section_dirs, *templates_dir)     # --templates after the config's: they win
    for k, v in (("seed", seed), ("history_len", history_len), ("num_candidates", num_candidates),
                 ("item_input", item_input), ("item_target", item_target), ("item_ids", item_ids),
                 ("item_compact", item_compact)):
        if v is not None:
            data[k] = v
    if no_progress:
        data["progress"] = False
    cfg = from_dict(GenerateConfig, data, overrides=list(overrides))
    tcfg = None
    if isinstance(raw.get("train"), dict):      # a run config: its one source budget, as `recalign run` does
        tcfg = train_config(load_run_config(config_file))
        cfg = run_source_settings(cfg, tcfg)
    t0 = time.perf_counter()
    run = RunDir(run_dir)
    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks is not None else \
        list(section_tasks or TASKS.names())
    notices: list[str] = []
    for n in names:
        TASKS.get(n)   # an unknown task fails here, before any data is prepared
        load_templates(n, templates_dir, notices=notices)
    for line in notices:
        click.echo(f"note: {line}", err=True)
    with run.lock("generate"):
        ctx = click.get_current_context()
        explicit = ctx.get_parameter_source("dataset") is not click.core.ParameterSource.DEFAULT
        if tcfg is not None and not explicit:          # a run config names its dataset
            dataset = str((raw.get("data") or {}).get("dataset", dataset))
        if run.has_split() and explicit:
            check_source(run_dir, dataset)  # an explicit -d must match what RUN/data holds
        split = run.ensure_split(dataset, echo=lambda m: click.echo(m, err=True))
        if tcfg is not None:              # a preset's tokenizer is trained first: it counts the budget
            ensure_run_tokenizer(run.root, split, names, cfg, tcfg, list(templates_dir))
        manifest = generate(split, names, run, cfg, list(templates_dir), jsonl=jsonl)
    dt = time.perf_counter() - t0
    splits = list(manifest.splits or ())
    click.echo(f"{'task':<10}" + "".join(f"{s:>14}" for s in splits))
    done = list(dict.fromkeys(names))
    for t in done:
        c = manifest.counts[t]
        click.echo(f"{t:<10}" + "".join(f"{c[s]:>14,}" for s in splits))
    total = sum(sum(manifest.counts[t].values()) for t in done)
    kept = [t for t in manifest.tasks if t not in done]
    if kept:
        click.echo(f"kept (same data, still in the manifest): {', '.join(kept)}")
    click.echo(f"wrote {total:,} examples to {run_dir}/text in {dt:.1f} s")
    for line in fit_lines(manifest.fit):     # inputs fitted to the source budget (tasks/fit.py)
        click.echo(line)


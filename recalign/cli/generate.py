"""`recalign generate`: materialize task text pairs into RUN_DIR/text."""
from __future__ import annotations

import time
from pathlib import Path

import click

ALL_TASKS = "retrieval,ranking,rating,mim,mlm,bpr"


@click.command("generate")
@click.option("--dataset", "-d", default="ml-100k", show_default=True,
              help="Embedded name (ml-100k) or a directory of RecBole atomic files (used if RUN_DIR/data is "
                   "missing; if given while RUN_DIR/data exists, it must be the dataset RUN_DIR/data was prepared from).")
@click.option("--tasks", default=ALL_TASKS, show_default=True, help="Comma-separated task names.")
@click.option("--out", "--run-dir", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory: reads RUN_DIR/data (prepares it if missing), writes RUN_DIR/text.")
@click.option("--templates", "templates_dir", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Extra template directory (repeatable): adds or overrides templates by id.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="YAML with GenerateConfig keys (or a `generate:` section).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a GenerateConfig key, e.g. --set train_per_user='{ranking: 10}'.")
@click.option("--seed", type=int, default=None, help="Seed (default 0).")
@click.option("--history-len", type=int, default=None, help="Most recent titles shown (default 20).")
@click.option("--num-candidates", type=int, default=None, help="Ranking candidates (default 20).")
@click.option("--jsonl", is_flag=True, help="Also write RUN_DIR/text/<task>/<split>.jsonl.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def generate_cmd(dataset: str, tasks: str, run_dir: str, templates_dir: tuple[str, ...], config_file: str | None,
                 overrides: tuple[str, ...], seed: int | None, history_len: int | None,
                 num_candidates: int | None, jsonl: bool, no_progress: bool) -> None:
    """Build every task's examples, render them with the templates, write Arrow datasets."""
    from ..config import from_dict, read_yaml
    from ..data import check_source, load_split, prepare
    from ..generators import GenerateConfig, generate

    data = read_yaml(config_file) if config_file else {}
    data = dict(data.get("generate", data))
    for k, v in (("seed", seed), ("history_len", history_len), ("num_candidates", num_candidates)):
        if v is not None:
            data[k] = v
    if no_progress:
        data["progress"] = False
    cfg = from_dict(GenerateConfig, data, overrides=list(overrides))
    t0 = time.perf_counter()
    if (Path(run_dir) / "data" / "split.json").is_file():
        ctx = click.get_current_context()
        if ctx.get_parameter_source("dataset") is not click.core.ParameterSource.DEFAULT:
            check_source(run_dir, dataset)  # an explicit -d must match what RUN/data holds
        split = load_split(run_dir)
    else:
        click.echo(f"preparing {dataset} into {run_dir}/data", err=True)
        split = prepare(dataset, run_dir)
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    manifest = generate(split, names, run_dir, cfg, list(templates_dir), jsonl=jsonl)
    dt = time.perf_counter() - t0
    for t in manifest.get("removed_stale", []):
        click.echo(f"note: removed {run_dir}/text/{t}: not generated from the current {run_dir}/data", err=True)
    splits = manifest["splits"]
    click.echo(f"{'task':<10}" + "".join(f"{s:>14}" for s in splits))
    done = list(dict.fromkeys(names))
    for t in done:
        c = manifest["counts"][t]
        click.echo(f"{t:<10}" + "".join(f"{c[s]:>14,}" for s in splits))
    total = sum(sum(manifest["counts"][t].values()) for t in done)
    kept = [t for t in manifest["tasks"] if t not in done]
    if kept:
        click.echo(f"kept (same data, still in the manifest): {', '.join(kept)}")
    click.echo(f"wrote {total:,} examples to {run_dir}/text in {dt:.1f} s")


commands = [generate_cmd]

"""`recalign compare RUN_DIR...`."""
from __future__ import annotations

import contextlib

import click

from ..run_dir import RunDir


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where report.md/.json/.csv/.png go (default: the first RUN_DIR).")
@click.option("--reference", default=None, metavar="NAME",
              help="The model every other row is compared with (paired differences, p-values); "
                   "default: the best baseline of each task.")
@click.option("--resamples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Bootstrap resamples (and sign flips of the permutation test).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resamples.")
@click.option("--level", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
              help="Coverage of the intervals.")
@click.option("--brief", is_flag=True,
              help="Print one line per model (estimate, Δ vs the reference, p, status) within 120 columns; "
                   "report.md keeps every interval.")
@click.option("--wandb/--no-wandb", "use_wandb", default=False, show_default=True,
              help="Also log the table to wandb (offline without an API key or a reachable server).")
def compare_cmd(run_dirs, out, reference, resamples, seed, level, brief, use_wandb):
    """One table of every RUN/results/*/metrics.json (same split only): each metric with its
    bootstrap interval over users, paired differences and p-values against a reference, ablation
    arms against rec-only, mean ± std over seeds, and a bar chart."""
    from ..eval.report import brief_table, compare  # lazy: numpy/matplotlib are heavy for `recalign --help`

    target = RunDir(out or run_dirs[0])      # the report is written there: lock it if it exists
    with target.lock("compare") if target.root.is_dir() else contextlib.nullcontext():
        rep = compare(run_dirs, out, wandb=use_wandb, reference=reference, n_resamples=resamples, seed=seed,
                      level=level)
    if brief:
        click.echo(brief_table(rep["header"], rep["rows"], rep["evidence"].references))
    else:
        click.echo(rep["markdown"])
    click.echo("wrote " + ", ".join(str(p) for p in rep["paths"].values()))

"""`recalign compare RUN_DIR...`."""
from __future__ import annotations

import click


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where report.md/.json/.csv/.png go (default: the first RUN_DIR).")
@click.option("--wandb/--no-wandb", "use_wandb", default=False, show_default=True,
              help="Also log the table to wandb (offline without an API key or a reachable server).")
def compare_cmd(run_dirs, out, use_wandb):
    """One table of every RUN/results/*/metrics.json (same split only), with a bar chart."""
    from ..eval.report import compare

    rep = compare(run_dirs, out, wandb=use_wandb)
    click.echo(rep["markdown"])
    click.echo("wrote " + ", ".join(str(p) for p in rep["paths"].values()))


commands = [compare_cmd]

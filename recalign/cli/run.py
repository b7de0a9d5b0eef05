"""`recalign run`: the main job."""
from __future__ import annotations

import click


@click.command("run")
@click.option("--config", "-c", type=click.Path(dir_okay=False), default=None,
              help="Run YAML (e.g. configs/ml100k-cpu.yaml); defaults apply without one.")
@click.option("--run-dir", default=None, help="Override the config's run_dir.")
@click.option("--ablation/--no-ablation", default=None,
              help="Also train the recommendation tasks alone under the same budget.")
@click.option("--report-to", type=click.Choice(["wandb", "none"]), default=None,
              help="Log training and the comparison to wandb (offline without an API key or a reachable server).")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Config override, e.g. -o train.max_steps=100 (repeatable).")
def run_cmd(config, run_dir, ablation, report_to, overrides) -> None:
    """Prepare → generate → train → evaluate → baselines → compare, resumable by stage."""
    from ..pipeline import load_run_config, run

    cfg = load_run_config(config, overrides, run_dir=run_dir, ablation=ablation,
                          report_to=None if report_to is None else ([] if report_to == "none" else [report_to]))
    run(cfg, echo=click.echo)


commands = [run_cmd]

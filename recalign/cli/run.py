"""`recalign run`: the main job."""
from __future__ import annotations

import click

from ..pipeline import load_run_config, run
from .options import override_option


@click.command("run")
@click.option("--config", "-c", type=click.Path(dir_okay=False), default=None,
              help="Run YAML (e.g. configs/ml100k-cpu.yaml); defaults apply without one.")
@click.option("--run-dir", default=None, metavar="RUN", type=click.Path(file_okay=False),
              help="Override the config's run_dir.")
@click.option("--ablation/--no-ablation", default=None,
              help="Also train the recommendation tasks alone under the same budget.")
@click.option("--report-to", type=click.Choice(["wandb", "none"]), default=None,
              help="wandb: log training and the comparison (offline without an API key or a reachable server); "
                   "none: no wandb at all, whatever the config's sections say.")
@override_option("Config override, e.g. -o train.max_steps=100 or -o evaluate.max_users=200.")
def run_cmd(config, run_dir, ablation, report_to, overrides) -> None:
    """Prepare → generate → train → evaluate → baselines → compare, resumable by stage. A stage
    whose output was made from other inputs or settings is refused (see README: resuming)."""
    cfg = load_run_config(config, overrides, run_dir=run_dir, ablation=ablation,
                          report_to=None if report_to is None else ([] if report_to == "none" else [report_to]))
    run(cfg, echo=click.echo)

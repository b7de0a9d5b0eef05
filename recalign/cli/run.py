"""`recalign run`: the main job."""
from __future__ import annotations

import click

from ..pipeline import load_run_config, run, templates_dirs
from ..tasks import load_templates
from .options import _not_blank, override_option


@click.command("run")
@click.option("--config", "-c", type=click.Path(dir_okay=False), default=None,
              help="Run YAML (e.g. configs/ml100k-cpu.yaml); defaults apply without one.")
@click.option("--run-dir", default=None, metavar="RUN", type=click.Path(file_okay=False), callback=_not_blank,
              help="Override the config's run_dir.")
@click.option("--ablation", default=None, is_flag=False, flag_value="true", metavar="[full|ARMS]",
              help="Also train ablation arms under the same budget: alone = rec-only; 'full' = rec-only, rec+mim, "
                   "rec+mlm, rec+bpr; or a comma list of those arms.")
@click.option("--no-ablation", is_flag=True, default=False, help="No ablation arms, whatever the config says.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Train and evaluate every seq2seq arm with N seeds (results <name>-seed<i>).")
@click.option("--baseline-seeds", type=click.IntRange(min=1), default=None,
              help="Run each RecBole baseline with N seeds (results <Model>-seed<i>).")
@click.option("--report-to", type=click.Choice(["wandb", "none"]), default=None,
              help="wandb: log training and the comparison (offline without an API key or a reachable server); "
                   "none: no wandb at all, whatever the config's sections say.")
@override_option("Config override, e.g. -o train.max_steps=100 or -o evaluate.max_users=200.")
def run_cmd(config, run_dir, ablation, no_ablation, seeds, baseline_seeds, report_to, overrides) -> None:
    """Prepare → generate → train → evaluate → baselines → compare, resumable by stage. A stage
    whose output was made from other inputs or settings is refused (see README: resuming)."""
    cfg = load_run_config(config, overrides, run_dir=run_dir, ablation=False if no_ablation else ablation,
                          seeds=seeds, baseline_seeds=baseline_seeds,
                          report_to=None if report_to is None else ([] if report_to == "none" else [report_to]))
    notices: list[str] = []
    for task in dict.fromkeys(cfg.generate.tasks):        # an id that overrides another: one line each
        load_templates(task, templates_dirs(cfg), notices=notices)
    for line in notices:
        click.echo(f"note: {line}", err=True)
    run(cfg, echo=click.echo)

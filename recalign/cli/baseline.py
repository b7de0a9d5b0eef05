"""`recalign baseline --model MODEL --run-dir RUN`; the models are recalign.baselines' table (CHOICES)."""
from __future__ import annotations

import json

import click

from ..baselines import run_baseline, run_bias_baseline
from ..baselines.table import BIAS, CHOICES, MODELS
from ..config import apply_overrides, read_yaml
from ..run_dir import RunDir
from .options import override_option, run_dir_option


@click.command("baseline")
@click.option("--model", "-m", required=True, type=click.Choice(CHOICES),
              help=f"RecBole model ({', '.join(MODELS)}), or {BIAS} (user+item bias rating baseline).")
@run_dir_option("Run directory; RUN/data is prepared first if missing; results go to RUN/results/<model>.")
@click.option("--dataset", "-d", default="ml-100k", show_default=True,
              help="Dataset to prepare when RUN/data is missing.")
@click.option("--epochs", type=int, default=None, help="Epoch cap (default: the model's, see --config).")
@click.option("--time-budget", type=float, default=None,
              help="Stop after the epoch that crosses this many seconds (the result says so).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML of RecBole hyperparameters (e.g. MAX_ITEM_LIST_LENGTH: 20).")
@override_option("Override one RecBole hyperparameter (wins over recalign's defaults, e.g. topk=[5,10]). "
                 "The Split files, eval_args and device are fixed.")
@click.option("--candidates", type=click.Path(dir_okay=False),
              help="JSONL of the ranking task's candidate lists {user, candidates, target} to score too.")
@click.option("--threads", type=int, default=None, help="torch threads (default: all cores).")
@click.option("--name", default=None, help="Result name (default: the model name).")
def baseline(model, run_dir, dataset, epochs, time_budget, config_file, overrides, candidates, threads, name):
    """Train a classic baseline on the run's Split and write RUN/results/<model>/metrics.json."""
    hp = apply_overrides(read_yaml(config_file) if config_file else {}, overrides, example="MAX_ITEM_LIST_LENGTH=20")
    run = RunDir(run_dir)
    with run.lock("baseline"):
        run.ensure_split(dataset, echo=lambda m: click.echo(m, err=True))
        run.check_text_current()              # the ranking task's candidates must be of this split
        if model == BIAS:
            r = run_bias_baseline(run_dir, name=name or "UserItemBias", candidates=candidates)
        else:
            r = run_baseline(run_dir, model, epochs=epochs, overrides=hp, time_budget_s=time_budget,
                             threads=threads, candidates=candidates, name=name)
    show = {k: r[k] for k in ("retrieval", "ranking", "rating", "training") if k in r}
    show.get("training", {}).pop("history", None)
    click.echo(json.dumps(show, indent=2))
    for n in r.get("notes", []):
        click.echo(f"note: {n}")
    click.echo(f"wrote {run.metrics(r['model'])}")

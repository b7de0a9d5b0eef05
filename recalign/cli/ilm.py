"""`recalign ilm --run RUN`: the ILM arms (collaborative item embeddings as soft tokens into the run's
frozen instruction-tuned model) trained and evaluated; results in RUN/results/ilm-<arm>/, beside the
baselines and the other models in `recalign compare RUN`."""
from __future__ import annotations

import click

from ..config import from_dict, read_yaml
from ..run_dir import RunDir
from .options import override_option, run_dir_option


@click.command("ilm")
@run_dir_option("A finished run (RUN/model: its instruction-tuned model with atomic item tokens).", exists=True)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="YAML: an ILMConfig mapping or a file with an `ilm:` section (configs/ilm-ml100k-cpu.yaml).")
@override_option("Override one ILMConfig key (e.g. phase2_steps=100).")
@click.option("--arm", "arms", multiple=True, help="Run only these arms (repeatable; default: every arm).")
def ilm_cmd(run_dir, config_file, overrides, arms):
    """ILM: CF item embeddings → item encoder (MLP / Q-Former) → soft tokens into the frozen backbone."""
    from ..ilm.config import ILMConfig
    from ..ilm.runner import run_ilm

    data = read_yaml(config_file) if config_file else {}
    cfg = from_dict(ILMConfig, data.get("ilm", data) if isinstance(data, dict) else {}, overrides, where="ilm.")
    run = RunDir(run_dir)
    with run.lock("ilm"):
        run_ilm(run, cfg, list(arms) or None, log=lambda m: click.echo(m, err=True))
    click.echo(f"wrote {run.root / 'ilm' / 'summary.json'}; compare with `recalign compare {run.root}`")

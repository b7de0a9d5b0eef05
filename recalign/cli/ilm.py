"""`recalign ilm --run RUN`: the ILM arms (collaborative item embeddings as soft tokens into the run's
frozen instruction-tuned model) trained and evaluated; results in RUN/results/ilm-<arm>/ (seed N > 0:
ilm-<arm>-seed<N>/), beside the baselines and the other models in `recalign compare RUN`.
`recalign ilm --run RUN --table`: the arms averaged over their seeds, paired against the backbone and
each other (RUN/ilm/table.md); trains nothing."""
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
@click.option("--seed", "seeds", multiple=True, type=click.IntRange(min=0),
              help="Run every selected arm with this seed (repeatable; default: the config's seed). Seed N > 0 "
                   "writes RUN/results/ilm-<arm>-seed<N>; the backbone arm (no encoder) runs once, as ilm-backbone.")
@click.option("--table", is_flag=True,
              help="Train nothing: print the arms table over seeds (seed-averaged per user, paired vs the backbone "
                   "and each other) and write RUN/ilm/table.md.")
def ilm_cmd(run_dir, config_file, overrides, arms, seeds, table):
    """ILM: CF item embeddings → item encoder (MLP / Q-Former) → soft tokens into the frozen backbone."""
    from ..ilm.config import ILMConfig

    data = read_yaml(config_file) if config_file else {}
    cfg = from_dict(ILMConfig, data.get("ilm", data) if isinstance(data, dict) else {}, overrides, where="ilm.")
    run = RunDir(run_dir)
    if table:
        from ..atomic_io import write_text
        from ..ilm.table import arm_table, markdown

        if seeds:
            raise click.UsageError("--table trains nothing: --seed picks the seeds to train (the table reads every "
                                   "seed in RUN/results)")
        expected = list(arms) or ([a.name for a in cfg.arm_list()] if config_file else None)
        md = markdown(arm_table(run, expected))
        click.echo(md, nl=False)
        out = write_text(run.root / "ilm" / "table.md", md)
        click.echo(f"wrote {out}", err=True)
        return
    from ..ilm.runner import run_ilm

    with run.lock("ilm"):
        run_ilm(run, cfg, list(arms) or None, log=lambda m: click.echo(m, err=True), seeds=list(seeds) or None)
    click.echo(f"wrote {run.root / 'ilm' / 'summary.json'}; compare with `recalign compare {run.root}`; "
               f"the arms over seeds: `recalign ilm --run {run.root} --table`")

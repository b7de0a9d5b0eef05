"""`recalign train-embedder --run-dir RUN`: generate the ten query tasks, train a bi-encoder
on them, evaluate the untrained (zero-shot) and the trained embedder, then each of the config's
``arms`` (e.g. the from-scratch encoder beside a pretrained one, or a knob switched); results in
RUN/results/<name>/ beside the seq2seq models and the baselines, one per-task table for all."""
from __future__ import annotations

import click

from ..config import read_yaml
from ..pipeline import embed_config_from
from ..run_dir import RunDir
from .options import override_option, run_dir_option


@click.command("train-embedder")
@run_dir_option("Run directory; RUN/data is prepared first if missing; the model goes to RUN/embed/model.")
@click.option("--dataset", "-d", default="ml-100k", show_default=True, help="Dataset to prepare when RUN/data is missing.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML: an EmbedConfig mapping, or a run config (its `embed:` section; none = defaults) "
                   "(configs/embed-*.yaml).")
@override_option("Override one EmbedConfig key (e.g. max_steps=100, query.writer=http).")
@click.option("--zero-shot/--no-zero-shot", default=True, show_default=True,
              help="Also evaluate the untrained encoder (the zero-shot row).")
@click.option("--eval/--no-eval", "evaluate", default=True, show_default=True, help="Evaluate after training.")
@click.option("--eval-only", is_flag=True, help="Skip training: evaluate RUN/embed/model (query data regenerated).")
@click.option("--name", default=None, help="Result name (default: the config's name, else embed-<model>).")
def train_embedder_cmd(run_dir, dataset, config_file, overrides, zero_shot, evaluate, eval_only, name):
    """Train (and evaluate) a dense retriever on the query tasks (UH2I … UQ2I)."""
    from ..embed.data import embed_dir, generate_queries  # the embed stack imports torch: loaded only when run
    from ..embed.report import write_query_report
    from ..embed.evaluate import evaluate_embedder
    from ..embed.config import arm_configs
    from ..embed.train import check_trained, train_embedder

    cfg = embed_config_from(read_yaml(config_file) if config_file else {}, overrides)
    arms = arm_configs(cfg)
    run = RunDir(run_dir)
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    with run.lock("train-embedder"):
        run.ensure_split(dataset, echo=echo)
        if eval_only:                         # the models as trained, before any query is generated
            check_trained(run, cfg)
            for acfg, arm_zero_shot in arms:
                if not arm_zero_shot:
                    check_trained(run, acfg, acfg.name)
            generate_queries(run.split(), run, cfg.tasks, cfg.query)
        else:
            train_embedder(run, cfg, log=echo)
            for acfg, arm_zero_shot in arms:
                if not arm_zero_shot:
                    echo(f"arm {acfg.name}: model {acfg.model}")
                    train_embedder(run, acfg, log=echo, arm=acfg.name, generate=False)
        if evaluate or eval_only:
            names = []
            if zero_shot:
                names.append(evaluate_embedder(run, cfg, zero_shot=True, name=name and f"{name}-zero-shot",
                                               log=echo)["model"])
            names.append(evaluate_embedder(run, cfg, name=name, log=echo)["model"])
            for acfg, arm_zero_shot in arms:
                names.append(evaluate_embedder(run, acfg, name=acfg.name, zero_shot=arm_zero_shot, log=echo,
                                               arm=acfg.name)["model"])
            out = embed_dir(run) / "report.md"
            click.echo(write_query_report(run.root, names, out))
            click.echo(f"wrote {', '.join(str(run.metrics(n)) for n in names)}, {out}")

"""`recalign train`."""
from __future__ import annotations

import os

import click

from ..config import from_dict, read_yaml
from ..errors import RecalignError
from ..pipeline import load_run_config, train_config, train_inputs
from ..run_dir import RunDir
from ..t5_finetune import TrainConfig, read_train_info, train
from ..tasks.fit import fit_lines
from .options import override_option, run_dir_option


@click.command("train")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Training YAML (TrainConfig keys, or a run YAML's `train:` section; see configs/train-tiny.yaml).")
@run_dir_option("Run directory holding text/manifest.json; outputs go to model/, checkpoints/, logs/.")
@override_option("Override a config key, e.g. -o max_steps=100 -o trainer.optim=adafactor.")
@click.option("--deepspeed", default=None, metavar="zero2|zero3|FILE.json",
              help="Train through DeepSpeed with a shipped ZeRO config or your own JSON.")
@click.option("--report-to", type=click.Choice(["wandb", "none"]), default=None,
              help="wandb (offline without an API key or a reachable server) or none; JSON-lines logs are always written.")
@click.option("--local_rank", "--local-rank", "local_rank", type=int, default=None, hidden=True,
              help="Set by the deepspeed launcher (the rank is read from LOCAL_RANK).")
def train_cmd(config_path: str, run_dir: str, overrides: tuple[str, ...], deepspeed: str | None,
              report_to: str | None, local_rank: int | None) -> None:
    """Fine-tune a seq2seq model on the task mixture of RUN (resumes from the last complete checkpoint)."""
    if local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(local_rank))
    data = read_yaml(config_path)
    run_config = isinstance(data.get("train"), dict)
    data = data.get("train", data) if run_config else data
    extra = list(overrides)
    if deepspeed:
        extra.append(f"deepspeed={deepspeed}")
    if report_to:
        extra.append(f"report_to=[{'' if report_to == 'none' else report_to}]")
    cfg = from_dict(TrainConfig, data, overrides=extra)
    from ..eval.curves import curve_evaluator  # lazy: torch

    run = RunDir(run_dir)
    # what the model is made from, as `recalign run` records it (a run config: its train stage's own inputs)
    inputs = train_inputs(run, train_config(load_run_config(config_path, [f"train.{o}" for o in extra]))
                          if run_config else cfg)
    rank0 = int(os.environ.get("RANK", "0") or 0) == 0
    with run.lock("train"):
        run.check_text_current()              # text from another split than RUN/data: refused, as by `run`
        started = run.stage_marker("train.started")
        if run.checkpoints.exists() and started.is_file():
            why = run.stage_state("train.started", inputs, started, check_output=False)
            if why != "done":                 # unfinished work from other inputs is not resumed
                raise RecalignError(f"[train] {run.checkpoints} was {why.replace('made', 'started', 1)}: use a new "
                                    f"--run-dir, or delete {run.checkpoints} to redo this stage", path=run.root)
        elif not run.checkpoints.exists() and rank0:
            run.mark_done("train.started", inputs, run.checkpoints)
        c = cfg.curve                         # learning curve: RUN/logs/curve.jsonl
        out = train(cfg, run_dir, evaluate_fn=curve_evaluator(run_dir, c.users, c.seed, c.beam))
        if rank0:
            # the train stage is done: `recalign run -c CONFIG` takes this model as its own, and
            # evaluate checks the model against the text it was trained from
            run.mark_done("train", inputs, run.train_info)
    info = read_train_info(out)
    if info:
        why = " (stopped by the time budget)" if info.get("stopped_by_budget") else ""
        if info.get("stopped_by_budget") and 0 < info["global_step"] < (info.get("max_steps") or 0):
            why = (f" — STOPPED at {info['global_step']:,} of {info['max_steps']:,} steps by the time cap: below the "
                   f"configured run ({info.get('cpu') or 'this machine'}, {info.get('precision')})")
        click.echo(f"trained {info['model']} for {info['global_step']}/{info['max_steps']} steps{why}; "
                   f"best valid loss {info['best_metric']}; saved {out}")
        for line in fit_lines(run.generated_text().fit if run.has_manifest() else None):
            click.echo(line)                  # what generate shortened to fit max_source_length
        if info.get("sources_at_max_length"):
            click.echo(f"note: {info['sources_at_max_length']:,} training inputs reach max_source_length "
                       f"({cfg.max_source_length} tokens) and may be cut: set generate.max_source_tokens "
                       "(with a tokenizer) so that generate fits them", err=True)

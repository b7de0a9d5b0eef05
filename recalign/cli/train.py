"""`recalign train`."""
from __future__ import annotations

import click


@click.command("train")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Training YAML (TrainConfig keys; see configs/train-tiny.yaml).")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False),
              help="Run directory holding text/<task>/<split>; outputs go to model/, checkpoints/, logs/.")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. -o max_steps=100 -o mixture.cap=5000 (repeatable).")
@click.option("--deepspeed", default=None, metavar="zero2|zero3|FILE.json",
              help="Train through DeepSpeed with a shipped ZeRO config or your own JSON.")
@click.option("--report-to", type=click.Choice(["wandb", "none"]), default=None,
              help="wandb (offline without an API key or a reachable server) or none; JSON-lines logs are always written.")
@click.option("--local_rank", "--local-rank", "local_rank", type=int, default=None, hidden=True,
              help="Set by the deepspeed launcher (the rank is read from LOCAL_RANK).")
def train_cmd(config_path: str, run_dir: str, overrides: tuple[str, ...], deepspeed: str | None,
              report_to: str | None, local_rank: int | None) -> None:
    """Fine-tune a seq2seq model on the task mixture of RUN_DIR (resumes from the last checkpoint)."""
    import os

    from ..config import from_dict, read_yaml
    from ..t5_finetune import TrainConfig, read_train_info, train

    if local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(local_rank))
    data = read_yaml(config_path)
    data = data.get("train", data) if isinstance(data.get("train"), dict) else data
    extra = list(overrides)
    if deepspeed:
        extra.append(f"deepspeed={deepspeed}")
    if report_to:
        extra.append(f"report_to=[{report_to}]")
    cfg = from_dict(TrainConfig, data, overrides=extra)
    out = train(cfg, run_dir)
    info = read_train_info(out)
    if info:
        why = " (stopped by the time budget)" if info.get("stopped_by_budget") else ""
        click.echo(f"trained {info['model']} for {info['global_step']}/{info['max_steps']} steps{why}; "
                   f"best valid loss {info['best_metric']}; saved {out}")


commands = [train_cmd]

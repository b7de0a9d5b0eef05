"""`recalign data info|prepare|convert-amazon`."""
from __future__ import annotations

import json

import click

from ..config import from_dict
from ..data import dataset_stats, format_stats, leave_one_out, load_dataset, prepare, split_stats
from ..data.amazon import read_amazon, write_dataset
from ..pipeline import DataConfig
from ..run_dir import RunDir
from .options import override_option, run_dir_option


@click.group("data")
def data() -> None:
    """Inspect, prepare and convert datasets."""


_dataset = click.option("--dataset", "-d", default="ml-100k", show_default=True,
                        help="Embedded name (ml-100k) or a directory of RecBole atomic files.")
_kcore = [click.option("--user-k", type=int, default=0, show_default=True, help="k-core: min interactions per user (0 = off)."),
          click.option("--item-k", type=int, default=0, show_default=True, help="k-core: min interactions per item (0 = off).")]


def _with_kcore(f):
    for o in reversed(_kcore):
        f = o(f)
    return f


@data.command("info")
@_dataset
@_with_kcore
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(dataset: str, user_k: int, item_k: int, as_json: bool) -> None:
    """Print dataset and split statistics."""
    ds = load_dataset(dataset, user_k, item_k)
    raw = dataset_stats(ds)
    st = split_stats(leave_one_out(ds))
    if as_json:
        click.echo(json.dumps({"raw": raw, "split": st}, indent=2))
        return
    click.echo(f"{raw['dataset']}: {raw['users']:,} users, {raw['items']:,} items, "
               f"{raw['interactions']:,} interactions (after k-core, before split)")
    click.echo(format_stats(st))


@data.command("prepare")
@_dataset
@_with_kcore
@run_dir_option("Run directory; files go to RUN/data (replacing what is there).")
@override_option("Override a `data:` key of the run config, e.g. -o min_interactions=5.")
def prepare_cmd(dataset: str, user_k: int, item_k: int, run_dir: str, overrides: tuple[str, ...]) -> None:
    """Filter, split and write RecBole atomic + benchmark files into RUN/data."""
    d = from_dict(DataConfig, {"dataset": dataset, "user_k": user_k, "item_k": item_k}, overrides=overrides,
                  where="data.")
    run = RunDir(run_dir)
    with run.lock("data prepare"):
        split = prepare(d.dataset, run.root, d.user_k, d.item_k, d.min_interactions)
    click.echo(format_stats(split_stats(split)))
    click.echo(f"wrote {run.data}")


@data.command("convert-amazon")
@click.option("--reviews", required=True, type=click.Path(dir_okay=False),
              help="reviews_<Category>_5.json.gz (2014) or <Category>.jsonl[.gz] (2018/2023).")
@click.option("--meta", required=True, type=click.Path(dir_okay=False),
              help="meta_<Category>.json.gz (Python-literal dicts or JSON lines).")
@click.option("--name", required=True, help="Dataset name, e.g. amazon-toys.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Directory to write <name>.inter and <name>.item into.")
def convert_amazon_cmd(reviews: str, meta: str, name: str, out: str) -> None:
    """Convert Amazon reviews + metadata into RecBole atomic files."""
    ds = read_amazon(reviews, meta, name)
    d = write_dataset(ds, out)
    for note in ds.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {d}/{name}.inter and {d}/{name}.item")


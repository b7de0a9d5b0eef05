"""`recalign data info|prepare|convert-amazon`."""
from __future__ import annotations

import json

import click


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
    from ..data import dataset_stats, format_stats, leave_one_out, load_dataset, split_stats

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
@click.option("--out", "--run-dir", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory; files go to RUN_DIR/data.")
def prepare_cmd(dataset: str, user_k: int, item_k: int, run_dir: str) -> None:
    """Filter, split and write RecBole atomic + benchmark files into RUN_DIR/data."""
    from ..data import format_stats, prepare, split_stats

    split = prepare(dataset, run_dir, user_k, item_k)
    click.echo(format_stats(split_stats(split)))
    click.echo(f"wrote {run_dir}/data")


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
    from ..data.amazon import read_amazon, write_dataset

    ds = read_amazon(reviews, meta, name)
    d = write_dataset(ds, out)
    for note in ds.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {d}/{name}.inter and {d}/{name}.item")


commands = [data]

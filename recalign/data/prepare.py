"""Write a Split into a run directory as RecBole atomic + benchmark files, and read it back.

Layout (``RUN/data/``)::

    <name>.inter          all kept interactions (chronological, stable)
    <name>.item           item_id, unique title, raw title, text fields
    <name>.train.inter    benchmark files: RecBole loads these with
    <name>.valid.inter    ``benchmark_filename: [train, valid, test]`` and does not re-split
    <name>.test.inter
    split.json            name, provenance (``source``: the dataset given, its resolved
                          directory, k-core settings) and statistics

Every file is written atomically; ``split.json`` is written last and marks the
directory complete.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic_io import write_json
from ..errors import RecalignError
from .atomic_files import read_atomic, write_atomic
from .dataset import Dataset, Item
from .readers import dataset_identity, resolve_dataset_dir
from .split import SPLITS, Split, UserSequence
from .stats import split_stats

INTER_FIELDS = [("user_id", "token"), ("item_id", "token"), ("rating", "float"), ("timestamp", "float")]
TEXT_FIELDS = ("genres", "year", "brand", "categories", "price", "description")


def check_saturated_users(split: Split, shown: int = 5) -> None:
    """Refuse a split where a user has interacted with every item of the catalogue: no item is left
    to recommend, to sample as a negative or to rank against (RecBole's Pop crashed on one only
    after training). One line with how many users, the first few ids and the catalogue size."""
    seqs = split.sequences
    catalogue = set(split.items) | {i for s in seqs.values() for i in s.items}
    full = [u for u, s in seqs.items() if len(s.items) >= len(catalogue) and catalogue <= set(s.items)]
    if full:
        names = ", ".join(map(repr, full[:shown])) + (f" and {len(full) - shown} more" if len(full) > shown else "")
        raise RecalignError(f"{len(full)} user(s) have interacted with every one of the {len(catalogue):,} items "
                            f"({names}): nothing is left to recommend to them or to sample as a negative; remove "
                            "them from the .inter file, or use a larger catalogue", field="dataset")


def write_split(split: Split, data_dir: str | Path, source: dict | None = None) -> Path:
    check_saturated_users(split)   # before any file is written, so before any model trains
    d = Path(data_dir)
    name = split.dataset.name
    d.mkdir(parents=True, exist_ok=True)
    rows = {s: list(split.rows(s)) for s in SPLITS}
    for s in SPLITS:
        write_atomic(d / f"{name}.{s}.inter", INTER_FIELDS, [(u, i, r, t) for u, i, r, t in rows[s]])
    allrows = sorted((r for s in SPLITS for r in rows[s]), key=lambda r: r[3])  # stable: train<valid<test
    write_atomic(d / f"{name}.inter", INTER_FIELDS, [(u, i, r, t) for u, i, r, t in allrows])
    extra = [f for f in TEXT_FIELDS if any(f in it.fields for it in split.items.values())]
    write_atomic(d / f"{name}.item",
                 [("item_id", "token"), ("title", "token_seq"), ("raw_title", "token_seq")]
                 + [(f, "token_seq") for f in extra],
                 [(it.id, it.title, it.raw_title, *[it.fields.get(f, "") for f in extra])
                  for it in split.items.values()])
    meta = {"name": name, **({"source": source} if source else {}), "stats": split_stats(split)}
    write_json(d / "split.json", meta)
    return d


def _shown(given, path) -> str:
    """``'ml-100k' (/…/ml-100k)``: the dataset as given, plus its directory when that differs."""
    return repr(str(given)) + ("" if Path(str(given)).resolve() == Path(path).resolve() else f" ({path})")


def check_source(run_dir: str | Path, dataset: str | Path) -> None:
    """Raise unless ``RUN/data`` was prepared from ``dataset`` (a name or directory).

    Compares the resolved dataset directory recorded in ``split.json`` (``source.path``),
    or only the dataset name for a split.json written before sources were recorded.
    """
    d = Path(run_dir) / "data"
    meta_path = d / "split.json"
    meta = json.loads(meta_path.read_text())
    name, path = resolve_dataset_dir(dataset)
    src = meta.get("source") or {}
    if "path" in src:
        same = dataset_identity(src["path"]) == dataset_identity(path)
        was, now = _shown(src.get("dataset", meta["name"]), src["path"]), _shown(dataset, path.resolve())
    else:
        same = name == meta.get("name")
        was, now = repr(meta.get("name")), f"{str(dataset)!r} (name {name!r})"
    if not same:
        raise RecalignError(f"{d} was prepared from {was}, not from the given {now}: use a new "
                            f"run directory (--run-dir), or re-run `recalign data prepare -d {dataset} --run-dir "
                            f"{run_dir}` to replace the prepared data", path=meta_path, field="dataset")


def load_split(data_dir: str | Path) -> Split:
    """Read back a Split written by ``write_split`` (``RUN/data`` or ``RUN``)."""
    d = Path(data_dir)
    if not (d / "split.json").is_file() and (d / "data" / "split.json").is_file():
        d = d / "data"
    meta_path = d / "split.json"
    if not meta_path.is_file():
        raise RecalignError("no prepared split here (split.json missing): run `recalign data prepare` first",
                            path=d)
    meta = json.loads(meta_path.read_text())
    name = meta["name"]
    icols = read_atomic(d / f"{name}.item", required=("item_id", "title"))
    extra = [k for k in icols if k not in ("item_id", "title", "raw_title")]
    items = {}
    for r, iid in enumerate(icols["item_id"]):
        items[iid] = Item(iid, icols["title"][r], icols.get("raw_title", icols["title"])[r],
                          {k: icols[k][r] for k in extra if icols[k][r]})
    per_user: dict[str, list] = {}
    for s in SPLITS:
        cols = read_atomic(d / f"{name}.{s}.inter", required=("user_id", "item_id", "timestamp"))
        for u, i, r, t in zip(cols["user_id"], cols["item_id"], cols["rating"], cols["timestamp"]):
            per_user.setdefault(u, []).append((i, np.nan if r is None else r, t))
    seqs = {u: UserSequence(u, tuple(x[0] for x in v), tuple(x[1] for x in v), tuple(x[2] for x in v))
            for u, v in per_user.items()}
    allrows = [(u, *x) for u, v in per_user.items() for x in v]
    ds = Dataset(name, items, np.array([r[0] for r in allrows], dtype=object),
                 np.array([r[1] for r in allrows], dtype=object),
                 np.array([r[3] for r in allrows], dtype=np.float64),
                 np.array([r[2] for r in allrows], dtype=np.float64))
    st = meta["stats"]
    return Split(ds, seqs, st.get("dropped_users", 0), 0, list(st.get("notes", [])), st.get("dropped_repeats", 0))

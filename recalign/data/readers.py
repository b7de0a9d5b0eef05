"""Readers that turn a source into a Dataset: RecBole atomic directories and the
embedded ml-100k shipped in the ``recbole`` wheel (no download)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RecalignError, nearest
from .atomic_files import read_atomic
from .dataset import Dataset, Item
from .titles import clean_title, disambiguate

@dataclass(frozen=True)
class FieldLimits:
    """The longest cell accepted per kind of field, in characters: a longer one is an error
    naming the file, line and field (a 10 MB title would otherwise be copied into every
    example that shows it)."""

    id: int = 200        # user and item ids
    title: int = 1_000   # item titles
    text: int = 2_000    # other item fields (genres, brand, categories, description, ...)


FIELD_LIMITS = FieldLimits()

INTER_ALIASES = {"user": ["user_id"], "item": ["item_id", "parent_asin", "asin"],
                 "timestamp": ["timestamp", "time"], "rating": ["rating", "score"]}
ITEM_ALIASES = {"item": ["item_id", "parent_asin", "asin"],
                "title": ["title", "movie_title", "name", "item_title"]}
# source field name -> recalign's text field name
FIELD_NAMES = {"class": "genres", "genre": "genres", "genres": "genres", "release_year": "year",
               "year": "year", "categories": "categories", "category": "categories",
               "brand": "brand", "price": "price", "description": "description",
               "sales_type": "sales_type"}


def embedded_dir() -> Path:
    """Where the recbole wheel keeps its example datasets."""
    import importlib.util

    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise RecalignError("the embedded datasets need the 'recbole' package: pip install recbole==1.2.1")
    return Path(list(spec.submodule_search_locations)[0]) / "dataset_example"


EMBEDDED = ("ml-100k",)


def resolve_dataset_dir(name_or_path: str | Path) -> tuple[str, Path]:
    """``ml-100k`` → the wheel's copy; a directory → itself (name = directory name)."""
    p = Path(name_or_path)
    if p.is_dir():
        if (p / f"{p.name}.inter").is_file():
            return p.name, p
        stems = sorted(f.name[:-6] for f in p.glob("*.inter")
                       if not f.name.endswith((".train.inter", ".valid.inter", ".test.inter")))
        if len(stems) == 1:
            return stems[0], p
        raise RecalignError(f"expected one <name>.inter file in the directory, found {stems or 'none'}", path=p)
    name = str(name_or_path)
    if name in EMBEDDED:
        return name, embedded_dir() / name
    raise RecalignError(f"unknown dataset {name!r}: expected one of {list(EMBEDDED)} or a directory "
                        f"of RecBole atomic files (<name>.inter, <name>.item).{nearest(name, EMBEDDED)}")


def dataset_identity(path: str | Path) -> str:
    """What identifies a resolved dataset directory across machines and virtual environments:
    the embedded copy by its name (its path is wherever the recbole wheel was installed), any
    other directory by its resolved path.

    >>> dataset_identity(embedded_dir() / "ml-100k")
    'embedded:ml-100k'
    >>> dataset_identity("/data/amazon-toys")
    '/data/amazon-toys'
    """
    p = Path(path)
    if p.name in EMBEDDED and p.parent.name == "dataset_example" and p.parent.parent.name == "recbole":
        return f"embedded:{p.name}"  # the wheel's copy, in this environment or another
    return str(p.resolve())


def read_atomic_dataset(name_or_path: str | Path, limits: FieldLimits = FIELD_LIMITS) -> Dataset:
    """Read ``<dir>/<name>.inter`` (+ ``.item`` if present) into a Dataset.

    Items without a ``.item`` row get their id as title. Empty user/item ids and cells
    longer than ``limits`` are errors naming the file, line and field; repeated
    interactions are dropped (``Dataset.first_interactions``).
    """
    name, d = resolve_dataset_dir(name_or_path)
    inter_path = d / f"{name}.inter"
    # rating is optional (the column may be absent, or a cell empty = no rating), but a
    # value that is there must be a finite number: a `nan` would silently drop the example later
    cols = read_atomic(inter_path, required=("user", "item", "timestamp"), aliases=INTER_ALIASES,
                       finite=("rating", "timestamp"), not_empty=("user", "item", "timestamp"),
                       max_chars={"user": limits.id, "item": limits.id})
    n = len(cols["user"])
    ts = cols["timestamp"]
    ratings = cols.get("rating")
    rating_arr = (np.array([np.nan if r is None else r for r in ratings], dtype=np.float64)
                  if ratings is not None else np.full(n, np.nan))
    item_texts: dict[str, tuple[str, dict[str, str]]] = {}
    titled: set[str] = set()
    item_path = d / f"{name}.item"
    if item_path.is_file():
        icols = read_atomic(item_path, required=("item",), aliases=ITEM_ALIASES, not_empty=("item",),
                            max_chars={"item": limits.id, "title": limits.title, "*": limits.text})
        other = [k for k in icols if k not in ("item", "title")]
        for row, iid in enumerate(icols["item"]):
            raw = icols["title"][row] if "title" in icols else iid
            fields = {}
            for k in other:
                v = icols[k][row]
                if v is None or v == "":
                    continue
                if isinstance(v, float):
                    v = str(int(v)) if v.is_integer() else str(v)
                fields[FIELD_NAMES.get(k, k)] = v
            if "genres" in fields:
                fields["genres"] = ", ".join(fields["genres"].split())
            item_texts[iid] = (raw or iid, fields)
            if raw and "title" in icols:
                titled.add(iid)
    used = dict.fromkeys(cols["item"])
    for iid in used:
        item_texts.setdefault(iid, (iid, {}))
    untitled = sum(1 for i in used if i not in titled)
    notes = []
    if untitled:
        why = "no .item file" if not item_path.is_file() else "no title field or an empty title in the .item file"
        notes.append(f"{untitled} of {len(used)} items have no title ({why}): their id is used as the title, "
                     "so ids appear in the text")
    items = build_items({i: item_texts[i] for i in used})
    return Dataset(name, items, np.array(cols["user"], dtype=object), np.array(cols["item"], dtype=object),
                   np.array(ts, dtype=np.float64), rating_arr, notes=notes).first_interactions()


def build_items(texts: dict[str, tuple[str, dict[str, str]]]) -> dict[str, Item]:
    """id → (raw title, fields) to Items with cleaned, unique titles."""
    cleaned = {i: (clean_title(t) or i, f) for i, (t, f) in texts.items()}
    unique = disambiguate(cleaned)
    return {i: Item(i, unique[i], texts[i][0], dict(texts[i][1])) for i in texts}

"""Convert Amazon review datasets into a Dataset and RecBole atomic files.

Formats understood (detected per line, so one reader serves all):

- 2014 (McAuley): ``reviews_<Cat>_5.json.gz`` JSON lines with ``reviewerID, asin,
  overall, unixReviewTime``; ``meta_<Cat>.json.gz`` lines that are *Python-literal*
  dicts (``{'asin': '...', 'title': ..., 'categories': [[...]], 'brand': ..., 'price': 3.5}``).
- 2018: JSON lines in both files (``category``, ``description`` as lists, price as ``"$12.99"``).
- 2023: ``user_id, parent_asin|asin, rating, timestamp`` (milliseconds) and metadata with
  ``parent_asin, title, categories, store, price, description``.

Items without a title in the metadata are dropped with their interactions (a title
is the only way an item may appear in text) and the count is reported in ``notes``
(``recalign data convert-amazon`` prints every note). Every review needs a user, an
item, a timestamp and a finite rating (``overall`` or ``rating``). Files are gunzipped
when they start with the gzip magic bytes, whatever their suffix.

>>> # convert_amazon("reviews_Toys_and_Games_5.json.gz", "meta_Toys_and_Games.json.gz",
>>> #                "amazon-toys", "data/amazon-toys")   -> data/amazon-toys/amazon-toys.{inter,item}
"""
from __future__ import annotations

import ast
import gzip
import html
import json
import math
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import RecalignError, shown
from .atomic_files import write_atomic
from .dataset import Dataset
from .readers import FIELD_LIMITS, FieldLimits, build_items


GZIP_MAGIC = b"\x1f\x8b"


def _open(path: Path):
    """Open ``path`` for reading bytes, gunzipping when it *starts with* the gzip magic
    bytes (the suffix is not trusted: a plain ``.json.gz`` and a gzipped ``.json`` both work)."""
    if not path.is_file():
        raise RecalignError("file not found", path=path)
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, decoded line)``; decoding and decompression errors become a
    RecalignError naming the file (and the line where it is known)."""
    lineno = 0
    with _open(path) as f:
        it = iter(f)
        while True:
            try:
                raw = next(it)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as e:  # corrupt or truncated gzip data
                raise RecalignError(f"cannot decompress gzip data after line {lineno} ({e}): "
                                    "expected an intact .gz file or plain UTF-8 text", path=path) from None
            lineno += 1
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise RecalignError(f"not UTF-8 text (byte {raw[e.start:e.start + 1]!r} at column {e.start + 1}): "
                                    "expected UTF-8 JSON lines, optionally gzip-compressed",
                                    path=path, line=lineno) from None
            yield lineno, line


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in _lines(path):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            try:
                rec = ast.literal_eval(line)  # 2014 metadata: Python-literal dicts
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                raise RecalignError("expected a JSON object or a Python-literal dict", path=path,
                                    line=lineno) from None
        if not isinstance(rec, dict):
            raise RecalignError(f"expected an object, got {type(rec).__name__}", path=path, line=lineno)
        yield lineno, rec


def _first(rec: dict, keys: tuple[str, ...]):
    for k in keys:
        if rec.get(k) not in (None, ""):
            return rec[k]
    return None


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        flat = []
        for x in v:
            flat.extend(x if isinstance(x, (list, tuple)) else [x])
        v = ", ".join(dict.fromkeys(str(x).strip() for x in flat if str(x).strip()))
    return " ".join(html.unescape(str(v)).split())


def _id(value, limits: FieldLimits, path: Path, lineno: int, field: str) -> str:
    """A user or item id: non-empty, at most ``limits.id`` characters."""
    v = str(value).strip()
    if not v:
        raise RecalignError(f"expected a non-empty id, got {shown(value)}", path=path, line=lineno, field=field)
    if len(v) > limits.id:
        raise RecalignError(f"id of {len(v):,} characters is over the limit of {limits.id:,} (starts "
                            f"{shown(v[:60])})", path=path, line=lineno, field=field)
    return v


def read_amazon(reviews: str | Path, meta: str | Path, name: str, limits: FieldLimits = FIELD_LIMITS) -> Dataset:
    """Read reviews + metadata (any of the three formats) into a Dataset. Ids must be non-empty,
    titles at most ``limits.title`` characters (errors name file, line and field); other text
    fields are cut to ``limits.text`` (descriptions to 500); repeated reviews of an item by
    the same user keep the first (``Dataset.first_interactions``)."""
    reviews, meta = Path(reviews), Path(meta)
    users, items, ts, ratings = [], [], [], []
    for lineno, r in _records(reviews):
        u = _first(r, ("reviewerID", "user_id"))
        i = _first(r, ("asin", "parent_asin")) if "reviewerID" in r else _first(r, ("parent_asin", "asin"))
        t = _first(r, ("unixReviewTime", "timestamp"))
        if u is None or i is None or t is None:
            missing = [k for k, v in (("reviewerID/user_id", u), ("asin/parent_asin", i),
                                      ("unixReviewTime/timestamp", t)) if v is None]
            raise RecalignError(f"review lacks required field(s) {missing}", path=reviews, line=lineno)
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise RecalignError(f"expected a numeric timestamp, got {shown(t)}", path=reviews, line=lineno,
                                field="unixReviewTime" if "unixReviewTime" in r else "timestamp") from None
        if "timestamp" in r and "unixReviewTime" not in r and t > 1e11:
            t = t / 1000.0  # 2023 format: milliseconds
        # the rating is required: 2014/2018 call it `overall`, 2023 `rating`
        rkey = next((k for k in ("overall", "rating") if r.get(k) not in (None, "")), None)
        if rkey is None:
            raise RecalignError("review lacks its rating: expected a number in 'overall' (2014/2018) "
                                "or 'rating' (2023)", path=reviews, line=lineno,
                                field="overall" if "reviewerID" in r else "rating")
        try:
            rating = float(r[rkey])
        except (TypeError, ValueError):
            rating = math.nan
        if not math.isfinite(rating):
            raise RecalignError(f"expected a finite number as rating, got {shown(r[rkey])}", path=reviews,
                                line=lineno, field=rkey)
        u = _id(u, limits, reviews, lineno, "reviewerID" if "reviewerID" in r else "user_id")
        i = _id(i, limits, reviews, lineno, "asin" if "reviewerID" in r else "parent_asin")
        users.append(u), items.append(i), ts.append(t), ratings.append(rating)
    if not users:
        raise RecalignError("no reviews found", path=reviews)
    wanted = set(items)
    texts: dict[str, tuple[str, dict[str, str]]] = {}
    for lineno, m in _records(meta):
        iid = _first(m, ("parent_asin", "asin"))
        if iid is None or str(iid).strip() not in wanted:
            continue
        iid = str(iid).strip()
        title = _text(m.get("title"))
        if not title:
            continue
        if len(title) > limits.title:
            raise RecalignError(f"title of {len(title):,} characters is over the limit of {limits.title:,} "
                                f"(starts {shown(title[:60])}); shorten it or raise the limit", path=meta,
                                line=lineno, field="title")
        fields = {}
        cats = m.get("categories") or m.get("category")
        if cats:
            fields["categories"] = _text(cats)[:limits.text]
        brand = _first(m, ("brand", "store"))
        if brand:
            fields["brand"] = _text(brand)[:limits.text]
        price = m.get("price")
        if price not in (None, ""):
            p = _text(price).lstrip("$")
            try:
                fields["price"] = f"{float(p):.2f}"
            except ValueError:
                pass
        desc = _text(m.get("description"))
        if desc:
            fields["description"] = desc[:500]
        texts[str(iid)] = (title, fields)
    keep = np.array([i in texts for i in items])
    ds = Dataset(name, build_items({i: texts[i] for i in dict.fromkeys(items) if i in texts}),
                 np.array(users, dtype=object)[keep], np.array(items, dtype=object)[keep],
                 np.array(ts, dtype=np.float64)[keep], np.array(ratings, dtype=np.float64)[keep])
    dropped = int((~keep).sum())
    if dropped:
        ds.notes.append(f"dropped {dropped} review(s) of {len(wanted - set(texts))} item(s) without a title in {meta.name}")
    if not len(ds):
        raise RecalignError("no review refers to an item with a title in the metadata", path=meta)
    return ds.first_interactions()


def write_dataset(ds: Dataset, out_dir: str | Path) -> Path:
    """Write ``<name>.inter`` and ``<name>.item`` (atomically) for any Dataset."""
    d = Path(out_dir)
    write_atomic(d / f"{ds.name}.inter",
                 [("user_id", "token"), ("item_id", "token"), ("rating", "float"), ("timestamp", "float")],
                 zip(ds.users, ds.item_ids, ds.ratings.tolist(), ds.timestamps.tolist()))
    extra = sorted({k for it in ds.items.values() for k in it.fields})
    write_atomic(d / f"{ds.name}.item", [("item_id", "token"), ("title", "token_seq")]
                 + [(k, "token_seq") for k in extra],
                 [(it.id, it.raw_title, *[it.fields.get(k, "") for k in extra]) for it in ds.items.values()])
    return d


def convert_amazon(reviews: str | Path, meta: str | Path, name: str, out_dir: str | Path,
                   limits: FieldLimits = FIELD_LIMITS) -> Path:
    return write_dataset(read_amazon(reviews, meta, name, limits), out_dir)

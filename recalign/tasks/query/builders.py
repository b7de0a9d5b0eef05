"""Builders of the ten query tasks: ``build(split, which, cfg, users=None) -> [QueryRow]``
for ``which`` in ``train`` / ``test``.

Leakage rules:

- user tasks (UH2I, US2I, UQ2I): train queries from ``Split.train_items(u)`` only (the
  newest ``train_per_user`` positions); test queries: ``history(u, "test")`` → the held-out
  test item (the history is masked when ranking, as for every model);
- I2I: positives co-occur within ``i2i_window`` positions in *train* histories; anchors are
  split by a seeded hash into train anchors and held-out evaluation anchors;
- attribute tasks (FA2I, SA2I, AS2I, NM2I, VC2I, NA2I): train queries from train items;
  evaluation queries from a seeded sample of ``eval_items`` items, each with its own
  attribute sample (another RNG stream).

Negatives: ``num_negatives`` true negatives per query — user tasks: items outside the
user's whole sequence (so never a held-out item); I2I: items that never co-occur with the
anchor; condition tasks: items that violate at least one condition; NM2I: other items.
When fewer exist, all there are (the count is the row's ``len(negatives)``).
"""
from __future__ import annotations

import contextlib
import contextvars
import random
from collections import Counter
from typing import Callable, Iterable, Iterator, NamedTuple

from ...data import Split
from ..base import Meta
from ..sampling import task_rng
from .attributes import Catalogue, Condition, holds_all
from .config import QueryConfig
from .examples import (AS2IExample, FA2IExample, I2IExample, NA2IExample, NM2IExample, SA2IExample, UH2IExample,
                       UQ2IExample, US2IExample, VC2IExample)
from ...errors import RecalignError
from .writer import Writer, phrase, make_writer

NAN = float("nan")


class QueryRow(NamedTuple):
    """One query: the template Example, the ids (``Meta``: target_item = positive,
    candidates = negatives, history = items masked when ranking) and its conditions."""

    example: object
    meta: Meta
    conditions: list[Condition]


_SESSION: contextvars.ContextVar = contextvars.ContextVar("recalign_query_writer", default=None)


def _writer_settings(cfg: QueryConfig) -> tuple:
    return (cfg.writer, cfg.writer_cache, cfg.writer_dry_run, cfg.writer_timeout_s, cfg.writer_run_timeout_s,
            cfg.writer_retries, cfg.writer_max_chars, cfg.seed)


def _new_writer(cfg: QueryConfig) -> Writer:
    return make_writer(cfg.writer, cache_dir=cfg.writer_cache or None, dry_run=cfg.writer_dry_run,
                       retries=cfg.writer_retries, timeout_s=cfg.writer_timeout_s,
                       run_timeout_s=cfg.writer_run_timeout_s, max_chars=cfg.writer_max_chars, seed=cfg.seed)


@contextlib.contextmanager
def writer_session(cfg: QueryConfig) -> Iterator[dict]:
    """Share one writer (its run deadline and its ``stats``) among the builds inside; made
    when a builder first needs it: ``{"writer": Writer | None}``."""
    holder = {"settings": _writer_settings(cfg), "writer": None}
    token = _SESSION.set(holder)
    try:
        yield holder
    finally:
        _SESSION.reset(token)


def _writer(cfg: QueryConfig, which: str) -> Writer:
    holder = _SESSION.get()
    if holder is None or holder["settings"] != _writer_settings(cfg):
        return _new_writer(cfg)
    if holder["writer"] is None:
        holder["writer"] = _new_writer(cfg)
    return holder["writer"]


def check_num_negatives(cfg: QueryConfig, n_items: int) -> None:
    """``num_negatives`` must leave the positive out of the catalogue: at most ``n_items - 1``."""
    if cfg.num_negatives > n_items - 1:
        raise RecalignError(f"{cfg.num_negatives} negatives per query, but the catalogue has {n_items} items "
                            f"(at most {max(n_items - 1, 0)} negatives per query)", field="query.num_negatives")


def sample_negatives(rng: random.Random, items: list[str], n: int, ok: Callable[[str], bool]) -> list[str]:
    """``n`` distinct items with ``ok(item)``: rejection sampling, then a full scan if needed."""
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(n * 20):
        i = items[rng.randrange(len(items))]
        if i not in seen:
            seen.add(i)
            if ok(i):
                out.append(i)
                if len(out) == n:
                    return out
    rest = [i for i in items if i not in seen and ok(i)]
    rng.shuffle(rest)
    return out + rest[:n - len(out)]


# ---- user tasks -------------------------------------------------------------------------------

class _Pos(NamedTuple):
    user: str
    history: tuple[str, ...]     # shown (newest history_len)
    masked: tuple[str, ...]      # never ranked
    target: str


def _positions(split: Split, which: str, cfg: QueryConfig, users: Iterable[str] | None, task: str) -> list[_Pos]:
    us = list(split.sequences) if users is None else list(users)
    L = cfg.history_len
    out = []
    if which == "train":
        for u in us:
            tr = split.train_items(u)
            for t in range(max(1, len(tr) - cfg.train_per_user), len(tr)):
                out.append(_Pos(u, tr[max(0, t - L):t], tr[:t], tr[t]))
        return out
    if cfg.eval_users and len(us) > cfg.eval_users:
        keep = set(task_rng(cfg.seed, "query-users", which).sample(us, cfg.eval_users))
        us = [u for u in us if u in keep]
    for u in us:
        h = split.history(u, which)
        out.append(_Pos(u, h[-L:], h, split.target(u, which)))
    return out


def _user_rows(split: Split, which: str, cfg: QueryConfig, users, task: str,
               make: Callable[[_Pos, Catalogue, random.Random], tuple[object, list[Condition]] | None]) -> list[QueryRow]:
    cat = Catalogue.from_items(split.items)
    items = list(split.items)
    rng = task_rng(cfg.seed, task, which)
    rows = []
    for p in _positions(split, which, cfg, users, task):
        made = make(p, cat, rng)
        if made is None:
            continue
        ex, conds = made
        whole = set(split.sequences[p.user].items)
        neg = sample_negatives(rng, items, cfg.num_negatives, lambda i: i not in whole)
        rows.append(QueryRow(ex, Meta(p.user, p.target, neg, list(p.masked), NAN), conds))
    return rows


def build_uh2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    return _user_rows(split, which, cfg, users, "uh2i", lambda p, cat, rng: (
        UH2IExample([cat.titles[i] for i in p.history], cat.titles[p.target]), []))


def taste(cat: Catalogue, history: Iterable[str]) -> tuple[list[str], str]:
    """The most frequent set-field values of ``history`` (e.g. genres) and its main decade."""
    hist = list(history)
    values: Counter = Counter()
    decades: Counter = Counter()
    for i in hist:
        for k, v in cat.attrs[i].items():
            if isinstance(v, frozenset):
                values.update(v)
            elif k == "year" and isinstance(v, float):
                decades[f"{int(v) // 10 * 10}s"] += 1
    top = sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0])))[:3]  # ties by value, not set order
    decade = sorted(decades.items(), key=lambda kv: (-kv[1], kv[0]))[:1]
    return [v for v, _ in top], (decade[0][0] if decade else "")


def build_us2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    w = _writer(cfg, which)

    def make(p: _Pos, cat: Catalogue, rng: random.Random):
        vals, period = taste(cat, p.history)
        return US2IExample(w.summary(vals, period), cat.titles[p.target]), []
    return _user_rows(split, which, cfg, users, "us2i", make)


def build_uq2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    def make(p: _Pos, cat: Catalogue, rng: random.Random):
        facts = cat.facts(p.target)
        if not facts:
            return None
        c = rng.choice(facts)
        return UQ2IExample([cat.titles[i] for i in p.history], phrase(c), cat.titles[p.target]), [c]
    return _user_rows(split, which, cfg, users, "uq2i", make)


# ---- item-to-item -----------------------------------------------------------------------------

def cooccurrence(split: Split, window: int) -> dict[str, Counter]:
    """Item → Counter of items within ``window`` positions in some user's *train* items."""
    co: dict[str, Counter] = {}
    for u in split.sequences:
        tr = split.train_items(u)
        for a in range(len(tr)):
            for b in range(a + 1, min(len(tr), a + window + 1)):
                co.setdefault(tr[a], Counter())[tr[b]] += 1
                co.setdefault(tr[b], Counter())[tr[a]] += 1
    return co


def _held_out(item: str, seed: int, share: float = 0.1) -> bool:
    return random.Random(f"{seed}/i2i-anchor/{item}").random() < share


def build_i2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    cat = Catalogue.from_items(split.items)
    items = list(split.items)
    co = cooccurrence(split, cfg.i2i_window)
    rng = task_rng(cfg.seed, "i2i", which)
    pos_of = {i: k for k, i in enumerate(items)}
    anchors = sorted((a for a in co if _held_out(a, cfg.seed) == (which != "train")), key=pos_of.__getitem__)
    if which != "train" and cfg.eval_items and len(anchors) > cfg.eval_items:
        anchors = sorted(rng.sample(anchors, cfg.eval_items), key=pos_of.__getitem__)
    rows = []
    for a in anchors:
        related = co[a]
        for k in range(cfg.train_per_item if which == "train" else 1):
            if which == "train":
                ranked = [i for i, _ in related.most_common(10)]
                pos = ranked[k % len(ranked)] if k else rng.choice(ranked[:3])
            else:
                pos = related.most_common(1)[0][0]
            neg = sample_negatives(rng, items, cfg.num_negatives, lambda i: i != a and i not in related)
            rows.append(QueryRow(I2IExample(cat.titles[a], cat.titles[pos]), Meta("", pos, neg, [a], NAN), []))
    return rows


# ---- attribute tasks --------------------------------------------------------------------------

def _query_items(split: Split, which: str, cfg: QueryConfig, task: str) -> list[str]:
    items = list(split.items)
    if which == "train":
        tr = split.train_item_set()
        return [i for i in items for _ in range(cfg.train_per_item) if i in tr]
    n = min(cfg.eval_items or len(items), len(items))
    pos_of = {i: k for k, i in enumerate(items)}
    return sorted(task_rng(cfg.seed, task, which, "items").sample(items, n), key=pos_of.__getitem__)


def _attr_rows(split: Split, which: str, cfg: QueryConfig, task: str,
               make: Callable[[str, Catalogue, random.Random], tuple[object, list[Condition]] | None],
               negatives_violate: bool = True) -> list[QueryRow]:
    cat = Catalogue.from_items(split.items)
    items = list(split.items)
    rng = task_rng(cfg.seed, task, which)
    rows = []
    for it in _query_items(split, which, cfg, task):
        made = make(it, cat, rng)
        if made is None:
            continue
        ex, conds = made
        ok = (lambda i: i != it and not holds_all(conds, cat.attrs[i])) if negatives_violate and conds else \
            (lambda i: i != it)
        neg = sample_negatives(rng, items, cfg.num_negatives, ok)
        rows.append(QueryRow(ex, Meta("", it, neg, [], NAN), conds))
    return rows


def _sample_facts(cat: Catalogue, item: str, rng: random.Random, k_max: int) -> list[Condition]:
    facts = cat.facts(item)
    return rng.sample(facts, rng.randint(1, min(k_max, len(facts)))) if facts else []


def build_fa2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    def make(it: str, cat: Catalogue, rng: random.Random):
        facts = cat.facts(it)
        if not facts:
            return None
        rng.shuffle(facts)
        return FA2IExample([c.text() for c in facts], cat.titles[it]), facts
    return _attr_rows(split, which, cfg, "fa2i", make)


def build_sa2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    def make(it: str, cat: Catalogue, rng: random.Random):
        conds = _sample_facts(cat, it, rng, cfg.max_conditions)
        return (SA2IExample([c.text() for c in conds], cat.titles[it]), conds) if conds else None
    return _attr_rows(split, which, cfg, "sa2i", make)


def build_as2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    w = _writer(cfg, which)

    def make(it: str, cat: Catalogue, rng: random.Random):
        conds = _sample_facts(cat, it, rng, cfg.max_conditions)
        return (AS2IExample(w.describe(conds), cat.titles[it]), conds) if conds else None
    return _attr_rows(split, which, cfg, "as2i", make)


def build_nm2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    w = _writer(cfg, which)
    return _attr_rows(split, which, cfg, "nm2i", lambda it, cat, rng: (
        NM2IExample(w.misspell(cat.titles[it], rng), cat.titles[it]), []), negatives_violate=False)


def vague_conditions(cat: Catalogue, item: str, rng: random.Random, k_max: int) -> list[Condition]:
    """Conditions the item meets, looser than its facts: a number bound (``year gt 1993`` for
    1995, ``price lt 10`` for 8.99) or one of its set values (``genres has Comedy``)."""
    out: list[Condition] = []
    for k, v in cat.attrs[item].items():
        if isinstance(v, frozenset):
            out.append(Condition(k, "has", rng.choice(sorted(v))))
        elif isinstance(v, float):
            step = 10.0 if k == "year" else max(1.0, 10 ** len(str(int(v))) / 10)
            if rng.random() < 0.5:
                out.append(Condition(k, "gt", float(int(v - rng.randint(1, int(step))))))
            else:
                out.append(Condition(k, "lt", float(int(v + rng.randint(1, int(step))))))
    return rng.sample(out, rng.randint(1, min(k_max, len(out)))) if out else []


def build_vc2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    def make(it: str, cat: Catalogue, rng: random.Random):
        conds = vague_conditions(cat, it, rng, cfg.max_conditions)
        return (VC2IExample([phrase(c) for c in conds], cat.titles[it]), conds) if conds else None
    return _attr_rows(split, which, cfg, "vc2i", make)


def build_na2i(split: Split, which: str, cfg: QueryConfig, users=None) -> list[QueryRow]:
    vocab: dict[str, list[str]] = {}

    def make(it: str, cat: Catalogue, rng: random.Random):
        sets = [(k, v) for k, v in cat.attrs[it].items() if isinstance(v, frozenset) and v]
        if not sets:
            return None
        k, v = rng.choice(sets)
        if k not in vocab:
            vocab[k] = cat.set_values(k)
        others = [x for x in vocab[k] if x not in v]
        if not others:
            return None
        want, avoid = Condition(k, "has", rng.choice(sorted(v))), Condition(k, "not_has", rng.choice(others))
        return NA2IExample([str(want.value).lower()], [str(avoid.value).lower()], cat.titles[it]), [want, avoid]
    return _attr_rows(split, which, cfg, "na2i", make)


__all__ = ["QueryRow", "writer_session", "check_num_negatives", "sample_negatives", "cooccurrence", "taste", "vague_conditions", "build_uh2i", "build_i2i",
           "build_us2i", "build_fa2i", "build_sa2i", "build_as2i", "build_nm2i", "build_vc2i", "build_na2i",
           "build_uq2i"]

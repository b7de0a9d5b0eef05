"""The evaluation side of a task: what an evaluator receives, and what evaluators share.

An evaluator is ``evaluate(ctx, rows) -> {section: metrics}``: ``rows`` are the task's
materialized rows (one per user, dicts with ``input``, ``target``, ``user``,
``target_item``, ``candidates``, ``history``, ``rating``, ``_template_id``); the
returned sections (e.g. ``{"retrieval": {...}}``) go into ``metrics.json`` (with an
``_unseen`` suffix for unseen templates). The model is reached only through ``ctx``
(``EvalContext``, implemented by ``recalign.eval.evaluate``), so a task never imports
the evaluation layer: tasks sit below it (data → tasks → t5_finetune → eval).

>>> rows = [{"_template_id": "a"}, {"_template_id": "b"}, {"_template_id": "a"}]
>>> by_template(rows, lambda ix: {"n": float(len(ix))}, ["n"])
{'a': {'n': 2.0, 'users': 2}, 'b': {'n': 1.0, 'users': 1}}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, Union

import numpy as np

from ..data import Split

#: what an operation takes per input: a materialized row (``input`` plus its items) or, outside a task, the text
Row = Union[str, Mapping[str, Any]]


@dataclass
class EvalOptions:
    """Decoding settings of one ``evaluate`` call."""

    beam: int = 20
    length_penalty: float = 0.0
    exact: bool = False
    batch_size: int = 16
    progress: bool = True
    ks: tuple[int, ...] = (5, 10, 20)


class Scored(Protocol):
    """Scores of one user's candidates: ``logp`` (sum of token log-probs), ``normalized``
    (per-token mean), ``n_tokens``."""

    logp: np.ndarray
    normalized: np.ndarray
    n_tokens: np.ndarray


class MetricFns(Protocol):
    """The one metric implementation (``recalign.eval.metrics``), handed to evaluators.
    ``per_user=True`` adds a ``"per_user"`` entry (rows for the bootstrap) to a section."""

    Ranking: type

    def ranking_metrics(self, r: Any, ks: Sequence[int] = ..., per_user: bool = ...) -> dict: ...

    def candidate_metrics(self, r: Any, n_candidates: int | None = ..., ks: Sequence[int] = ...,
                          per_user: bool = ...) -> dict: ...

    def rating_metrics(self, pred: Any, true: Any) -> dict: ...

    def per_user_rating(self, users: Sequence[str], preds: dict, true: Any, scale: Any = ...) -> Any: ...


class EvalContext(Protocol):
    """What an evaluator may use: the split, the options, the metrics, and the model's
    operations. Every operation takes the task's rows (the materialized dicts: ``input`` and the items
    it holds — ``history``, ``candidates`` …), not bare strings, so a model that reads more than the
    text (soft item tokens) sees which items each input holds; one ``encode(rows)`` turns them into
    model inputs for every operation."""

    split: Split
    which: str            # the data split: "test" or "valid"
    data_split: str       # the materialized split, e.g. "test_unseen" (names prediction files)
    options: EvalOptions
    metrics: MetricFns
    notes: list[str]

    def encode(self, rows: Sequence[Row]) -> Any:
        """The model's inputs for ``rows`` (``eval.inputs.Encoded``): the one encoding every operation uses."""

    def rank_catalogue(self, rows: Sequence[Row], exclude: Sequence[Sequence[str]]) -> list[list[tuple[str, float]]]:
        """Per row, items of the whole catalogue (minus ``exclude``) best first, with scores
        (trie-constrained beam search: ``options.beam`` items)."""

    def rank_catalogue_exact(self, rows: Sequence[Row], exclude: Sequence[Sequence[str]],
                             top_k: int) -> list[list[tuple[str, float]]]:
        """Like ``rank_catalogue`` but every item scored by log-likelihood (top ``top_k``)."""

    def score_candidates(self, rows: Sequence[Row], candidates: Sequence[Sequence[str]],
                         desc: str = "") -> list[Scored]:
        """Per row, the log-likelihood of each candidate item's text as the target."""

    def score_texts(self, rows: Sequence[Row], texts: Sequence[str], desc: str = "") -> list[np.ndarray]:
        """Per row, the summed log-prob of each of ``texts`` (the same texts for every input)."""

    def generate(self, rows: Sequence[Row], max_new_tokens: int = 8) -> list[str]:
        """Greedy answers, one per row."""

    def write_predictions(self, name: str, records: list[dict]) -> None:
        """Write ``predictions_<name>_<data_split>.jsonl`` into the result directory."""


def by_template(rows: Sequence[dict], metric: Callable[[list[int]], dict], keys: Sequence[str]) -> dict[str, dict]:
    """``metric(indices) -> dict`` per template id of ``rows`` (``_template_id``), keeping ``keys`` and
    ``users``: which wording the model copes with (one template may fail where others work)."""
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(str(r.get("_template_id") or "?"), []).append(i)
    out = {}
    for tid, idx in sorted(groups.items()):
        m = metric(idx)
        out[tid] = {**{k: m[k] for k in keys if k in m}, "users": len(idx)}
    return out


def rank_by_score(items: Sequence[str], scores: np.ndarray) -> list[str]:
    """Items sorted by score, best first; ties keep the given order (a stable sort).

    >>> rank_by_score(["a", "b", "c"], np.array([1.0, 3.0, 1.0]))
    ['b', 'a', 'c']
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return [items[i] for i in order]


def per_second(n: int, wall: float) -> float | None:
    return round(n / wall, 3) if wall else None

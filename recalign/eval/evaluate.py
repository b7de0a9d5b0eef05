"""Evaluate a fine-tuned seq2seq checkpoint on a run's split: every task with an evaluator.

``evaluate(run_dir)`` reads the prepared Split (``RUN/data``), the materialized text
data (``RUN/text/<task>/<split>``, seen templates; ``<split>_unseen`` for unseen ones)
and the model (``RUN/model`` or ``model_dir``), and writes
``RUN/results/<name>/metrics.json`` plus ``predictions_<task>_<datasplit>.jsonl``.

The loop knows no task: for each task of ``TASKS.evaluable()`` (or ``tasks``) and each
template set it loads the rows, keeps one per user (the first row of that user; extra
rows are counted in ``notes``) and calls the task's evaluator with a ``ModelContext``:
the model's operations (trie-constrained beam search over every item title, exact
scoring, candidate and answer scoring, greedy answers), the split, the options and
the one metric implementation (``eval.metrics``). What each built-in task measures is
in its module: ``tasks/retrieval.py`` (the headline: full-catalogue Recall/NDCG/MRR,
history masked inside the trie), ``tasks/ranking.py`` (candidate likelihoods),
``tasks/rating.py`` (parsed answers and E[r] over scored values). Sections of unseen
templates get an ``_unseen`` suffix.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType
from typing import Sequence

import numpy as np

from ..atomic_io import write_jsonl
from ..data import load_split, split_stats
from ..data.fingerprint import split_fingerprint
from ..errors import RecalignError, nearest
from ..materialize import load_task_data
from ..run_dir import RunDir
from ..t5_finetune import load_checkpoint
from ..tasks import TASKS, EvalOptions
from ..tasks.items import ItemRule, ItemWriter
from . import metrics as metric_fns
from .decode import DEFAULT_BEAM, DEFAULT_LENGTH_PENALTY, constrained_beam_search
from .inputs import Encode, Encoded, Row, encode_texts
from .item_rank import atomic_token_ids, rank_items
from .rating import generate_answers
from . import distributed
from .report import PROTOCOL, write_result
from .scoring import Scores, exact_rankings, score_titles, score_token_ids
from .trie import TitleTrie, item_token_ids

TEMPLATE_SETS = ("seen", "unseen")
DEFAULT_NAME = "recalign-t5"
KS = (5, 10, 20)


class ModelContext:
    """``tasks.evaluation.EvalContext`` for a seq2seq model: what a task's evaluator may call.
    The title trie is built on first use (only tasks that rank the catalogue pay for it)."""

    metrics: ModuleType = metric_fns

    def __init__(self, model, tokenizer, split, options: EvalOptions, out_dir: Path, notes: list[str],
                 items: ItemRule | None = None, encode: Encode | None = None) -> None:
        self.model, self.tokenizer, self.split, self.options = model, tokenizer, split, options
        self._encode = encode
        self.out_dir, self.notes = out_dir, notes
        self.which, self.data_split = "test", "test"
        self._trie: TitleTrie | None = None
        self.item_rule = items or ItemRule()
        self.item_texts = ItemWriter(split.items, self.item_rule).target  # what the model generates per item

    @property
    def trie(self) -> TitleTrie:
        if self._trie is None:
            self._trie = TitleTrie.from_titles(self.item_texts, self.tokenizer)
            if self._trie.collisions:
                self.notes.append(f"{self._trie.collisions} titles share their token ids with another title: such "
                                  "items are ranked together at the beam's position")
        return self._trie

    @property
    def trie_max_len(self) -> int | None:
        """Longest title in tokens (+EOS), or None when no task ranked the catalogue."""
        return self._trie.max_len if self._trie else None

    @property
    def device(self):
        return next(self.model.parameters()).device

    def encode(self, rows: Sequence[Row]) -> Encoded:
        """The one encode function every operation below uses: rows (or their input texts) → model
        inputs (``eval.inputs.encode_texts``). A model that reads more than text overrides it: it sees
        the rows, so it knows the items each input holds."""
        if self._encode is not None:
            return self._encode(rows)
        return encode_texts(self.tokenizer, rows, device=self.device)

    def rank_catalogue(self, rows: Sequence[Row], exclude: Sequence[Sequence[str]]) -> list[list[tuple[str, float]]]:
        o = self.options
        if self.item_rule.atomic_target:  # one decoder step, exact full ranking (eval/item_rank.py)
            return self._rank_items(rows, exclude, max(o.beam, *o.ks))
        return constrained_beam_search(self.model, self.tokenizer, list(rows), self.trie,
                                       [self.trie.exclusion(m) for m in exclude], beam=o.beam,
                                       length_penalty=o.length_penalty, batch_size=o.batch_size,
                                       progress=o.progress, encode=self.encode)

    def rank_catalogue_exact(self, rows: Sequence[Row], exclude: Sequence[Sequence[str]],
                             top_k: int) -> list[list[tuple[str, float]]]:
        if self.item_rule.atomic_target:
            return self._rank_items(rows, exclude, top_k)
        return exact_rankings(self.model, self.tokenizer, list(rows), self.trie,
                              [self.trie.exclusion(m) for m in exclude], top_k=top_k,
                              progress=self.options.progress, encode=self.encode)

    def _rank_items(self, rows: Sequence[Row], exclude: Sequence[Sequence[str]], top_k: int):
        items, ids = atomic_token_ids(self.item_texts, self.tokenizer)
        return rank_items(self.model, self.tokenizer, list(rows), items, ids, exclude, top_k=top_k,
                          batch_size=max(self.options.batch_size, 64), progress=self.options.progress,
                          encode=self.encode)

    def score_candidates(self, rows: Sequence[Row], candidates: Sequence[Sequence[str]],
                         desc: str = "scoring") -> list[Scores]:
        titles = self.item_texts  # each candidate scored as the text the model generates for it
        return score_titles(self.model, self.tokenizer, list(rows), [list(c) for c in candidates], titles,
                            user_batch_size=self.options.batch_size, progress=self.options.progress, desc=desc,
                            encode=self.encode)

    def score_texts(self, rows: Sequence[Row], texts: Sequence[str], desc: str = "scoring") -> list[np.ndarray]:
        ids = list(item_token_ids({str(k): t for k, t in enumerate(texts)}, self.tokenizer).values())
        sc = score_token_ids(self.model, self.tokenizer, list(rows), [ids] * len(rows),
                             user_batch_size=max(self.options.batch_size, 32), progress=self.options.progress,
                             desc=desc, encode=self.encode)
        return [s.logp for s in sc]

    def generate(self, rows: Sequence[Row], max_new_tokens: int = 8) -> list[str]:
        return generate_answers(self.model, self.tokenizer, list(rows), batch_size=max(self.options.batch_size, 32),
                                max_new_tokens=max_new_tokens, progress=self.options.progress, encode=self.encode)

    def write_predictions(self, name: str, records: list[dict]) -> None:
        write_jsonl(self.out_dir / f"predictions_{name}_{self.data_split}.jsonl", records)


def item_rule(run_dir: Path) -> ItemRule:
    """The item representation the run's generated text records (titles when there is none)."""
    run = RunDir(run_dir)
    return run.generated_text().item_rule if run.has_manifest() else ItemRule()


def input_window(run_dir: Path) -> int | None:
    """The most recent history items an input shows (``generate.history_len`` in the record)."""
    run = RunDir(run_dir)
    return run.generated_text().history_len if run.has_manifest() else None


def template_tasks(run_dir: Path, tasks: Sequence[str], template_ids: Sequence[str]) -> list:
    """``(task, template id, RunText)`` for each of ``template_ids``: the evaluated task whose template
    stack (as ``RUN/text/manifest.json`` records it) has that id; an id no task has is an error."""
    if not template_ids:
        return []
    from ..preview import RunText

    texts = {t: RunText.from_run_dir(run_dir, t) for t in tasks}
    stacks = {t: [x.id for x in rt.templates(t)] for t, rt in texts.items()}
    out = []
    for tid in dict.fromkeys(template_ids):
        owners = [t for t in tasks if tid in stacks[t]]
        if not owners:
            known = [i for ids in stacks.values() for i in ids]
            raise RecalignError(f"no template {tid!r} in the evaluated tasks' templates ({', '.join(tasks)}; "
                                f"the run's template directories: the manifest's templates_dirs).{nearest(tid, known)}",
                                field="template_ids")
        out += [(t, tid, texts[t]) for t in owners]
    return out


def _load_rows(run_dir: Path, task: str, data_split: str):
    """The materialized rows of ``task`` / ``data_split`` or None when absent."""
    try:
        return load_task_data(run_dir, task, data_split)
    except RecalignError:
        return None


def _one_per_user(ds, users: set[str] | None) -> tuple[list[dict], int]:
    rows, seen, extra = [], set(), 0
    for r in ds:
        u = str(r["user"])
        if u in seen:
            extra += 1
            continue
        if users is not None and u not in users:
            continue
        seen.add(u)
        rows.append(r)
    return rows, extra


def _training_info(path) -> dict:
    """What ``recalign_train.json`` says about how training ended (for the comparison table)."""
    p = Path(path)
    info_path = next((q for q in (p / "recalign_train.json", p / "model" / "recalign_train.json") if q.is_file()), None)
    if info_path is None:
        return {}
    info = json.loads(info_path.read_text())
    budget = bool(info.get("stopped_by_budget"))
    steps, max_steps = info.get("global_step"), info.get("max_steps")
    # a time budget is a safety cap: a run it stopped before its configured steps is not that run
    below = bool(budget and steps is not None and max_steps and max_steps > 0 and steps < max_steps)
    return {"steps": steps, "max_steps": max_steps, "below_config": below,
            "precision": info.get("precision"), "cpu": info.get("cpu"),
            "wall_time_s": info.get("train_runtime_s"),
            "stopped_by": "time_budget" if budget else "max_steps", "converged": False,
            "train_examples": info.get("train_examples"), "num_parameters": info.get("num_parameters"),
            "best_checkpoint": info.get("best_model_checkpoint"), "model_dir": str(info_path.parent.resolve())}


def evaluate(run_dir: str | Path, split: str = "test", model_dir: str | Path | None = None, *,
             tasks: Sequence[str] | None = None, templates: Sequence[str] = TEMPLATE_SETS,
             beam: int = DEFAULT_BEAM, length_penalty: float = DEFAULT_LENGTH_PENALTY, max_users: int | None = None,
             batch_size: int = 16, exact: bool = False, name: str = DEFAULT_NAME, progress: bool = True, model=None,
             tokenizer=None, device: str | None = None, template_ids: Sequence[str] = (),
             encode: Encode | None = None) -> dict:
    """Evaluate a seq2seq model on ``split`` ('test' or 'valid') and write its result directory.

    ``tasks``: names of tasks with an evaluator (default: all of ``TASKS.evaluable()``).
    ``model``/``tokenizer`` may be passed directly (tests, notebooks); otherwise they are
    loaded from ``model_dir`` or ``RUN/model``. ``template_ids``: templates (seen or unseen, of the
    run's template stack) each scored on *every* user — each user's example rendered with that one
    template exactly as ``generate`` renders (``recalign.preview``) — in sections ``<task>@<id>``.
    ``encode``: the model's own ``rows → Encoded`` (``eval.inputs``) for a model that reads more than the
    text (default: the text encoding). Returns the metrics dict written to ``RUN/results/<name>/metrics.json``.
    """
    run_dir = Path(run_dir)
    evaluable = [t.name for t in TASKS.evaluable()]
    tasks = list(evaluable if tasks is None else tasks)
    if split not in ("test", "valid"):
        raise RecalignError(f"split must be 'test' or 'valid', got {split!r}", field="split")
    for t in tasks:
        if t not in evaluable:
            raise RecalignError(f"unknown task {t!r}; evaluable: {', '.join(evaluable)}.{nearest(t, evaluable)}",
                                field="tasks")
    for t in templates:
        if t not in TEMPLATE_SETS:
            raise RecalignError(f"unknown template set {t!r}; use seen and/or unseen", field="templates")
    if beam < 1:
        raise RecalignError(f"beam must be at least 1, got {beam}", field="beam")
    RunDir(run_dir).check_text_current()         # the split, the text and the model: made from one another
    if model is None:
        RunDir(run_dir).check_model_current(model_dir)
    by_template = template_tasks(run_dir, tasks, template_ids)   # checked before the model is loaded
    sp = load_split(run_dir)
    if model is None or tokenizer is None:
        model, tokenizer = load_checkpoint(model_dir or run_dir)
    if device is None:
        device = distributed.local_device()
    model.to(device).eval()
    users = set(sp.users[:max_users]) if max_users else None
    out_dir = RunDir(run_dir).result(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    result: dict = {"kind": "seq2seq", "split": split, "split_fingerprint": split_fingerprint(sp),
                    "dataset": split_stats(sp), "training": _training_info(model_dir or run_dir)}
    result["protocol"] = {**PROTOCOL,
                          "retrieval": f"trie-constrained beam search over all {len(sp.items)} item titles; "
                                       "the beams are the ranking (items beyond the beams are not ranked); "
                                       "history items are excluded inside the trie",
                          "masking_set": "Split.history(user, split): every item before the target",
                          "ranking_task": "the candidate list stored with each example (labelled, not the headline)",
                          "users": "one example per user" + (f", first {max_users} users" if max_users else "")}
    options = EvalOptions(beam=beam, length_penalty=length_penalty, exact=exact, batch_size=batch_size,
                          progress=progress, ks=KS)
    rule = item_rule(run_dir)
    result["input_window"] = input_window(run_dir)   # history items the model reads (compare's window line)
    if rule.atomic_target:
        result["protocol"]["retrieval"] = (f"exact full ranking of all {len(sp.items)} items: one decoder step, "
                                           "log-softmax over the item tokens, history items masked (no beam)")
    result["protocol"]["items"] = rule.describe()
    ctx = distributed.shard(ModelContext(model, tokenizer, sp, options, out_dir, notes, rule, encode=encode))  # users split across ranks
    timings = {}
    for task in tasks:
        evaluator = TASKS.get(task).evaluator
        for tset in templates:
            data_split = split if tset == "seen" else f"{split}_unseen"
            ds = _load_rows(run_dir, task, data_split)
            if ds is None:
                notes.append(f"{task}/{data_split}: no materialized data (RUN/text/{task}/{data_split}); skipped")
                continue
            rows, extra = _one_per_user(ds, users)
            if extra:
                notes.append(f"{task}/{data_split}: {extra} extra row(s) for already evaluated users not used")
            if not rows:
                notes.append(f"{task}/{data_split}: no rows for the selected users; skipped")
                continue
            ctx.which, ctx.data_split = split, data_split
            t0 = time.perf_counter()
            sections = evaluator(ctx, rows)
            timings[data_split + "/" + task] = round(time.perf_counter() - t0, 2)
            suffix = "" if tset == "seen" else "_unseen"
            for k, v in sections.items():
                result[k + suffix] = v
    for task, tid, rt in by_template:
        from ..preview import render
        rows, _ = _one_per_user(render(rt, sp, task, split, template_id=tid), users)
        ctx.which, ctx.data_split = split, f"{split}@{tid}"
        t0 = time.perf_counter()
        sections = TASKS.get(task).evaluator(ctx, rows)
        timings[f"{split}@{tid}/{task}"] = round(time.perf_counter() - t0, 2)
        for k, v in sections.items():
            result[f"{k}@{tid}"] = v
    if by_template:
        result["template_ids"] = {tid: task for task, tid, _ in by_template}
    for t in tasks:
        if "seen" in templates and t not in result:
            notes.append(f"no seen-template {t} result" + (": `recalign compare` needs one" if t == "retrieval" else ""))
    result["decoding"] = {"beam": beam, "length_penalty": length_penalty, "batch_size": batch_size,
                          "constraint": "prefix trie over tokenized titles (+EOS), per-user exclusion",
                          "max_new_tokens": ctx.trie_max_len, "exact": exact,
                          "rating": "greedy, max 8 new tokens; *_expected/*_argmax: every scale value scored",
                          "device": str(device), "wall_s": timings}
    result["notes"] = notes
    if not distributed.is_main():
        return result  # rank 0 writes the result (every rank holds the same gathered outputs)
    write_result(run_dir, name, result)
    return json.loads((out_dir / "metrics.json").read_text())

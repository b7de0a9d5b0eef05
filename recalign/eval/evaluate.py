"""Evaluate a fine-tuned seq2seq checkpoint on a run's split: retrieval, ranking, rating.

``evaluate(run_dir)`` reads the prepared Split (``RUN/data``), the materialized text
data (``RUN/text/<task>/<split>``, seen templates; ``<split>_unseen`` for unseen ones)
and the model (``RUN/model`` or ``model_dir``), and writes
``RUN/results/<name>/metrics.json`` plus ``predictions_<task>_<datasplit>.jsonl``.

- **retrieval** (the headline): trie-constrained beam search over *all* item titles;
  the beams, best first, are the ranking; the user's history items are excluded
  inside the trie (the same masking set as the baselines: every item before the
  target, ``Split.history(user, split)``, plus the items the input was built from).
  Metrics through ``recalign.eval.metrics.ranking_metrics`` (K = 5, 10, 20). With
  ``exact=True`` every title is also scored (full ranking by log-likelihood) and
  reported as ``retrieval_exact``: what beam search loses.
- **ranking**: each candidate list of the ranking task scored by log-likelihood; HR@1,
  HR@5, NDCG@5 by the raw sum of log-probs (``hr@1`` …) and by the per-token mean
  (``hr@1_lennorm`` …), through ``candidate_metrics``.
- **rating**: greedy answer, parsed (``rating.parse_rating``), RMSE/MAE through
  ``rating_metrics``, unparsable answers counted; on a discrete scale every value is
  also scored (``rating.scored_ratings``): ``rmse_expected`` (E[r]) and ``rmse_argmax``.

One example per user and split is evaluated (the first row of that user; extra rows
are counted in ``notes``). Each task section also holds ``by_template``: the headline
numbers per template id (retrieval Recall/NDCG@10, ranking HR@1/NDCG@5, rating RMSE of
E[r] and unparsable answers), so a wording the model cannot handle shows up by name.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Sequence

from ..atomic_io import write_jsonl
from ..errors import RecalignError, nearest
from .decode import DEFAULT_BEAM, DEFAULT_LENGTH_PENALTY, constrained_beam_search
from .trie import TitleTrie

TASKS = ("retrieval", "ranking", "rating")
TEMPLATE_SETS = ("seen", "unseen")
DEFAULT_NAME = "recalign-t5"
KS = (5, 10, 20)


def _load_rows(run_dir: Path, task: str, data_split: str):
    """The materialized rows of ``task`` / ``data_split`` or None when absent."""
    try:
        from ..generators import load_task_data  # the generators' reader, when present
    except ImportError:
        load_task_data = None
    if load_task_data is not None:
        try:
            return load_task_data(run_dir, task, data_split)
        except (FileNotFoundError, RecalignError):
            return None
    d = run_dir / "text" / task / data_split
    if not d.is_dir():
        return None
    from datasets import load_from_disk

    return load_from_disk(str(d))


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


def _by_template(rows, metric, keys) -> dict[str, dict]:
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


def _masking_set(split, user: str, which: str, row: dict) -> list[str]:
    return list(dict.fromkeys([*split.history(user, which), *map(str, row.get("history") or [])]))


def _retrieval(model, tok, rows, split, which, trie, *, beam, length_penalty, batch_size, exact, progress,
               out_dir: Path, data_split: str, notes: list[str]) -> dict:
    from .metrics import Ranking, ranking_metrics
    from .scoring import exact_rankings

    titles = {i: it.title for i, it in split.items.items()}
    mism = sum(1 for r in rows if str(r["target"]).strip() != titles.get(str(r["target_item"]), ""))
    if mism:
        notes.append(f"retrieval/{data_split}: {mism} of {len(rows)} targets differ from the item title: "
                     "the trie ranks bare titles")
    users = [str(r["user"]) for r in rows]
    targets = [str(r["target_item"]) for r in rows]
    masks = [_masking_set(split, u, which, r) for u, r in zip(users, rows)]
    exs = [trie.exclusion(m) for m in masks]
    in_hist = sum(1 for t, m in zip(targets, masks) if t in set(m))
    t0 = time.perf_counter()
    res = constrained_beam_search(model, tok, [r["input"] for r in rows], trie, exs, beam=beam,
                                  length_penalty=length_penalty, batch_size=batch_size, progress=progress)
    wall = time.perf_counter() - t0
    ranked = [[i for i, _ in x] for x in res]
    ks = [k for k in KS if k <= beam] or [beam]
    m = ranking_metrics(Ranking(users, ranked, targets), ks=ks)
    m.update(beam=beam, length_penalty=length_penalty, ranked_mean=sum(map(len, ranked)) / max(1, len(ranked)),
             targets_in_history=in_hist, wall_s=round(wall, 2), users_per_s=round(len(rows) / wall, 3) if wall else None)
    k = 10 if 10 in ks else ks[-1]
    m["by_template"] = _by_template(rows, lambda ix: ranking_metrics(
        Ranking([users[i] for i in ix], [ranked[i] for i in ix], [targets[i] for i in ix]), ks=[k]),
        [f"recall@{k}", f"ndcg@{k}"])
    out = {"retrieval": m}
    recs = [{"user": u, "target": t, "rank": (rk.index(t) + 1 if t in rk else None), "ranked": rk,
             "scores": [round(s, 5) for _, s in x], "masked": len(mk)}
            for u, t, rk, x, mk in zip(users, targets, ranked, res, masks)]
    write_jsonl(out_dir / f"predictions_retrieval_{data_split}.jsonl", recs)
    if exact:
        t0 = time.perf_counter()
        ex = exact_rankings(model, tok, [r["input"] for r in rows], trie, exs, top_k=max(KS, default=20),
                            progress=progress)
        wall = time.perf_counter() - t0
        er = [[i for i, _ in x] for x in ex]
        me = ranking_metrics(Ranking(users, er, targets), ks=KS)
        me.update(top1_agrees_with_beam=sum(1 for a, b in zip(er, ranked) if a[:1] == b[:1]) / max(1, len(er)),
                  wall_s=round(wall, 2), users_per_s=round(len(rows) / wall, 3) if wall else None,
                  method="every non-masked title scored by sum of token log-probs (no length penalty)")
        out["retrieval_exact"] = me
        write_jsonl(out_dir / f"predictions_retrieval_exact_{data_split}.jsonl",
                     [{"user": u, "target": t, "rank": (rk.index(t) + 1 if t in rk else None), "ranked": rk,
                       "scores": [round(s, 5) for _, s in x]} for u, t, rk, x in zip(users, targets, er, ex)])
    return out


def _ranking(model, tok, rows, split, *, batch_size, progress, out_dir: Path, data_split: str) -> dict:
    from .metrics import Ranking, candidate_metrics
    from .scoring import rank_by_score, score_titles

    titles = {i: it.title for i, it in split.items.items()}
    users = [str(r["user"]) for r in rows]
    targets = [str(r["target_item"]) for r in rows]
    cands = [[str(c) for c in r["candidates"]] for r in rows]
    unknown = {c for cs in cands for c in cs if c not in titles}
    if unknown:
        raise RecalignError(f"ranking candidates name unknown items {sorted(unknown)[:5]}: data and split differ",
                            path=f"text/ranking/{data_split}")
    t0 = time.perf_counter()
    sc = score_titles(model, tok, [r["input"] for r in rows], cands, titles, user_batch_size=batch_size,
                      progress=progress, desc="ranking")
    wall = time.perf_counter() - t0
    raw = [rank_by_score(c, s.logp) for c, s in zip(cands, sc)]
    norm = [rank_by_score(c, s.normalized) for c, s in zip(cands, sc)]
    n_c = max((len(c) for c in cands), default=0)
    m_raw = candidate_metrics(Ranking(users, raw, targets), n_c, ks=(1, 5))
    m_norm = candidate_metrics(Ranking(users, norm, targets), n_c, ks=(1, 5))
    m = {k: m_raw[k] for k in ("hr@1", "hr@5", "ndcg@5")}
    m.update({f"{k}_lennorm": m_norm[k] for k in ("hr@1", "hr@5", "ndcg@5")})
    m["by_template"] = _by_template(rows, lambda ix: candidate_metrics(
        Ranking([users[i] for i in ix], [raw[i] for i in ix], [targets[i] for i in ix]), n_c, ks=(1, 5)),
        ["hr@1", "ndcg@5"])
    m.update(candidates=n_c, users=m_raw["users"],
             scores="hr@K/ndcg@5: sum of token log-probs (raw); *_lennorm: mean log-prob per token",
             wall_s=round(wall, 2), users_per_s=round(len(rows) / wall, 3) if wall else None)
    write_jsonl(out_dir / f"predictions_ranking_{data_split}.jsonl",
                 [{"user": u, "target": t, "candidates": c, "ranked_raw": a, "ranked_lennorm": b,
                   "logp": [round(float(x), 5) for x in s.logp], "n_tokens": s.n_tokens.tolist()}
                  for u, t, c, a, b, s in zip(users, targets, cands, raw, norm, sc)])
    return {"ranking": m}


def _rating(model, tok, rows, split, *, batch_size, progress, out_dir: Path, data_split: str,
            notes: list[str]) -> dict:
    import numpy as np

    from .metrics import rating_metrics
    from .rating import generate_answers, rating_report, scored_ratings

    rows = [r for r in rows if r.get("rating") is not None and not math.isnan(float(r["rating"]))]
    if not rows:
        notes.append(f"rating/{data_split}: no example with a known rating; skipped")
        return {}
    train = np.array([x for u in split.users for x in split.train_ratings(u)], dtype=float)
    train = train[~np.isnan(train)]
    scale = (float(train.min()), float(train.max())) if len(train) else (1.0, 5.0)
    fallback = float(train.mean()) if len(train) else sum(scale) / 2
    t0 = time.perf_counter()
    answers = generate_answers(model, tok, [r["input"] for r in rows], batch_size=max(batch_size, 32),
                               progress=progress)
    wall = time.perf_counter() - t0
    true = [float(r["rating"]) for r in rows]
    m, parsed = rating_report(answers, true, scale=scale, fallback=fallback)
    m.update(wall_s=round(wall, 2))
    values = sorted(set(train.tolist()))
    values = values if 0 < len(values) <= 20 else None
    exp = top = probs = [None] * len(rows)
    if values:       # a discrete scale: also score every value (no parsing, every user answered)
        exp, top, probs = scored_ratings(model, tok, [r["input"] for r in rows], values,
                                         batch_size=max(batch_size, 32), progress=progress)
        me, mt = rating_metrics(exp, true), rating_metrics(top, true)
        m.update(rmse_expected=me["rmse"], mae_expected=me["mae"], rmse_argmax=mt["rmse"], mae_argmax=mt["mae"],
                 scored_values=values)
        m["by_template"] = _by_template(rows, lambda ix: {
            "rmse_expected": rating_metrics([exp[i] for i in ix], [true[i] for i in ix])["rmse"],
            "unparsable": sum(parsed[i] is None for i in ix)}, ["rmse_expected", "unparsable"])
    write_jsonl(out_dir / f"predictions_rating_{data_split}.jsonl",
                 [{"user": str(r["user"]), "item": str(r["target_item"]), "true": t, "answer": a, "parsed": p,
                   "expected": e, "argmax": b, "probs": q}
                  for r, t, a, p, e, b, q in zip(rows, true, answers, parsed, exp, top, probs)])
    return {"rating": m}


def _training_info(path) -> dict:
    """What ``recalign_train.json`` says about how training ended (for the comparison table)."""
    p = Path(path)
    info_path = next((q for q in (p / "recalign_train.json", p / "model" / "recalign_train.json") if q.is_file()), None)
    if info_path is None:
        return {}
    info = json.loads(info_path.read_text())
    budget = bool(info.get("stopped_by_budget"))
    return {"steps": info.get("global_step"), "wall_time_s": info.get("train_runtime_s"),
            "stopped_by": "time_budget" if budget else "max_steps", "converged": False,
            "train_examples": info.get("train_examples"), "num_parameters": info.get("num_parameters"),
            "best_checkpoint": info.get("best_model_checkpoint")}


def evaluate(run_dir: str | Path, split: str = "test", model_dir: str | Path | None = None, *,
             tasks: Sequence[str] = TASKS, templates: Sequence[str] = TEMPLATE_SETS, beam: int = DEFAULT_BEAM,
             length_penalty: float = DEFAULT_LENGTH_PENALTY, max_users: int | None = None, batch_size: int = 16,
             exact: bool = False, name: str = DEFAULT_NAME, progress: bool = True, model=None,
             tokenizer=None, device: str | None = None) -> dict:
    """Evaluate a seq2seq model on ``split`` ('test' or 'valid') and write its result directory.

    ``model``/``tokenizer`` may be passed directly (tests, notebooks); otherwise they are
    loaded from ``model_dir`` or ``RUN/model``. Returns the metrics dict written to
    ``RUN/results/<name>/metrics.json``.
    """
    from ..data import load_split, split_stats
    from .report import PROTOCOL, write_result

    run_dir = Path(run_dir)
    if split not in ("test", "valid"):
        raise RecalignError(f"split must be 'test' or 'valid', got {split!r}", field="split")
    for t in tasks:
        if t not in TASKS:
            raise RecalignError(f"unknown task {t!r}; evaluable: {', '.join(TASKS)}.{nearest(t, TASKS)}",
                                field="tasks")
    for t in templates:
        if t not in TEMPLATE_SETS:
            raise RecalignError(f"unknown template set {t!r}; use seen and/or unseen", field="templates")
    if beam < 1:
        raise RecalignError(f"beam must be at least 1, got {beam}", field="beam")
    sp = load_split(run_dir)
    if model is None or tokenizer is None:
        from ..t5_finetune import load_checkpoint

        model, tokenizer = load_checkpoint(model_dir or run_dir)
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    users = set(sp.users[:max_users]) if max_users else None
    out_dir = run_dir / "results" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    result: dict = {"kind": "seq2seq", "split": split}
    try:
        from .metrics import split_fingerprint

        result["split_fingerprint"] = split_fingerprint(sp)
    except ImportError:  # pragma: no cover
        pass
    result["dataset"] = split_stats(sp)
    result["training"] = _training_info(model_dir or run_dir)
    trie = None
    if "retrieval" in tasks:
        titles = {i: it.title for i, it in sp.items.items()}
        trie = TitleTrie.from_titles(titles, tokenizer)
        if trie.collisions:
            notes.append(f"{trie.collisions} titles share their token ids with another title: such items are "
                         "ranked together at the beam's position")
    result["protocol"] = {**PROTOCOL,
                          "retrieval": f"trie-constrained beam search over all {len(sp.items)} item titles; "
                                       "the beams are the ranking (items beyond the beams are not ranked); "
                                       "history items are excluded inside the trie",
                          "masking_set": "Split.history(user, split): every item before the target",
                          "ranking_task": "the candidate list stored with each example (labelled, not the headline)",
                          "users": "one example per user" + (f", first {max_users} users" if max_users else "")}
    timings = {}
    for task in tasks:
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
            t0 = time.perf_counter()
            if task == "retrieval":
                sec = _retrieval(model, tokenizer, rows, sp, split, trie, beam=beam, length_penalty=length_penalty,
                                 batch_size=batch_size, exact=exact, progress=progress, out_dir=out_dir,
                                 data_split=data_split, notes=notes)
            elif task == "ranking":
                sec = _ranking(model, tokenizer, rows, sp, batch_size=batch_size, progress=progress,
                               out_dir=out_dir, data_split=data_split)
            else:
                sec = _rating(model, tokenizer, rows, sp, batch_size=batch_size, progress=progress,
                              out_dir=out_dir, data_split=data_split, notes=notes)
            timings[data_split + "/" + task] = round(time.perf_counter() - t0, 2)
            suffix = "" if tset == "seen" else "_unseen"
            for k, v in sec.items():
                key = k + suffix if k != "retrieval_exact" else ("retrieval_exact" + suffix)
                result[key] = v
    if "retrieval" not in result and "retrieval" in tasks:
        notes.append("no seen-template retrieval result: `recalign compare` needs one")
    result["decoding"] = {"beam": beam, "length_penalty": length_penalty, "batch_size": batch_size,
                          "constraint": "prefix trie over tokenized titles (+EOS), per-user exclusion",
                          "max_new_tokens": trie.max_len if trie else None, "exact": exact,
                          "rating": "greedy, max 8 new tokens; *_expected/*_argmax: every scale value scored", "device": str(device), "wall_s": timings}
    result["notes"] = notes
    write_result(run_dir, name, result)
    return json.loads((out_dir / "metrics.json").read_text())

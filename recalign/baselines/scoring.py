"""From a trained RecBole model to recalign's Rankings: full-sort scores in recalign's catalogue
order (so the tie rule is the same for every model), recalign's masking, the check that
RecBole's input sequences are the Split's histories, and the ranking task's candidate lists."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data import Split
from ..errors import RecalignError
from ..eval.metrics import Ranking, topk_from_scores
from ..materialize import load_task_data
from ..run_dir import RunDir


def full_scores(model, dataloader, dataset) -> tuple[list[str], np.ndarray, list[str]]:
    """(user tokens, scores users × items, item tokens) from ``full_sort_predict`` — raw
    scores, no masking (recalign masks); the padding item 0 is dropped."""
    import torch

    uid = dataset.uid_field
    n_items = dataset.item_num
    users, blocks = [], []
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            inter = batch[0]
            s = model.full_sort_predict(inter).view(-1, n_items)[:, 1:]
            blocks.append(s.float().cpu().numpy())
            users.extend(dataset.id2token(uid, inter[uid].cpu().numpy()).tolist())
    items = dataset.field2id_token[dataset.iid_field][1:].tolist()
    return users, np.concatenate(blocks), items


def check_input_sequences(dataset, split: Split, which: str, max_len: int) -> int:
    """Verify RecBole's evaluation input sequences are ``split.history(u, which)[-max_len:]``
    for every user (the leakage rule holds on RecBole's side too). Returns users checked."""
    uid, iid = dataset.uid_field, dataset.iid_field
    inter = dataset.inter_feat
    users = dataset.id2token(uid, inter[uid].numpy())
    lists, lens = inter[dataset.item_id_list_field].numpy(), inter[dataset.item_list_length_field].numpy()
    for u, row, n in zip(users, lists, lens):
        got = tuple(dataset.id2token(iid, row[:n]).tolist())
        want = tuple(split.history(u, which)[-max_len:])
        if got != want:
            raise RecalignError(f"RecBole's {which} input for user {u} is {got[-5:]}..., expected "
                                f"{want[-5:]}... (history must be {'train+valid' if which == 'test' else 'train'})")
    return len(users)


def to_catalogue_order(scores: np.ndarray, items: list[str], catalogue: list[str]) -> np.ndarray:
    """Reorder score columns from RecBole's internal item order to recalign's catalogue order
    (``split.items``), so the tie rule means the same for every model; unknown items get -inf."""
    col = {it: j for j, it in enumerate(items)}
    idx = np.array([col.get(i, -1) for i in catalogue])
    out = scores[:, np.maximum(idx, 0)]
    out[:, idx < 0] = -np.inf
    return out


def ranking_for(split: Split, which: str, users, scores, items, k: int = 100) -> Ranking:
    hist = [split.history(u, which) for u in users]
    return Ranking(list(users), topk_from_scores(scores, items, hist, k), [split.target(u, which) for u in users])


def ranking_task_candidates(run_dir: str | Path | RunDir, split: str = "test"
                            ) -> dict[str, tuple[list[str], str]] | None:
    """The ranking task's own candidate lists (materialized by ``recalign generate``), as
    ``{user: (candidate item ids, target item id)}``; None when the manifest does not list it."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.has_manifest() or "ranking" not in run.generated_tasks():
        return None
    run.check_text_current()     # candidate lists of another split than the one trained on: refused
    ds = load_task_data(run, "ranking", split)
    return {str(u): (list(c), str(t)) for u, c, t in zip(ds["user"], ds["candidates"], ds["target_item"])}


def read_candidates(path: str | Path) -> dict[str, tuple[list[str], str]]:
    """Candidate lists: a JSONL file of ``{"user", "candidates": [item ids], "target"}``, or a run
    directory with the materialized ranking task (``RUN/text/ranking/test``)."""
    if Path(path).is_dir():
        found = ranking_task_candidates(path)
        if found is None:
            raise RecalignError("no generated ranking task here (text/manifest.json): run `recalign generate`",
                                path=path)
        return found
    out = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    r = json.loads(line)
                    out[str(r["user"])] = ([str(c) for c in r["candidates"]], str(r["target"]))
                except (json.JSONDecodeError, KeyError) as e:
                    raise RecalignError(f"expected JSON with user, candidates, target ({e})", path=path,
                                        line=n) from None
    return out


def score_candidates(users, scores, items, candidates: dict[str, tuple[list[str], str]]) -> Ranking:
    """Rank each user's candidate list by the model's full-sort scores (ties: list order)."""
    col = {it: j for j, it in enumerate(items)}
    row = {u: i for i, u in enumerate(users)}
    us, ranked, targets = [], [], []
    for u, (cands, target) in candidates.items():
        if u not in row:
            continue
        s = np.array([scores[row[u], col[c]] if c in col else -np.inf for c in cands])
        order = np.argsort(-s, kind="stable")
        us.append(u)
        ranked.append([cands[j] for j in order])
        targets.append(target)
    return Ranking(us, ranked, targets)

"""CF embeddings exported from the BPR and SASRec baselines (issue 24, step 1): catalogue row order,
scores equal to the model's, trained on train interactions only, stamped with the split's fingerprint."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from recalign.baselines import cf_embeddings, run_baseline
from recalign.baselines.cf_embeddings import ensure_cf_embeddings, load_cf_embeddings
from recalign.data import Split, load_split, write_split
from recalign.data.fingerprint import split_fingerprint
from recalign.errors import RecalignError
from recalign.run_dir import RunDir

SASREC = {"MAX_ITEM_LIST_LENGTH": 10}


def _slice(split: Split, n: int = 120) -> Split:
    """The first ``n`` users of ``split`` (whole catalogue), as tests/test_baselines.py's slice_run."""
    return Split(split.dataset, dict(list(split.sequences.items())[:n]))


def _train(run, model: str) -> tuple:
    """``run_baseline`` for 1 epoch; returns RecBole's trained model and dataset (captured at export)."""
    seen = {}
    real = cf_embeddings.export_cf_embeddings

    def capture(net, dataset, *a, **kw):
        seen.update(net=net, dataset=dataset)
        return real(net, dataset, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cf_embeddings, "export_cf_embeddings", capture)
        run_baseline(run, model, epochs=1, overrides=SASREC if model == "SASRec" else None)
    return seen["net"], seen["dataset"]


@pytest.fixture(scope="module")
def trained(ml100k_split, tmp_path_factory):
    """BPR and SASRec, 1 epoch each, on one 120-user run: {model: (run, net, dataset)}."""
    run = tmp_path_factory.mktemp("cf_slice")
    write_split(_slice(ml100k_split), run / "data")
    return {m: (run, *_train(run, m)) for m in ("BPR", "SASRec")}


def _ranked(scores: torch.Tensor, items: list[str], history, k: int = 20) -> list[str]:
    """Top ``k`` by score, history masked, ties in catalogue order (recalign's rule)."""
    s = scores.double().numpy().copy()
    pos = {it: j for j, it in enumerate(items)}
    s[[pos[h] for h in history]] = -np.inf
    return [items[j] for j in np.argsort(-s, kind="stable")[:k]]


def _ranking_jsonl(run, model):
    return [json.loads(line) for line in (run / "results" / model / "ranking.jsonl").read_text().splitlines()]


def test_bpr_tables_in_catalogue_order_give_the_models_scores(trained):
    run, net, ds = trained["BPR"]
    split = load_split(run)
    emb = load_cf_embeddings(run, "BPR")
    assert emb.items == list(split.items) and emb.users == split.users      # catalogue order, split's users
    assert emb.item_vectors.shape == (1682, 64) and emb.user_vectors.shape == (120, 64) and emb.dim == 64
    assert emb.fingerprint == split_fingerprint(split) and emb.trained_on == "train"
    # RecBole's own full-sort scores (internal ids, 0 = padding) for 5 users, mapped back by token
    uids = torch.tensor([ds.field2token_id["user_id"][u] for u in split.users[:5]])
    net.eval()
    with torch.no_grad():
        theirs = net.full_sort_predict({"user_id": uids}).view(5, -1)
    tokens = ds.field2id_token["item_id"]
    assert tokens[0] == "[PAD]"
    ours = emb.user_vectors[:5] @ emb.item_vectors.T
    row = emb.item_index()
    for j in range(1, len(tokens)):
        torch.testing.assert_close(ours[:, row[tokens[j]]], theirs[:, j], rtol=0, atol=1e-6)
    # the baseline's written test ranking is the argsort of the exported dot products (history masked)
    for r in _ranking_jsonl(run, "BPR"):
        u = emb.users.index(r["user"])
        scores = emb.user_vectors[u] @ emb.item_vectors.T
        assert _ranked(scores, emb.items, split.history(r["user"], "test")) == r["ranked"], r["user"]


def test_sasrec_item_table_in_catalogue_order(trained):
    run, net, ds = trained["SASRec"]
    split = load_split(run)
    emb = load_cf_embeddings(run, "SASRec")
    assert emb.items == list(split.items) and emb.users is None and emb.user_vectors is None
    assert emb.item_vectors.shape == (1682, 64)
    w = net.item_embedding.weight.detach()
    tok2id = ds.field2token_id["item_id"]
    assert sorted(tok2id.values())[:2] == [0, 1] and tok2id["[PAD]"] == 0
    for k, item in enumerate(emb.items):
        assert torch.equal(emb.item_vectors[k], w[tok2id[item]]), item
    assert list(tok2id)[1:] != emb.items   # RecBole's order is not the catalogue's: the mapping mattered
    # end to end: the model's sequence output · exported rows ranks as the baseline's ranking.jsonl
    rows = _ranking_jsonl(run, "SASRec")
    hist = [split.history(r["user"], "test")[-10:] for r in rows]
    seq = torch.tensor([[tok2id[i] for i in h] + [0] * (10 - len(h)) for h in hist])
    net.eval()
    with torch.no_grad():
        out = net.forward(seq, torch.tensor([len(h) for h in hist]))
    scores = out @ emb.item_vectors.T
    for r, s in zip(rows, scores):
        assert _ranked(s, emb.items, split.history(r["user"], "test")) == r["ranked"], r["user"]


def _swap_test_item(split: Split) -> tuple[Split, str, str, str]:
    """``split`` with one user's held-out test item replaced by another catalogue item. Both items are
    train targets of other users, so RecBole's token → id map (first appearance in train, valid, test
    rows) is unchanged; only the test interaction differs."""
    later = {i for s in split.sequences.values() for i in s.items[1:-2]}   # train items at position >= 1
    for u, s in split.sequences.items():
        x = s.items[-1]
        y = next((i for i in sorted(later) if i not in s.items), None)
        if x in later and y is not None:
            seqs = dict(split.sequences)
            seqs[u] = dataclasses.replace(s, items=s.items[:-1] + (y,))
            return Split(split.dataset, seqs), u, x, y
    raise AssertionError("no user to change")


@pytest.mark.parametrize("model", ["BPR", "SASRec"])
def test_a_test_interaction_does_not_change_the_embeddings(trained, model, tmp_path):
    run = trained[model][0]
    split = load_split(run)
    changed, user, x, y = _swap_test_item(split)
    assert changed.target(user, "test") == y != x == split.target(user, "test")
    assert changed.history(user, "test") == split.history(user, "test")
    write_split(changed, tmp_path / "data")
    _train(tmp_path, model)
    a, b = load_cf_embeddings(run, model), load_cf_embeddings(tmp_path, model)
    assert a.fingerprint != b.fingerprint          # another split…
    assert a.items == b.items
    assert torch.equal(a.item_vectors, b.item_vectors)   # …the same tables, bit for bit
    if model == "BPR":
        assert torch.equal(a.user_vectors, b.user_vectors)


def test_a_train_interaction_does_change_them(trained, tmp_path):
    """The control: the comparison above can fail."""
    run = trained["BPR"][0]
    split = load_split(run)
    u, s = next(iter(split.sequences.items()))
    other = next(i for i in split.items if i not in s.items)
    seqs = dict(split.sequences)
    seqs[u] = dataclasses.replace(s, items=(other,) + s.items[1:])
    write_split(Split(split.dataset, seqs), tmp_path / "data")
    run_baseline(tmp_path, "BPR", epochs=1)
    assert not torch.equal(load_cf_embeddings(run, "BPR").item_vectors,
                           load_cf_embeddings(tmp_path, "BPR").item_vectors)


def test_refusals_name_the_file_and_the_fix(trained, tmp_path):
    run = trained["BPR"][0]
    split = load_split(run)
    changed, *_ = _swap_test_item(split)
    write_split(changed, tmp_path / "data")
    target = RunDir(tmp_path).cf_embeddings("BPR")
    with pytest.raises(RecalignError) as e:
        load_cf_embeddings(tmp_path, "BPR")
    msg = str(e.value)
    assert msg.startswith(f"{target}: no CF embeddings here") and "\n" not in msg
    assert f"`recalign baseline --model BPR --run-dir {tmp_path}`" in msg
    target.parent.mkdir(parents=True)
    shutil.copy(RunDir(run).cf_embeddings("BPR"), target)   # made from the other split
    with pytest.raises(RecalignError) as e:
        load_cf_embeddings(tmp_path, "BPR")
    msg = str(e.value)
    assert msg.startswith(f"{target}: CF embeddings of another split") and "\n" not in msg
    assert f"fingerprint {split_fingerprint(split)}, the run's split is {split_fingerprint(changed)}" in msg
    assert "re-run `recalign baseline --model BPR" in msg
    sasrec = RunDir(tmp_path).cf_embeddings("SASRec")
    sasrec.parent.mkdir()
    shutil.copy(RunDir(run).cf_embeddings("BPR"), sasrec)   # BPR's file where SASRec's belongs
    with pytest.raises(RecalignError, match="not SASRec's CF embeddings \\(model 'BPR'\\)"):
        load_cf_embeddings(tmp_path, "SASRec")
    for call in (load_cf_embeddings, ensure_cf_embeddings):
        with pytest.raises(RecalignError, match="field 'model': CF embeddings are exported for BPR, SASRec only, "
                                                "not 'GRU4Rec'"):
            call(tmp_path, "GRU4Rec")


def test_ensure_trains_what_is_missing_once(tiny_split, tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    assert not (run / "results").exists()
    emb = ensure_cf_embeddings(run, "BPR", epochs=1)
    assert (run / "results" / "BPR" / "metrics.json").is_file()
    assert emb.items == list(tiny_split.items) and emb.users == tiny_split.users
    assert emb.item_vectors.shape == (8, 64) and emb.user_vectors.shape == (len(tiny_split.users), 64)
    assert json.loads((run / "results" / "BPR" / "metrics.json").read_text())["cf_embeddings"] == \
        "cf_embeddings.safetensors"

    def no_training(*a, **kw):
        raise AssertionError("trained again")

    import recalign.baselines.runner as runner
    monkeypatch.setattr(runner, "run_baseline", no_training)
    again = ensure_cf_embeddings(run, "BPR", epochs=1)
    assert torch.equal(again.item_vectors, emb.item_vectors) and torch.equal(again.user_vectors, emb.user_vectors)

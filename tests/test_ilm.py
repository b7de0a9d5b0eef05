"""ILM (issue 24): CF item embeddings → item encoder → soft tokens into a frozen backbone.

The honesty checks: a zero adaptor ranks exactly as the backbone; one item's CF vector changes
only inputs holding that item; phase 2 moves the item encoder only (backbone hash, optimizer);
item–item pairs come from train interactions only; the shuffled control is a permutation.
"""
from __future__ import annotations

import random

import pytest
import torch

from recalign.errors import RecalignError
from recalign.ilm.config import ILMArm, ILMConfig
from recalign.ilm.data import cooccurring_pairs
from recalign.ilm.encoder import MLPItemEncoder, QFormerItemEncoder, build_encoder
from recalign.ilm.soft_tokens import SoftItems, install, uninstall, weights_hash
from recalign.tasks import TASKS, GenerateConfig
from recalign.tasks.layout import join_decoder

IDS = dict(item_input="id", item_target="id", item_ids="atomic", item_compact=True)
N_ITEMS = 8


def _tokenizer(tmp_path):
    from recalign.t5_finetune.tokenizer import train_tokenizer

    tok = train_tokenizer(["What should I watch next? [history] Options: rate it"] * 30, tmp_path / "tok",
                          vocab_size=400)
    tok.add_tokens([f"<item_{k}>" for k in range(1, N_ITEMS + 1)], special_tokens=False)
    return tok


def _backbone(tok, positions: int = 0):
    from recalign.t5_finetune.models import build_model

    torch.manual_seed(0)
    first = tok.convert_tokens_to_ids("<item_1>")
    return build_model("t5-tiny", tok, dropout=0.0, encoder_positions=positions,
                       position_items=(first, first + N_ITEMS) if positions else None).eval()


def _cf(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(N_ITEMS, 16, generator=g), torch.randn(N_ITEMS, 8, generator=g)]


def _ids(tok):
    return tok.convert_tokens_to_ids([f"<item_{k}>" for k in range(1, N_ITEMS + 1)])


INPUTS = [join_decoder("What should I watch next? [history]", ["<item_1>", "<item_5>", "<item_2>"]),
          join_decoder("Options: [history]", ["<item_7>"]), "What should I watch next? <item_3> <item_4>"]


@pytest.mark.parametrize("kind", ["mlp", "qformer"])
@pytest.mark.parametrize("positions", [0, 4])
def test_a_zero_adaptor_ranks_exactly_as_the_backbone_and_a_trained_one_does_not(tmp_path, kind, positions):
    from recalign.eval.item_rank import rank_items

    tok = _tokenizer(tmp_path)
    model = _backbone(tok, positions)
    items, tids = [str(k) for k in range(1, N_ITEMS + 1)], _ids(tok)
    before = rank_items(model, tok, INPUTS, items, tids, [["1"], [], []])
    cf = _cf()
    enc = build_encoder(kind, [16, 8], model.config.d_model, width=16, n_queries=2, layers=1, heads=2, chunks=4)
    install(model, SoftItems(enc.eval(), cf, tids, len(tok)))
    same = rank_items(model, tok, INPUTS, items, tids, [["1"], [], []])
    assert same == before                                   # identical items and scores, to the bit
    torch.nn.init.normal_(enc.adaptor.weight, std=1.0)      # a trained adaptor: the ranking moves
    moved = rank_items(model, tok, INPUTS, items, tids, [["1"], [], []])
    assert any(abs(a[1] - b[1]) > 1e-4 for r, s in zip(before, moved) for a, b in zip(r, s))
    uninstall(model)
    assert rank_items(model, tok, INPUTS, items, tids, [["1"], [], []]) == before


def test_one_items_cf_vector_changes_only_the_inputs_that_hold_that_item(tmp_path):
    tok = _tokenizer(tmp_path)
    model = _backbone(tok, positions=4)
    tids = _ids(tok)
    cf = _cf()
    enc = QFormerItemEncoder([16, 8], model.config.d_model, width=16, n_queries=2, layers=1, heads=2).eval()
    torch.nn.init.normal_(enc.adaptor.weight, std=1.0)
    items = SoftItems(enc, cf, tids, len(tok))
    install(model, items)
    texts = ["What should I watch next? <item_3> <item_4>", "What should I watch next? <item_5> <item_4>",
             "What should I watch next?"]
    batch = tok(texts, return_tensors="pt", padding=True)

    def encoded():
        with torch.no_grad():
            return model.get_encoder()(**batch).last_hidden_state

    a = encoded()
    items.cf_0[2] += 1.0                                   # item 3's BPR-like vector
    b = encoded()
    mask = batch["attention_mask"].bool()
    assert not torch.allclose(a[0][mask[0]], b[0][mask[0]])  # the input holding item 3 changes
    assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])   # the others, not by a bit
    # the decoder side: the history prefix holds items too
    dec = torch.tensor([[tok.pad_token_id, tids[2]], [tok.pad_token_id, tids[4]]])
    with torch.no_grad():
        enc_out = model.get_encoder()(**tok(["x", "x"], return_tensors="pt"))
        l1 = model(encoder_outputs=enc_out, decoder_input_ids=dec).logits
        items.cf_0[2] += 1.0
        l2 = model(encoder_outputs=enc_out, decoder_input_ids=dec).logits
    assert not torch.allclose(l1[0, 1], l2[0, 1]) and torch.equal(l1[1], l2[1])


def _generated_run(tiny_split, tmp_path):
    from recalign.data import write_split
    from recalign.materialize import generate

    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    cfg = GenerateConfig(history_len=3, num_candidates=3, progress=False, decoder_history=["retrieval", "ranking"],
                         **IDS)
    generate(tiny_split, ["retrieval", "ranking", "rating"], run, cfg)
    return run


def test_phase2_moves_the_item_encoder_only(tiny_split, tmp_path):
    from recalign.ilm.phase2 import train_phase2
    from recalign.t5_finetune.config import MixtureSpec
    from recalign.t5_finetune.item_tokens import add_item_tokens

    run = _generated_run(tiny_split, tmp_path)
    tok = _tokenizer(tmp_path)
    writer = add_item_tokens(tok, run)
    from recalign.eval.item_rank import atomic_token_ids

    items, tids = atomic_token_ids(writer.target, tok)
    model = _backbone(tok)
    h0 = weights_hash(model)
    enc = MLPItemEncoder([16, 8], model.config.d_model, width=16)
    start = {k: v.clone() for k, v in enc.state_dict().items()}
    cf = [t[:len(items)] for t in _cf()]
    info = train_phase2(model, tok, SoftItems(enc, cf, tids, len(tok)), run,
                        MixtureSpec(tasks=["retrieval", "ranking", "rating"]), steps=4, batch_size=4, lr=1e-2,
                        max_lengths=(64, 16), log=None)
    assert info["steps"] == 4 and info["backbone_unchanged"] and info["backbone_sha256"] == h0
    uninstall(model)
    assert weights_hash(model) == h0                       # the backbone, bit for bit
    assert any(not torch.equal(start[k], v) for k, v in enc.state_dict().items())   # the encoder learned
    assert not torch.equal(start["adaptor.weight"], enc.adaptor.weight)
    assert info["trainable_parameters"] == sum(p.numel() for p in enc.parameters())


def test_weights_hash_sees_a_single_changed_value(tmp_path):
    model = _backbone(_tokenizer(tmp_path))
    h = weights_hash(model)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-6
    assert weights_hash(model) != h


def test_item_item_pairs_come_from_train_interactions_only(tiny_split):
    import dataclasses

    from recalign.data.split import UserSequence

    items = sorted(tiny_split.items)
    pairs = cooccurring_pairs(tiny_split, items, window=2)
    train_pairs = set()
    for u in tiny_split.sequences:
        tr = tiny_split.train_items(u)
        train_pairs |= {(items.index(a), items.index(b)) for k, a in enumerate(tr) for b in tr[k + 1:k + 3] if a != b}
    assert set(pairs) == train_pairs and pairs
    # changing a held-out (valid/test) interaction changes no pair
    u = next(u for u, s in tiny_split.sequences.items() if len(s.items) >= 3)
    s = tiny_split.sequences[u]
    other = next(i for i in items if i not in s.items)
    seq = UserSequence(u, (*s.items[:-1], other), s.ratings, s.timestamps)
    changed = dataclasses.replace(tiny_split, sequences={**tiny_split.sequences, u: seq})
    assert cooccurring_pairs(changed, items, window=2) == pairs


def test_the_shuffled_control_permutes_whole_rows(monkeypatch, tmp_path):
    from recalign.baselines.cf_embeddings import CFEmbeddings
    from recalign.ilm import data

    items = [str(k) for k in range(1, N_ITEMS + 1)]
    table = {"BPR": torch.arange(N_ITEMS * 4, dtype=torch.float).reshape(N_ITEMS, 4),
             "SASRec": -torch.arange(N_ITEMS * 2, dtype=torch.float).reshape(N_ITEMS, 2)}
    monkeypatch.setattr(data, "ensure_cf_embeddings", lambda run, s, **kw: CFEmbeddings(
        s, items[::-1], table[s].flip(0), "fp"))            # stored in another order: aligned by item id
    plain = data.cf_sources(tmp_path, items, ["BPR", "SASRec"])
    assert torch.equal(plain[0], table["BPR"]) and torch.equal(plain[1], table["SASRec"])
    shuf = data.cf_sources(tmp_path, items, ["BPR", "SASRec"], shuffle=True, seed=3)
    perm = [int(r[0]) // 4 for r in shuf[0]]
    assert sorted(perm) == list(range(N_ITEMS)) and perm != list(range(N_ITEMS))
    assert torch.equal(shuf[1], table["SASRec"][perm])     # the same permutation for every source


def test_phase1_learns_the_item_text_match():
    from recalign.ilm.phase1 import pretrain

    g = torch.Generator().manual_seed(0)
    cf = [torch.randn(64, 16, generator=g), torch.randn(64, 8, generator=g)]
    text = torch.nn.functional.normalize(torch.cat(cf, 1) @ torch.randn(24, 32, generator=g), dim=-1)
    ids = [[random.Random(k).randrange(50) for _ in range(3)] for k in range(64)]
    pairs = [(k, (k + 1) % 64) for k in range(64)]
    enc = QFormerItemEncoder([16, 8], 32, width=32, n_queries=2, layers=1, heads=2)
    adaptor = enc.adaptor.weight.clone()
    info = pretrain(enc, cf, text, ids, 50, pairs, steps=60, batch_size=32, lr=3e-3, log=None)
    assert set(info["losses"]) == {"itc", "itg", "itm", "iic"}
    assert info["losses"]["itc"]["last"] < 0.7 * info["losses"]["itc"]["first"]
    assert info["losses"]["itg"]["last"] < info["losses"]["itg"]["first"]
    assert torch.equal(enc.adaptor.weight, adaptor)        # phase 1 leaves the adaptor to phase 2


@pytest.mark.parametrize("arm, match", [
    (dict(encoder="lora"), "unknown item encoder 'lora'"),
    (dict(encoder="mlp", phase1=True), "phase 1 pretrains a Q-Former"),
    (dict(encoder="qformer", item_item=True), "item–item loss is a phase-1 loss"),
])
def test_impossible_arms_are_refused_in_one_line(arm, match):
    with pytest.raises(RecalignError, match=match):
        ILMArm(**arm)


def test_a_backbone_without_atomic_items_is_refused(tiny_split, tmp_path):
    from recalign.data import write_split
    from recalign.ilm.runner import backbone_items
    from recalign.materialize import generate
    from recalign.run_dir import RunDir

    run = tmp_path / "titles"
    write_split(tiny_split, run / "data")
    generate(tiny_split, ["retrieval"], run, GenerateConfig(history_len=3, num_candidates=3, progress=False))
    with pytest.raises(RecalignError, match="atomic tokens"):
        backbone_items(RunDir(run), _tokenizer(tmp_path))
    assert [a.name for a in ILMConfig().arm_list()][:2] == ["backbone", "mlp"]


def test_recalign_ilm_end_to_end_on_a_trained_backbone(ml100k_split, tmp_path):
    """A real slice run: generate (atomic ids, decoder history), train a tiny backbone, BPR for an epoch,
    then `recalign ilm` with two arms: results beside the other models, the backbone unchanged."""
    import json

    from click.testing import CliRunner

    from recalign.baselines import run_baseline
    from recalign.cli import main
    from recalign.config import from_dict
    from recalign.data import Split, write_split
    from recalign.materialize import generate
    from recalign.t5_finetune import TrainConfig, train

    run = tmp_path / "run"
    split = Split(ml100k_split.dataset, dict(list(ml100k_split.sequences.items())[:60]))
    write_split(split, run / "data")
    generate(split, ["retrieval", "ranking", "rating"], run,
             GenerateConfig(history_len=5, num_candidates=5, progress=False, decoder_history=["retrieval"], **IDS))
    train(from_dict(TrainConfig, {"model": "t5-tiny", "max_steps": 3, "per_device_train_batch_size": 8,
                                  "eval_steps": 1000, "save_steps": 1000, "report_to": [], "max_source_length": 128,
                                  "max_target_length": 16, "curve": {"users": 0}}), run)
    run_baseline(run, "BPR", epochs=1)
    res = CliRunner().invoke(main, ["ilm", "--run", str(run), "-o", "sources=[BPR]", "-o", "phase2_steps=2",
                                    "-o", "batch_size=4", "-o", "eval_max_users=8", "-o", "eval_templates=[seen]",
                                    "-o", "eval_tasks=[retrieval]", "--arm", "backbone", "--arm", "mlp"])
    assert res.exit_code == 0, res.output
    for arm in ("backbone", "mlp"):
        m = json.loads((run / "results" / f"ilm-{arm}" / "metrics.json").read_text())
        assert m["retrieval"]["users"] == 8
    info = json.loads((run / "ilm" / "mlp" / "info.json").read_text())
    assert info["phase2"]["backbone_unchanged"] and info["phase2"]["steps"] == 2
    assert (run / "ilm" / "mlp" / "item_encoder.safetensors").is_file()
    bad = CliRunner().invoke(main, ["ilm", "--run", str(run), "--arm", "nope"])
    assert bad.exit_code != 0 and "unknown arm 'nope'" in bad.output


def test_training_encodes_only_the_batchs_items_and_equals_the_whole_table(tmp_path):
    tok = _tokenizer(tmp_path)
    tids = _ids(tok)
    enc = QFormerItemEncoder([16, 8], 32, width=16, n_queries=2, layers=1, heads=2, dropout=0.0)
    torch.nn.init.normal_(enc.adaptor.weight, std=1.0)
    items = SoftItems(enc, _cf(), tids, len(tok))
    ids = torch.tensor([[tids[2], 5, tids[6], tids[2]], [7, tids[0], 3, 3]])
    x = torch.randn(2, 4, 32)
    enc.train()                                      # the per-batch path (gradients on)
    got = items.add_to(x, ids)
    got.sum().backward()
    assert enc.adaptor.weight.grad is not None
    enc.eval()
    with torch.no_grad():                            # the whole-table path
        want = items.add_to(x, ids)
    assert torch.allclose(got.detach(), want, atol=1e-6)
    assert torch.equal(got[0, 1], x[0, 1]) and torch.equal(got[1, 2], x[1, 2])   # text positions untouched

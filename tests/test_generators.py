"""Generators on the tiny handmade dataset: exact examples per task, determinism,
registry, mixtures, materialization and the CLI."""
from __future__ import annotations

import json
import math
import random
import re

import pytest
from click.testing import CliRunner

from recalign.errors import RecalignError
from recalign.materialize import generate, load_task_data
from recalign.tasks import TASKS, GenerateConfig, RetrievalExample, Task, TaskRegistry, load_templates
from recalign.t5_finetune.mixture import MixtureConfig, mix, mixture_counts
from recalign.prompts import render
from recalign.tasks.domain import GENERIC
from recalign.tasks.mlm import random_spans_noise_mask, span_corrupt

CFG = GenerateConfig(progress=False)
# tiny: u1 Toy Story, Heat, Alien | valid Fargo | test The Matrix
#       u2 Heat, Hamlet (1996)    | valid Hamlet (1948) | test Babe
#       u3 Toy Story              | valid Alien | test The Matrix ; u4 dropped


def _t(task, tid):
    return next(t for t in load_templates(task) if t.id == tid)


def _rows(ds) -> str:
    """Rows as JSON (NaN ratings compare equal this way)."""
    return json.dumps(ds.to_list())


def test_retrieval_exact(tiny_split):
    rows = TASKS.get("retrieval").build(tiny_split, "train", CFG)
    assert [(vars(e)["history"], e.target) for e, _ in rows] == [
        (["Toy Story"], "Heat"), (["Toy Story", "Heat"], "Alien"), (["Heat"], "Hamlet (1996)")]
    assert [m for _, m in rows][1]._asdict() == {
        "user": "u1", "target_item": "i3", "candidates": [], "history": ["i1", "i2"], "rating": 4.0}
    assert render(_t("retrieval", "retrieval-seen-01"), rows[1][0]) == (
        "I have recently interacted with Toy Story, Heat. What should I try next?", "Alien")
    valid = TASKS.get("retrieval").build(tiny_split, "valid", CFG)
    test = TASKS.get("retrieval").build(tiny_split, "test", CFG)
    assert [(e.history, e.target) for e, _ in valid] == [
        (["Toy Story", "Heat", "Alien"], "Fargo"), (["Heat", "Hamlet (1996)"], "Hamlet (1948)"), (["Toy Story"], "Alien")]
    assert [(e.history, e.target) for e, _ in test] == [
        (["Toy Story", "Heat", "Alien", "Fargo"], "The Matrix"), (["Heat", "Hamlet (1996)", "Hamlet (1948)"], "Babe"),
        (["Toy Story", "Alien"], "The Matrix")]
    short = TASKS.get("retrieval").build(tiny_split, "test", GenerateConfig(history_len=2, progress=False))
    assert short[0][0].history == ["Alien", "Fargo"] and short[0][1].history == ["i3", "i4"]


def test_ranking_candidates(tiny_split):
    rows = TASKS.get("ranking").build(tiny_split, "valid", CFG)
    e, m = rows[0]  # u1 never touched i6 i7 i8: exactly those are the negatives
    assert sorted(m.candidates) == ["i4", "i6", "i7", "i8"] and m.target_item == "i4"
    titles = {"i4": "Fargo", "i6": "Hamlet (1996)", "i7": "Hamlet (1948)", "i8": "Babe"}
    assert e.candidates == [titles[i] for i in m.candidates] and e.target == "Fargo"
    assert render(_t("ranking", "ranking-seen-04"), e) == (
        f"History: Toy Story | Heat | Alien\nOptions: {' | '.join(e.candidates)}\nBest option:", "Fargo")
    big = TASKS.get("ranking").build(tiny_split, "test", GenerateConfig(num_candidates=3, progress=False))
    for e, m in big:
        seq = set(tiny_split.sequences[m.user].items)
        assert len(m.candidates) == 3 and m.target_item in m.candidates
        assert len(set(m.candidates)) == 3 and not (set(m.candidates) - {m.target_item}) & seq


def test_rating_exact(tiny_split):
    rows = TASKS.get("rating").build(tiny_split, "test", CFG)
    e, m = rows[0]
    assert vars(e) == {"history": ["Toy Story", "Heat", "Alien", "Fargo"], "ratings": ["5", "3", "4", "1"],
                       "item": "The Matrix", "target": "5", "domain": GENERIC}
    assert m.rating == 5.0 and m.target_item == "i5"
    assert render(_t("rating", "rating-seen-03"), e) == (
        "Rated history: Toy Story (5); Heat (3); Alien (4); Fargo (1)\nItem: The Matrix\nRating:", "5")


def test_mim_masks_train_items_only(tiny_split):
    cfg = GenerateConfig(mim_mask_prob=1.0, mim_max_masks=1, progress=False)
    for which in ("train", "valid", "test"):
        rows = TASKS.get("mim").build(tiny_split, which, cfg)
        assert [m.history for _, m in rows] == [["i1", "i2", "i3"], ["i2", "i6"]]  # u3 has 1 train item: skipped
        for e, m in rows:
            assert e.history.count("[MASK]") == e.num_masked == 1 and len(e.masked) == 1
            full = [e.masked[0] if h == "[MASK]" else h for h in e.history]
            titles = {"i1": "Toy Story", "i2": "Heat", "i3": "Alien", "i6": "Hamlet (1996)"}
            assert full == [titles[i] for i in m.history] and e.target == e.masked[0]
            assert titles[m.target_item] == e.target
    e = TASKS.get("mim").build(tiny_split, "train", GenerateConfig(mim_mask_prob=1.0, progress=False))[0][0]
    assert e.num_masked == 2 and e.target == "; ".join(e.masked)  # never the whole window


def test_mlm_t5_span_corruption(tiny_split):
    assert span_corrupt("The cute dog walks in the park".split(),
                        [False, True, True, False, False, True, False]) == (
        "The <extra_id_0> walks in <extra_id_1> park", "<extra_id_0> cute dog <extra_id_1> the <extra_id_2>")
    rnd = random.Random(0)
    # (words, noise 0.15, mean span 3) → (noise words, noise spans), by hand: 15% of n rounded, at least
    # one word and never all of them; noise / 3 spans rounded, at least one
    for n, (noise, n_spans) in {2: (1, 1), 7: (1, 1), 60: (9, 3), 500: (75, 25)}.items():
        mask = random_spans_noise_mask(n, 0.15, 3.0, rnd)
        assert len(mask) == n and not mask[0]  # T5: a non-noise span comes first
        assert sum(mask) == noise
        spans = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
        assert spans == n_spans
    rows = TASKS.get("mlm").build(tiny_split, "train", CFG)
    assert [m.history for _, m in rows] == [["i1", "i2", "i3"], ["i2", "i6"], ["i1"]]
    for e, m in rows:
        k = e.corrupted.count("<extra_id_")
        assert k >= 1 and re.fullmatch(rf"(<extra_id_\d+> [^<]+ )+<extra_id_{k}>", e.target)
        # putting the spans back gives the original text
        spans = dict(re.findall(r"(<extra_id_\d+>) ([^<]+?) (?=<extra_id_)", e.target))
        text = " ".join(spans.get(w, w) for w in e.corrupted.split())
        assert text == {"u1": "Toy Story; Heat; Alien", "u2": "Heat; Hamlet (1996)", "u3": "Toy Story"}[m.user]


def test_bpr_pairs(tiny_split):
    rows = TASKS.get("bpr").build(tiny_split, "train", CFG)
    assert [(e.history, e.target) for e, _ in rows] == [
        (["Toy Story"], "Heat"), (["Toy Story", "Heat"], "Alien"), (["Heat"], "Hamlet (1996)")]
    for e, m in rows:
        neg = [i for i in m.candidates if i != m.target_item]
        assert len(m.candidates) == 2 and len(neg) == 1 and neg[0] not in tiny_split.sequences[m.user].items
        assert e.target in (e.item_a, e.item_b)
    valid = TASKS.get("bpr").build(tiny_split, "valid", CFG)  # aux: train items only, newest train position
    assert [(e.history, e.target) for e, _ in valid] == [(["Toy Story", "Heat"], "Alien"), (["Heat"], "Hamlet (1996)")]


def test_generate_layout_determinism_and_unseen(tiny_split, tmp_path):
    tasks = TASKS.names()
    m1 = generate(tiny_split, tasks, tmp_path / "a", CFG, jsonl=True)
    m2 = generate(tiny_split, tasks, tmp_path / "b", CFG)
    m3 = generate(tiny_split, tasks, tmp_path / "c", GenerateConfig(seed=1, progress=False))
    only = generate(tiny_split, ["ranking"], tmp_path / "d", CFG)
    saved = json.loads((tmp_path / "a" / "text" / "manifest.json").read_text())
    assert saved["tasks"] == tasks and saved["seed"] == 0
    assert saved["counts"]["retrieval"] == {"train": 3, "valid": 3, "test": 3, "valid_unseen": 3, "test_unseen": 3}
    assert saved["counts"]["mim"]["train"] == 2 and m1.counts == saved["counts"] and m1.to_dict() == saved
    assert m1.templates["mlm"]["unseen"] == ["mlm-unseen-01", "mlm-unseen-02"]
    assert (tmp_path / "a" / "text" / "bpr" / "train.jsonl").is_file()
    differs = False
    for task in tasks:
        for s in m1.splits:
            a = _rows(load_task_data(tmp_path / "a", task, s))
            assert a == _rows(load_task_data(tmp_path / "b", task, s))
            differs |= a != _rows(load_task_data(tmp_path / "c", task, s))
            assert all(r["_task"] == task and r["_template_split"] == ("unseen" if "unseen" in s else "seen")
                       for r in json.loads(a))
            if task == "ranking":  # independent of which other tasks run
                assert a == _rows(load_task_data(tmp_path / "d", task, s))
        v, vu = (load_task_data(tmp_path / "a", task, s) for s in ("valid", "valid_unseen"))
        assert v["target"] == vu["target"] and v["history"] == vu["history"] and v["input"] != vu["input"]
    assert differs
    ds = load_task_data(tmp_path / "a", "rating", "train")
    assert list(ds.features) == ["input", "target", "_task", "_template_id", "_template_split", "user",
                                 "target_item", "candidates", "history", "rating"]
    assert math.isnan(load_task_data(tmp_path / "a", "mlm", "test")[0]["rating"])
    with pytest.raises(RecalignError, match="Did you mean 'ranking'"):
        load_task_data(tmp_path / "d", "rankin", "train")


def test_caps(tiny_split, tmp_path):
    cfg = GenerateConfig(train_per_user={"retrieval": 1}, max_train_examples={"bpr": 2}, progress=False)
    m = generate(tiny_split, ["retrieval", "bpr"], tmp_path, cfg)
    assert m.counts["retrieval"]["train"] == 2 and m.count("bpr", "train") == 2
    assert load_task_data(tmp_path, "retrieval", "train")["target"] == ["Alien", "Hamlet (1996)"]


def test_registry():
    reg = TaskRegistry(TASKS)
    with pytest.raises(RecalignError, match="already registered"):
        reg.add(TASKS.get("mim"))
    with pytest.raises(RecalignError, match="Did you mean 'rating'"):
        reg.get("ratin")
    reg.add(Task("echo", RetrievalExample, TASKS.get("retrieval").build))
    assert "echo" in reg and len(reg) == 7
    reg.reset()
    assert reg.names() == TASKS.names() == ["retrieval", "ranking", "rating", "mim", "mlm", "bpr"]


def test_mixtures(tiny_split, tmp_path):
    sizes = {"a": 900, "b": 100}
    assert mixture_counts(sizes, MixtureConfig(["a", "b"])) == {"a": 900, "b": 100}
    assert mixture_counts(sizes, MixtureConfig(["a", "b"], cap=300)) == {"a": 300, "b": 100}
    assert mixture_counts(sizes, MixtureConfig(["a", "b"], "temperature", temperature=2.0)) == {"a": 750, "b": 250}
    assert mixture_counts(sizes, MixtureConfig(["a", "b"], "rates", rates={"a": 1, "b": 3}), total=8) == {"a": 2, "b": 6}
    with pytest.raises(RecalignError, match="Did you mean 'rates'"):
        MixtureConfig(["a"], "rate")
    generate(tiny_split, ["retrieval", "mlm"], tmp_path, CFG)
    data = {t: load_task_data(tmp_path, t, "train") for t in ("retrieval", "mlm")}
    mixed = mix(data, MixtureConfig(["retrieval", "mlm"], "rates", rates={"retrieval": 1, "mlm": 1}), seed=3, total=10)
    assert len(mixed) == 10 and mixed["_task"].count("mlm") == 5 and list(mixed.features) == list(data["mlm"].features)
    again = mix(data, MixtureConfig(["retrieval", "mlm"], "rates", rates={"retrieval": 1, "mlm": 1}), seed=3, total=10)
    assert _rows(mixed) == _rows(again)


def test_cli_generate_and_templates(tiny_dir, tmp_path):
    from recalign.cli import main

    r = CliRunner().invoke(main, ["generate", "--dataset", str(tiny_dir), "--out", str(tmp_path / "run"),
                                  "--tasks", "retrieval,mim", "--seed", "3", "--history-len", "2",
                                  "--set", "mim_max_masks=1", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "retrieval" in r.output and (tmp_path / "run" / "data" / "split.json").is_file()
    man = json.loads((tmp_path / "run" / "text" / "manifest.json").read_text())
    assert man["seed"] == 3 and man["settings"]["history_len"] == 2 and man["settings"]["mim_max_masks"] == 1
    r = CliRunner().invoke(main, ["generate", "--out", str(tmp_path / "run"), "--tasks", "retreival"])
    assert r.exit_code != 0 and "Did you mean 'retrieval'" in r.output
    r = CliRunner().invoke(main, ["templates", "list", "--task", "bpr"])
    assert r.exit_code == 0 and r.output.count("bpr-") == 8
    r = CliRunner().invoke(main, ["templates", "show", "mlm"])
    assert r.exit_code == 0 and "mlm-unseen-02" in r.output and "{{ corrupted }}" in r.output
    r = CliRunner().invoke(main, ["templates", "render", "rating", "--n", "2", "--dataset", str(tiny_dir),
                                  "--template", "rating-seen-03"])
    assert r.exit_code == 0, r.output
    assert "Rated history: Toy Story (5); Heat (3); Alien (4); Fargo (1)\nItem: The Matrix\nRating:\nTARGET:\n5" in r.output
    r = CliRunner().invoke(main, ["templates", "validate"])
    assert r.exit_code == 0 and "ok: 168 templates" in r.output  # 48 seq2seq + 120 query-task templates
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bpr.yaml").write_text("templates:\n  - id: b1\n    input: '{{ user }} {{ item_a }}'\n    target: '{{ target }}'\n")
    r = CliRunner().invoke(main, ["templates", "validate", str(bad)])
    assert r.exit_code == 1 and "bpr.yaml, line 3: template 'b1' (bpr): input uses 'user'" in r.output


def test_cli_regenerate_keeps_run_consistent(tiny_dir, tmp_path):
    from conftest import write_tiny

    from recalign.cli import main

    run = tmp_path / "run"
    text = run / "text"
    go = lambda *a: CliRunner().invoke(main, ["generate", "--out", str(run), "--no-progress", *a])  # noqa: E731
    r = go("-d", str(tiny_dir), "--tasks", "retrieval,mim", "--jsonl")
    assert r.exit_code == 0, r.output
    assert (text / "retrieval" / "test.jsonl").is_file() and (text / "mim" / "train.jsonl").is_file()
    first = json.loads((text / "manifest.json").read_text())
    # (a) without --jsonl the rewritten task's JSON lines go; (c) mim is kept and stays in the manifest
    r = go("--tasks", "retrieval", "--seed", "5")
    assert r.exit_code == 0, r.output
    assert "kept (same data, still in the manifest): mim" in r.output
    assert sorted(p.name for p in (text / "retrieval").iterdir()) == sorted(
        ["train", "valid", "test", "valid_unseen", "test_unseen"])
    assert (text / "mim" / "train.jsonl").is_file()  # untouched task: its files still match its Arrow data
    man = json.loads((text / "manifest.json").read_text())
    assert man["tasks"] == ["mim", "retrieval"] and man["counts"]["mim"] == first["counts"]["mim"]
    assert man["generated_with"]["mim"]["seed"] == 0 and man["generated_with"]["mim"]["jsonl"] is True
    assert man["generated_with"]["retrieval"]["seed"] == 5 and man["jsonl"] is False
    assert man["templates"]["mim"] == first["templates"]["mim"]
    # (b) an explicit dataset other than the one RUN/data came from is refused
    other = write_tiny(tmp_path / "other", "other")
    r = go("-d", str(other), "--tasks", "retrieval")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "was prepared from" in r.output and "use a new run directory (--run-dir), or re-run `recalign data prepare" in r.output
    assert str(other) in r.output and str(tiny_dir) in r.output
    assert go("-d", str(tiny_dir), "--tasks", "retrieval").exit_code == 0  # the same dataset is fine
    # re-prepared data (another split): the old mim folder no longer matches and is removed
    r = CliRunner().invoke(main, ["data", "prepare", "-d", str(tiny_dir), "--user-k", "4", "--out", str(run)])
    assert r.exit_code == 0, r.output
    r = go("--tasks", "retrieval")
    assert r.exit_code == 0, r.output
    man = json.loads((text / "manifest.json").read_text())
    assert man["tasks"] == ["retrieval"]  # the old mim folder is no longer listed, so never read
    with pytest.raises(RecalignError, match="not in the manifest"):
        load_task_data(run, "mim", "train")
    assert man["counts"]["retrieval"]["test"] == 2  # only u1 and u2 have >= 4 interactions

"""Inputs that fit (tasks/fit.py): every task × template rendered at the source budget loses
nothing to truncation; only the oldest history items go, never a candidate or the question."""
from __future__ import annotations

import json

import pytest

from recalign.tasks import TASKS, GenerateConfig, load_templates
from recalign.tasks.fit import SourceFit, token_counter
from recalign.tasks.items import ItemWriter

BUDGET = 256          # train.max_source_length of the shipped config


@pytest.fixture(scope="module")
def tok(tmp_path_factory, ml100k_split):
    from recalign.t5_finetune import train_tokenizer

    titles = [it.title for it in ml100k_split.items.values()]
    tk = train_tokenizer(titles + ["I have recently watched What should I watch next"] * 50,
                         tmp_path_factory.mktemp("tok"), vocab_size=8000)
    cfg = GenerateConfig(item_input="id+title", item_target="id")
    tk.add_tokens(ItemWriter.for_split(ml100k_split, cfg).tokens())
    return tk


@pytest.mark.parametrize("task", TASKS.names())
def test_every_template_fits_the_budget_and_nothing_is_cut(task, tok, ml100k_split):
    cfg = GenerateConfig(history_len=20, num_candidates=20, item_input="id+title", item_target="id", progress=False)
    users = ml100k_split.users[:12]
    rows = TASKS.get(task).build(ml100k_split, "test", cfg, users=users)
    count = token_counter(tok)
    totals = {}
    for t in load_templates(task):
        fin, ftg = t.compile()
        fit, over = SourceFit(BUDGET, count), 0
        for ex, meta in rows:
            before = vars(ex).copy()
            ex2, text, k = fit.shorten(ex, lambda e: fin(vars(e)).strip())
            ids = tok(text, truncation=True, max_length=BUDGET)["input_ids"]
            if fit.over == over:
                assert ids == tok(text)["input_ids"], f"{t.id}: the budget cuts the input"   # nothing is cut
            else:                  # counted (and reported by generate): one history item left, still too long
                over = fit.over
                assert len(ex2.history) == 1 and len(ids) == BUDGET
            assert ftg(vars(ex2)).strip() == ftg(before).strip()                          # same target
            shown = [*before.get("candidates", []), *(before[k] for k in ("item_a", "item_b", "item") if k in before)]
            assert all(c in text for c in shown), f"{t.id}: a candidate was dropped"        # never a candidate
            if k:
                assert ex2.history == before["history"][k:]                              # the oldest went
        totals[t.id] = (fit.shortened, fit.over)
    shortened = sum(a for a, _ in totals.values())
    overs = {k: b for k, (_, b) in totals.items() if b}
    if task == "ranking":      # 20 candidates with id and title: the budget binds
        assert shortened > 0 and sum(overs.values()) <= len(rows), overs
    else:
        assert not overs, overs


def test_generate_fits_and_reports(tiny_split, tmp_path):
    from recalign.data import write_split
    from recalign.materialize import generate, load_task_data
    from recalign.t5_finetune import train_tokenizer

    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    titles = [it.title for it in tiny_split.items.values()]
    train_tokenizer(titles * 5 + ["History next item Options Best option"] * 5, tmp_path / "tk", vocab_size=400)
    tk = __import__("transformers").AutoTokenizer.from_pretrained(str(tmp_path / "tk"))
    free = generate(tiny_split, ["retrieval", "ranking"], run, GenerateConfig(history_len=5, num_candidates=3,
                                                                              progress=False))
    assert not free.fit                                   # no budget: nothing fitted
    lengths = sorted(len(tk(r["input"])["input_ids"]) for r in load_task_data(run, "ranking", "train"))
    budget = lengths[len(lengths) // 2]        # the median: the longer half must be shortened
    cfg = GenerateConfig(history_len=5, num_candidates=3, progress=False, max_source_tokens=budget,
                         source_tokenizer=str(tmp_path / "tk"))
    m = generate(tiny_split, ["retrieval", "ranking"], run, cfg)
    got = m.fit["tasks"]["ranking"]["train"]
    assert m.fit["budget"] == budget and got["shortened"] + got["over_budget"] > 0, m.fit
    for task in ("retrieval", "ranking"):
        for s in ("train", "test", "test_unseen"):
            for r in load_task_data(run, task, s):
                n = len(tk(r["input"])["input_ids"])
                assert n <= budget or m.fit["tasks"][task][s]["over_budget"], (task, s, r["input"])
    json.dumps(m.to_dict())

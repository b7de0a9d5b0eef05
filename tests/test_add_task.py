"""The "add a task" recipe (docs/architecture.md): one module (here: this file's module-level
Example record, builder and evaluator), one template file, one registry line — and the task
goes through generate → train → evaluate → compare without touching any of them."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest

from recalign.data import write_split
from recalign.eval.evaluate import evaluate
from recalign.eval.report import compare
from recalign.materialize import generate, load_task_data
from recalign.t5_finetune import train
from recalign.t5_finetune.testing import tiny_config
from recalign.tasks import ITEM_TEXT, TASKS, GenerateConfig, Meta, Task, load_templates
from recalign.tasks.domain import GENERIC, Domain
from recalign.tasks.evaluation import EvalContext, rank_by_score
from recalign.tasks.sampling import next_item_positions


@dataclass
class FirstExample:
    """The user's history → the first title of it (a toy task)."""

    history: list[str]
    target: str
    domain: Domain = GENERIC

    @classmethod
    def sample(cls) -> "FirstExample":
        return cls(["Heat", "Alien"], "Heat")


def build_first(split, which, cfg, users=None):
    return [(FirstExample(p.history_titles, p.history_titles[0]),
             Meta(p.user, p.history[0], list(p.history), list(p.history), math.nan))
            for p in next_item_positions(split, which, cfg, "first", users)]


def evaluate_first(ctx: EvalContext, rows: list[dict]) -> dict:
    """Rank the history's items by likelihood; HR@1 = the first one on top."""
    M = ctx.metrics
    cands = [[str(c) for c in r["candidates"]] for r in rows]
    scores = ctx.score_candidates(rows, cands, desc="first")
    ranked = [rank_by_score(c, s.logp) for c, s in zip(cands, scores)]
    m = M.candidate_metrics(M.Ranking([str(r["user"]) for r in rows], ranked, [str(r["target_item"]) for r in rows]),
                            ks=(1,))
    ctx.write_predictions("first", [{"user": str(r["user"]), "ranked": rk} for r, rk in zip(rows, ranked)])
    return {"first": m}


TEMPLATES = """\
task: first
templates:
  - id: first-seen-01
    split: seen
    input: "Of {{ history | join(', ') }}, which did the user {{ domain.verb }} first?"
    target: "{{ target }}"
  - id: first-unseen-01
    split: unseen
    input: "Oldest of: {{ history | join(' / ') }}"
    target: "{{ target }}"
"""


@pytest.fixture
def first_task(tmp_path):
    (tmp_path / "first.yaml").write_text(TEMPLATES)
    task = TASKS.add(Task("first", FirstExample, build_first, "history → its first title", answer=ITEM_TEXT,
                          evaluator=evaluate_first, metrics=("hr@1",), templates=tmp_path / "first.yaml"))
    yield task
    TASKS.reset()
    assert "first" not in TASKS


def test_a_new_task_runs_generate_train_evaluate_compare(first_task, tiny_split, tmp_path):
    assert TASKS.rec_names()[-1] == "first" and first_task in TASKS.evaluable()
    assert [t.id for t in load_templates("first")] == ["first-seen-01", "first-unseen-01"]
    run = tmp_path / "run"
    write_split(tiny_split, run / "data")
    manifest = generate(tiny_split, ["retrieval", "first"], run, GenerateConfig(progress=False))
    assert manifest.tasks == ("retrieval", "first") and manifest.counts["first"]["test"] == 3
    row = load_task_data(run, "first", "test")[0]
    assert row["input"] == "Of Toy Story, Heat, Alien, Fargo, which did the user try first?"
    assert row["target"] == "Toy Story" and row["_task"] == "first"

    train(tiny_config(max_steps=2, eval_steps=2, save_steps=2, mixture={"tasks": ["retrieval", "first"]}), run)
    m = evaluate(run, tasks=["retrieval", "first"], beam=2, batch_size=4, progress=False)
    assert m["first"]["users"] == 3 and 0 <= m["first"]["hr@1"] <= 1 and m["first"]["candidates"] == 4
    assert "first_unseen" in m and m["retrieval"]["users"] == 3
    preds = [json.loads(x) for x in (run / "results" / "recalign-t5" / "predictions_first_test.jsonl").open()]
    assert sorted(preds[0]["ranked"]) == sorted(["i1", "i2", "i3", "i4"])

    report = compare([run])
    assert "recalign-t5" in report["markdown"] and (run / "report.md").is_file()

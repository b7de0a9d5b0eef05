"""Issue 25: authoring a prompt template end to end, the way README's "Add your own" walks it —
a new template from `templates new`, validated, previewed through the run's own settings (equal
to the text `generate` writes, byte for byte), generated, a tiny model trained for a few steps,
scored on *every* user with `evaluate --template-ids`, and its paired row in `compare`."""
from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner

from recalign.cli import main
from recalign.materialize import load_task_data

pytestmark = pytest.mark.slow

NEW = "my-retrieval-01"


def _ok(args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output[-3000:])
    return r


def _rendered(stdout: str) -> list[tuple[str, str, str, str]]:
    """(template id, user, input, target) of each block `templates render` prints."""
    out = []
    for m in re.finditer(r"── (\S+) \((\w+)\) user (\S+) ──\nINPUT:\n(.*?)\nTARGET:\n(.*?)\n\n", stdout, re.S):
        out.append((m[1], m[3], m[4], m[5]))
    return out


def test_author_a_template_and_score_it_on_every_user(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine"
    # 1. a skeleton that validates as it is, then the author's own wording
    r = _ok(["templates", "new", "retrieval", NEW, "--dir", mine])
    assert f"template {NEW} (unseen)" in r.output
    f = mine / "retrieval.yaml"
    assert _ok(["templates", "validate", mine]).output.startswith("ok: 1 templates valid")
    text = f.read_text()
    start = text.index("    input: |-\n")
    end = text.index("    target: |-\n")
    f.write_text(text[:start] + "    input: |-\n      My last picks: {{ history | join(' then ') }}. Next?\n"
                 + text[end:])
    assert _ok(["templates", "validate", mine]).output.startswith("ok: 1 templates valid")
    # 2. a tiny run config: the sequence config's item rule (compact atomic IDs) and template stack + mine
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((repo / "configs" / "ml100k-cpu-seq.yaml").read_text())
    cfg["run_dir"] = str(tmp_path / "run")
    cfg["generate"]["templates_dirs"] = [str(repo / "configs" / "templates" / "bare-retrieval"), str(mine)]
    cfg["train"].update(max_steps=4, time_budget_minutes=None, schedule_by_time=False, eval_steps=2, save_steps=2,
                        eval_max_examples=8, per_device_train_batch_size=8, vocab_size=2000, report_to=[],
                        mixture={"strategy": "rates", "rates": {"retrieval": 1.0}, "total": 64})
    cfg["train"].pop("bf16", None)
    cfg["report_to"] = []
    conf = tmp_path / "run.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    # 3. generate through the run config; my template is in the unseen set, the overrides are said
    g = _ok(["generate", "--config", conf, "--run-dir", run, "--no-progress"])
    assert g.stderr.count("note: id 'retrieval-seen-0") == 6, g.stderr
    manifest = json.loads((run / "text" / "manifest.json").read_text())
    assert NEW in manifest["templates"]["retrieval"]["unseen"]
    # 4. the preview is the generated text, byte for byte: the run config's seeded choice, row for row ...
    arrow = list(load_task_data(run, "retrieval", "test_unseen"))
    p = _rendered(_ok(["templates", "render", "retrieval", "--config", conf, "--run-dir", run,
                       "--split", "test_unseen", "--n", 5]).stdout)
    assert [(x[0], x[1], x[2], x[3]) for x in p] == \
        [(a["_template_id"], a["user"], a["input"], a["target"]) for a in arrow[:5]]
    # ... and my template for a user the generator drew it for, through the run directory's manifest
    a = next(a for a in arrow if a["_template_id"] == NEW)
    q = _rendered(_ok(["templates", "render", "retrieval", "--run-dir", run, "--split", "test_unseen",
                       "--template", NEW, "--user", a["user"]]).stdout)
    assert q == [(NEW, a["user"], a["input"], a["target"])]
    assert a["input"].startswith("My last picks: <item_") and " then " not in a["input"]   # compact IDs
    drawn = sum(1 for x in arrow if x["_template_id"] == NEW)
    assert 0 < drawn < len(arrow) // 2          # one draw per user: the new wording alone meets a few users
    # 5. a tiny model, a few steps
    _ok(["train", "--config", conf, "--run-dir", run, "--report-to", "none"])
    # 6. every user on my template (and one shipped unseen one), beside the usual seen/unseen sets
    e = _ok(["evaluate", "--run-dir", run, "--tasks", "retrieval", "--template-ids", f"{NEW},retrieval-unseen-02",
             "--no-progress"])
    m = json.loads((run / "results" / "recalign-t5" / "metrics.json").read_text())
    users = m["retrieval"]["users"]
    assert users == len(arrow) == 943
    assert m[f"retrieval@{NEW}"]["users"] == users and m["retrieval@retrieval-unseen-02"]["users"] == users
    assert m[f"retrieval@{NEW}"]["by_template"] == {NEW: {**{k: m[f"retrieval@{NEW}"][k]
                                                             for k in ("recall@10", "ndcg@10")}, "users": users}}
    assert m["retrieval_unseen"]["by_template"][NEW]["users"] == drawn
    assert f"retrieval@{NEW}" in e.output
    # 7. compare: its row with intervals, paired with the seen templates, the unseen set and the other id
    c = _ok(["compare", run])
    md = (run / "report.md").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith(f"| recalign-t5 (template {NEW}) |"))
    assert f"{m[f'retrieval@{NEW}']['ndcg@10']:.4f} [" in row and "| 943 |" in row
    ev = json.loads((run / "report.json").read_text())["evidence"]["template_pairs"]
    refs = {(p["model"], p["reference"]) for p in ev if p["section"] == "retrieval"}
    mine_row = f"recalign-t5 (template {NEW})"
    assert {(mine_row, "recalign-t5"), (mine_row, "recalign-t5 (unseen templates)"),
            (mine_row, "recalign-t5 (template retrieval-unseen-02)")} <= refs
    pair = next(p for p in ev if p["model"] == mine_row and p["reference"] == "recalign-t5")["result"]["ndcg@10"]
    assert pair["users"] == 943
    assert pair["value"] == pytest.approx(m[f"retrieval@{NEW}"]["ndcg@10"] - m["retrieval"]["ndcg@10"], abs=1e-9)
    assert f"| {mine_row} | recalign-t5 | NDCG@10 |" in md
    assert "recalign-t5 (template" in c.output
    # --brief: one line per model within 120 columns; the intervals stay in report.md
    b = _ok(["compare", run, "--brief"]).stdout
    lines = [ln for ln in b.splitlines() if ln and not ln.startswith("wrote ")]
    assert max(map(len, lines)) <= 120 and any(ln.startswith(mine_row) for ln in lines), b
    assert "[" not in "".join(lines)

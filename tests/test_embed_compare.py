"""Embedders in the rest of the harness (issue 12): `recalign compare`'s per-task table,
`templates validate` over the query tasks' templates, and the run config's `embed:` section.
No torch: result folders are built by hand."""
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from recalign.cli import main
from recalign.config import from_dict
from recalign.embed.config import EmbedConfig
from recalign.errors import RecalignError
from recalign.eval.report import compare, write_result
from recalign.pipeline import embed_config, embed_config_from, load_run_config

FP = "f" * 16
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _q(hit5, cov=None, n=40):
    m = {"hit@5": hit5, "hit@10": hit5 + 0.1, "ndcg@10": hit5 / 2, "queries": n}
    if cov is not None:
        m.update({"coverage@5": cov, "coverage@10": cov - 0.1})
    return m


def _run(tmp_path, embedders: bool):
    run = tmp_path / "run"
    base = {"split": "test", "split_fingerprint": FP}
    write_result(run, "SASRec", {**base, "kind": "baseline", "retrieval": {"ndcg@10": 0.05, "recall@10": 0.1,
                                                                           "users": 943}})
    if embedders:
        for name, zs, h in (("embed-tiny", False, 0.5), ("embed-tiny-zero-shot", True, 0.125)):
            write_result(run, name, {**base, "kind": "embedder", "embedder": {"zero_shot": zs},
                                     "retrieval": {"ndcg@10": h / 10, "recall@10": h / 5, "users": 943},
                                     "query": {"uh2i": {"seen": _q(h)},
                                               "fa2i": {"seen": _q(h, cov=0.75), "unseen": _q(h / 2, cov=0.625)}}})
    return run


def test_compare_shows_the_embedders_per_task_table(tmp_path):
    out = compare([_run(tmp_path, True)], tmp_path / "out", n_resamples=50)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "### Embedders: per query task" in md
    assert ("| fa2i | unseen | embed-tiny-zero-shot | zero-shot | 0.0625 | 0.1625 | 0.0312 | 0.6250 | 0.5250 | 40 |"
            in md)
    assert "| uh2i | seen | embed-tiny | fine-tuned | 0.5000 | 0.6000 | 0.2500 | – | – | 40 |" in md
    q = json.loads((tmp_path / "out" / "report.json").read_text())["query"]
    assert q["header"][:4] == ["task", "templates", "model", "training"]
    # tasks in registry order, seen before unseen, zero-shot beside (before) its fine-tuned row
    assert [r[:3] for r in q["rows"]] == [
        ["uh2i", "seen", "embed-tiny-zero-shot"], ["uh2i", "seen", "embed-tiny"],
        ["fa2i", "seen", "embed-tiny-zero-shot"], ["fa2i", "seen", "embed-tiny"],
        ["fa2i", "unseen", "embed-tiny-zero-shot"], ["fa2i", "unseen", "embed-tiny"]]
    assert q["rows"][3][4:] == [0.5, 0.6, 0.25, 0.75, 0.65, 40]
    # UH2I is also each embedder's row of the main table, beside the baseline
    assert {r[0] for r in out["rows"]} == {"SASRec", "embed-tiny", "embed-tiny-zero-shot"}


def test_compare_without_embedders_is_unchanged(tmp_path):
    compare([_run(tmp_path, False)], tmp_path / "out", n_resamples=50)
    assert "Embedders" not in (tmp_path / "out" / "report.md").read_text()
    assert "query" not in json.loads((tmp_path / "out" / "report.json").read_text())


def test_validate_checks_the_query_tasks_templates(tmp_path):
    ok = CliRunner().invoke(main, ["templates", "validate"])
    assert ok.exit_code == 0, ok.output
    n = int(ok.output.split("ok: ")[1].split()[0])
    assert n >= 40 + 10 * 12 and "tasks/query/templates" in ok.output     # ten query tasks, >= 8 + 4 each
    d = tmp_path / "mine"
    d.mkdir()
    p = d / "fa2i.yaml"
    p.write_text("task: fa2i\ntemplates:\n  - id: fa2i-mine\n    split: seen\n"
                 "    input: 'after {{ history | join(\", \") }}?'\n    target: '{{ target }}'\n")
    bad = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert bad.exit_code != 0
    errors = [ln for ln in bad.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(p) in errors[0] and "history" in errors[0], bad.output
    assert "Traceback" not in bad.output
    p.write_text(p.read_text().replace("history | join(\", \")", "attributes | join(\"; \")"))
    good = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert good.exit_code == 0 and "ok: 1 templates valid" in good.output, good.output


def test_one_yaml_serves_run_and_train_embedder(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "r"), "train": {"max_steps": 5},
                                 "embed": {"temperature": 0.05, "max_steps": 7, "query": {"eval_items": 30}}}))
    cfg = load_run_config(p)
    assert cfg.train == {"max_steps": 5}
    e = embed_config(cfg)
    assert (e.temperature, e.max_steps, e.query.eval_items) == (0.05, 7, 30)
    # train-embedder --config reads the same section of the same file
    assert from_dict(EmbedConfig, yaml.safe_load(p.read_text())["embed"], where="embed.") == e
    assert load_run_config(None).embed == {} and embed_config(load_run_config(None)) == EmbedConfig()


def test_train_embedder_reads_a_run_config_or_a_bare_mapping():
    """`train-embedder --config`: the embed: section of a run config (defaults when it has none,
    e.g. configs/ml100k-cpu.yaml), or a bare EmbedConfig mapping; overrides are section-relative."""
    shipped = yaml.safe_load(open(CONFIGS / "embed-ml100k-cpu.yaml"))
    e = embed_config_from(shipped, ["max_steps=9"])
    assert (e.max_steps, e.query.history_len) == (9, shipped["embed"]["query"]["history_len"])
    assert embed_config_from(yaml.safe_load(open(CONFIGS / "ml100k-cpu.yaml"))) == EmbedConfig()
    assert embed_config_from({"temperature": 0.5}).temperature == 0.5
    with pytest.raises(RecalignError, match="embed.temprature"):
        embed_config_from({"run_dir": "r", "embed": {"temprature": 1}})


def test_a_bad_embed_section_fails_when_the_run_config_loads(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("embed:\n  temprature: 0.05\n")
    with pytest.raises(RecalignError, match="temprature"):
        load_run_config(p)
    with pytest.raises(RecalignError, match="temperature"):
        load_run_config(None, overrides=["embed.temperature=0"])

"""Guard (issue 26, item 14, embedder half): `train-embedder` leaves no empty `embed/trainer_tmp/`, and a
task with 0 evaluation queries prints "no queries" instead of "hit@10 0.0000"."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from recalign.cli import main

pytest.importorskip("torch")


def test_train_embedder_leaves_no_scratch_dir_and_says_no_queries(tmp_path, monkeypatch):
    from test_query_tasks import write_query_fixture

    import recalign.embed.evaluate as ev

    real = ev.load_queries

    def no_fa2i_test(run, task, which):   # fa2i's test split has no query at all; the others are real
        ds = real(run, task, which)
        return ds.select([]) if task == "fa2i" else ds

    monkeypatch.setattr(ev, "load_queries", no_fa2i_test)
    data = write_query_fixture(tmp_path / "qtiny")
    run = tmp_path / "run"
    (run / "embed").mkdir(parents=True)
    (run / "embed" / "trainer_tmp").mkdir()                   # left by an earlier version: removed too
    args = ["train-embedder", "--run-dir", str(run), "--dataset", str(data), "-o", "max_steps=2", "-o", "batch_size=8",
            "-o", "max_seq_length=32", "-o", "vocab_size=600", "-o", "tasks=[uh2i, fa2i]",
            "-o", "query.eval_items=10", "-o", "threads=2", "--no-zero-shot"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    left = sorted(p.name for p in (run / "embed").iterdir())
    assert "trainer_tmp" not in left and not any(n.startswith(".trainer.") for n in left), left
    assert "fa2i  seen no queries" in r.output, r.output
    assert "fa2i  seen hit@10" not in r.output
    assert "uh2i  seen hit@10 " in r.output

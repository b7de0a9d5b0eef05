"""Guard: which checkpoint a run resumes from, without training — the newest complete one by step
number (not by name: checkpoint-10 is newer than checkpoint-9), none when there is none, and every
incomplete folder set aside under a free name with a warning naming it."""
from __future__ import annotations

import logging

from recalign.t5_finetune.checkpoints import MARKER, latest_complete, mark_complete


def _ckpt(root, step: int, complete: bool):
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "config.json").write_text("{}")
    if complete:
        mark_complete(d, step=step, train_seconds=float(step))
    return d


def test_newest_complete_by_step_number(tmp_path):
    for step, ok in ((9, True), (10, True), (2, True), (11, False)):
        _ckpt(tmp_path, step, ok)
    assert latest_complete(tmp_path) == tmp_path / "checkpoint-10"


def test_none_when_nothing_is_complete(tmp_path):
    assert latest_complete(tmp_path / "absent") is None
    assert latest_complete(tmp_path) is None
    _ckpt(tmp_path, 3, False)
    assert latest_complete(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incomplete-checkpoint-3"]


def test_incomplete_folders_get_a_free_name_and_a_warning(tmp_path, caplog):
    for name in ("incomplete-checkpoint-6", "incomplete-checkpoint-8", "incomplete-checkpoint-8.2"):
        (tmp_path / name).mkdir()
    _ckpt(tmp_path, 4, True)
    _ckpt(tmp_path, 6, False)
    _ckpt(tmp_path, 8, False)
    with caplog.at_level(logging.WARNING, logger="recalign.t5_finetune.checkpoints"):
        assert latest_complete(tmp_path) == tmp_path / "checkpoint-4"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-4", "incomplete-checkpoint-6", "incomplete-checkpoint-6.2", "incomplete-checkpoint-8",
        "incomplete-checkpoint-8.2", "incomplete-checkpoint-8.3"]
    assert (tmp_path / "incomplete-checkpoint-8.3" / "config.json").is_file()
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2 and all(f"is incomplete (no {MARKER}: the process stopped while saving it); " in m
                                  for m in msgs)
    assert msgs[1].endswith("set aside as incomplete-checkpoint-8.3")
    assert "checkpoint-6 is incomplete" in msgs[0] and msgs[0].endswith("set aside as incomplete-checkpoint-6.2")

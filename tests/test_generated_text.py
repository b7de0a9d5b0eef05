"""The typed record of generated text (``recalign.generated_text``): what ``generate`` writes is what every
stage reads through the run directory; the JSON on disk keeps its keys and order; a wrong record is refused
in one line naming the file and the field."""
from __future__ import annotations

import json

import pytest

from recalign.errors import RecalignError
from recalign.generated_text import KEY_ORDER, GeneratedText
from recalign.run_dir import RunDir


def test_generate_writes_the_record_every_reader_takes(tiny_split, tmp_path):
    from recalign.materialize import generate
    from recalign.tasks import GenerateConfig

    cfg = GenerateConfig(history_len=4, item_ids="atomic", item_target="id", progress=False)
    rec = generate(tiny_split, ["retrieval", "ranking"], tmp_path, cfg)
    run = RunDir(tmp_path)
    raw = json.loads(run.manifest_path.read_text())
    assert list(raw) == [k for k in KEY_ORDER if k in raw] and "writer" not in raw    # the order on disk
    back = run.generated_text()
    assert back == rec and back.to_dict() == raw and run.manifest() == raw
    assert back.tasks == ("retrieval", "ranking") and run.generated_tasks() == ["retrieval", "ranking"]
    assert back.history_len == 4 and back.item_rule.atomic_target and back.count("ranking", "test") == 3
    assert back.task_settings("ranking")["settings"]["history_len"] == 4
    # generating one task again keeps the other listed with its own settings
    again = generate(tiny_split, ["ranking"], tmp_path, GenerateConfig(history_len=2, progress=False))
    assert again.tasks == ("retrieval", "ranking") and again.history_len == 2
    assert again.task_settings("retrieval")["settings"]["history_len"] == 4


@pytest.mark.parametrize("data, field, match", [
    ({"counts": {}}, "tasks", "has no 'tasks'"),
    ({"tasks": "retrieval"}, "tasks", "list of strings"),
    ({"tasks": [], "settings": [1]}, "settings", "must be a mapping"),
    ({"tasks": [], "setings": {}}, "setings", "unknown key 'setings'"),
])
def test_a_wrong_record_is_refused_naming_file_and_field(tmp_path, data, field, match):
    p = tmp_path / "text" / "manifest.json"
    p.parent.mkdir()
    p.write_text(json.dumps(data))
    with pytest.raises(RecalignError, match=match) as e:
        RunDir(tmp_path).generated_text()
    assert e.value.field == field and str(p) in str(e.value)


def test_missing_and_unreadable_records(tmp_path):
    with pytest.raises(RecalignError, match="run `recalign generate` first"):
        RunDir(tmp_path).generated_text()
    p = tmp_path / "text" / "manifest.json"
    p.parent.mkdir()
    p.write_text("{not json")
    with pytest.raises(RecalignError, match="unreadable manifest"):
        RunDir(tmp_path).generated_text()


def test_an_older_record_reads_with_its_defaults():
    rec = GeneratedText.from_dict({"tasks": ["retrieval"], "splits": ["train", "valid"]})
    assert rec.item_rule.atomic_target is False and rec.history_len is None and rec.counts == {}
    assert rec.task_settings("retrieval") == {"seed": None, "settings": None, "templates_dirs": [], "jsonl": False}
    assert rec.to_dict() == {"tasks": ["retrieval"], "splits": ["train", "valid"], "counts": {}}

"""Issue 26 (items 4, 9, 10): every config value is checked when the config loads, before any work;
YAML booleans are not integers, a key written twice is an error naming both lines, and every YAML
read is bounded (size, expanded values, depth)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from recalign.cli import main
from recalign.config import MAX_YAML_BYTES, MAX_YAML_NODES, load_yaml, read_yaml
from recalign.errors import RecalignError
from recalign.pipeline import embed_config_from, load_run_config


@pytest.mark.parametrize("override, field, expected", [
    ("generate.history_len=yes", "generate.history_len", "expected an integer, got True (a YAML boolean)"),
    ("train.max_steps=true", "train.trainer.max_steps", "got True"),
    ("train.max_steps=abc", "train.trainer.max_steps", "expected an integer > 0 (or -1"),
    ("train.max_steps=0", "train.trainer.max_steps", "got 0"),
    ("train.learning_rate=-1", "train.trainer.learning_rate", "expected a number > 0, got -1"),
    ("train.per_device_train_batch_size=0", "train.trainer.per_device_train_batch_size", "expected an integer >= 1"),
    ("train.vocab_size=10", "train.vocab_size", "expected an integer >= 359"),
    ("evaluate.max_users=-5", "evaluate.max_users", "expected an integer >= 1, or null for every user, got -5"),
    ("evaluate.tasks=bogus", "evaluate.tasks", "unknown task 'bogus'"),
    ("evaluate.tasks=5", "evaluate.tasks", "expected a list, got 5"),
    ("evaluate.beam=0", "evaluate.beam", "expected an integer >= 1, got 0"),
    ("evaluate.split=train", "evaluate.split", "expected test or valid, got 'train'"),
    ("evaluate.batch_size=0", "evaluate.batch_size", "expected an integer >= 1, got 0"),
    ("baselines.models=Bogus", "baselines.models", "unknown baseline 'Bogus'; choose from SASRec"),
    ("baselines.overrides={SASRec: 5}", "baselines.overrides.SASRec", "expected a mapping"),
    ("run_dir=''", "run_dir", "expected a directory path"),
    ("data.item_k=-1", "data.item_k", "expected an integer >= 0"),
    ("embed.encode_batch_size=0", "embed.encode_batch_size", "expected an integer >= 1, got 0"),
    ("embed.threads=-1", "embed.threads", "expected an integer >= 0"),
    ("embed.vocab_size=10", "embed.vocab_size", "expected an integer >= 359"),
    ("embed.max_steps=0", "embed.max_steps", "got 0"),
    ("embed.query.writer=local:/nonexistent", "embed.query.writer", "no model directory '/nonexistent'"),
    ("generate.train_per_user={ranking: yes}", "generate.train_per_user.ranking", "a YAML boolean"),
])
def test_bad_value_is_one_line_naming_the_field(override, field, expected):
    with pytest.raises(RecalignError) as e:
        load_run_config(None, [override])
    assert e.value.field == field and expected in e.value.message, str(e.value)
    assert "\n" not in str(e.value)


def test_evaluate_tasks_as_a_string_is_a_list_and_none_generated_is_refused():
    assert load_run_config(None, ["evaluate.tasks=retrieval"]).evaluate.tasks == ["retrieval"]
    with pytest.raises(RecalignError, match="nothing would be evaluated"):
        load_run_config(None, ["evaluate.tasks=[rating]", "generate.tasks=[retrieval]"])


def test_embedder_section_alone_is_checked_too():
    for o, field in (("encode_batch_size=0", "encode_batch_size"), ("threads=-1", "threads"),
                     ("query.writer=local:/nonexistent", "query.writer")):
        with pytest.raises(RecalignError) as e:
            embed_config_from({}, [o])
        assert e.value.field == field


def test_evaluate_cli_batch_size_zero_fails_before_any_work(tmp_path):
    r = CliRunner().invoke(main, ["evaluate", "--run-dir", str(tmp_path), "-o", "batch_size=0"])
    assert r.exit_code == 1 and "field 'evaluate.batch_size': expected an integer >= 1, got 0" in r.output
    assert not (tmp_path / ".lock").exists()


def test_empty_run_dir_option_is_refused(tmp_path):
    r = CliRunner().invoke(main, ["run", "--run-dir", "", "-o", "train.max_steps=1"])
    assert r.exit_code == 2 and "expected a directory path" in r.output


def test_duplicate_keys_name_both_lines(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("run_dir: runs/x\ntrain:\n  max_steps: 5\nseeds: 1\ntrain:\n  max_steps: 6\n")
    with pytest.raises(RecalignError, match=r"line 5: duplicate key 'train' \(lines 2 and 5\)"):
        read_yaml(p)
    p.write_text("evaluate:\n  beam: 3\n  name: a\n  beam: 4\n")
    with pytest.raises(RecalignError, match=r"duplicate key 'beam' \(lines 2 and 4\)"):
        load_run_config(p)
    with pytest.raises(RecalignError, match="duplicate key 'a'"):
        load_run_config(None, ["baselines.overrides={SASRec: {a: 1, a: 2}}"])


def _bomb(levels: int = 9) -> str:
    lines = ["baselines:", "  overrides:", "    SASRec:", "      l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_under_baselines_overrides_is_one_line(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb())
    assert p.stat().st_size < 1500
    with pytest.raises(RecalignError, match=f"expands to more than {MAX_YAML_NODES:,} values") as e:
        load_run_config(p)
    assert str(p) in str(e.value)
    r = CliRunner().invoke(main, ["baseline", "-m", "Pop", "--run-dir", str(tmp_path / "r"), "--config", str(p)])
    assert r.exit_code == 1 and "expands to more than" in r.output
    with pytest.raises(RecalignError, match="expands to more than"):   # an override is read the same way
        load_run_config(None, ["baselines.overrides=" + "{a: &a [1,1,1,1,1,1,1,1,1,1], "
                               + ", ".join(f"b{i}: &b{i} [" + ", ".join([f"*{'a' if i == 0 else f'b{i - 1}'}"] * 10)
                                           + "]" for i in range(6)) + "}"])


def test_small_anchors_still_work_and_bounds_hold():
    assert load_yaml("a: &x {k: 1}\nb: *x") == {"a": {"k": 1}, "b": {"k": 1}}
    with pytest.raises(RecalignError, match="refers to its own anchor"):
        load_yaml("a: &x [1, *x]")
    with pytest.raises(RecalignError, match="nests too deeply"):
        load_yaml("[" * 150 + "]" * 150)
    with pytest.raises(RecalignError, match="nests too deeply"):
        load_yaml("[" * 5000 + "]" * 5000)
    with pytest.raises(RecalignError, match=f"at most {MAX_YAML_BYTES:,}"):
        load_yaml("a: " + "x" * MAX_YAML_BYTES)


def test_config_file_size_bound(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * MAX_YAML_BYTES + "\nseeds: 1\n")
    with pytest.raises(RecalignError, match="larger than 1,000,000 bytes"):
        read_yaml(p)


def test_template_files_are_read_within_the_same_yaml_bounds(tmp_path):
    from recalign.prompts.loader import read_template_file

    entry = '  - {id: r-1, split: seen, input: "{{ history | join(\', \') }}", target: "{{ target }}"'
    p = tmp_path / "retrieval.yaml"
    bomb = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"] + \
        [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
    p.write_text("description: {" + ", ".join(bomb) + "}\ntask: retrieval\ntemplates:\n" + entry + "}\n")
    with pytest.raises(RecalignError, match="template file expands to more than"):
        read_template_file(p)
    p.write_text("task: retrieval\ntemplates: []\ntask: ranking\n")
    with pytest.raises(RecalignError, match=r"duplicate key 'task' \(lines 1 and 3\)"):
        read_template_file(p)

"""`recalign templates show` is an author's starting point: variables, filters, and a valid file."""
import pytest
from click.testing import CliRunner

from recalign.cli import main


def test_show_lists_variables_and_filters_and_is_a_valid_template_file(tmp_path):
    r = CliRunner().invoke(main, ["templates", "show", "ranking"])
    assert r.exit_code == 0, r.output
    for line in ("#   history      list[str]", "#   candidates   list[str]", "#   target       str",
                 "#   natural_join(items, conj='and', sep=', '):", "#   numbered(items, sep='\\n',"):
        assert line in r.output, line
    d = tmp_path / "mine"
    d.mkdir()
    (d / "ranking.yaml").write_text(r.output.replace("id: ranking-seen-01", "id: my-ranking-01"))
    v = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert v.exit_code == 0 and "ok: 8 templates valid" in v.output, v.output
    ls = CliRunner().invoke(main, ["templates", "list", "--task", "ranking", "--templates", str(d)])
    ids = [ln.split()[1] for ln in ls.stdout.splitlines()]
    assert "my-ranking-01" in ids and len(ids) == 9          # 8 shipped + 1 new; the others overrode by id
    notes = ls.stderr.splitlines()                           # each override said once, on stderr
    assert len(notes) == 7 and f"note: id 'ranking-seen-02' (ranking) from {d} overrides " in notes[0], notes


def _one_template(tmp_path, task: str, target: str):
    d = tmp_path / "mine"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{task}.yaml"
    p.write_text(f"task: {task}\ntemplates:\n  - id: {task}-answer\n    split: seen\n"
                 f"    input: 'after {{{{ history | join(\", \") }}}}?'\n    target: '{target}'\n")
    return d, p


@pytest.mark.parametrize("task, target", [
    ("retrieval", "The answer is {{ target }}"), ("retrieval", "{{ target | upper }}"),
    ("ranking", "{{ target }}."), ("bpr", "{{ target | lower }}"), ("rating", "{{ target }} stars")])
def test_validate_refuses_a_target_the_answer_format_cannot_score(tmp_path, task, target):
    """Issue 13.8: the task's answer format decides what a valid target is; a retrieval/ranking
    target must render to exactly the item's text (and a rating target to the rating as written)."""
    d, p = _one_template(tmp_path, task, target)
    r = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.output
    assert str(p) in errors[0] and f"'{task}-answer'" in errors[0] and "line 6" in errors[0], errors[0]
    assert "the target must be exactly the" in errors[0]
    ok = CliRunner().invoke(main, ["templates", "validate", str(_one_template(tmp_path / "ok", task,
                                                                              "{{ target }}")[0])])
    assert ok.exit_code == 0, ok.output


def test_free_text_targets_are_not_held_to_an_item(tmp_path):
    """MIM's answer is free text (titles joined by '; '): no item check."""
    d, _ = _one_template(tmp_path, "mim", "Hidden: {{ target }}")
    assert CliRunner().invoke(main, ["templates", "validate", str(d)]).exit_code == 0


def test_render_speaks_the_chosen_domain():
    say = lambda d: CliRunner().invoke(main, ["templates", "render", "retrieval", "--n", "1", "--template",  # noqa: E731
                                              "retrieval-seen-01", "--domain", d])
    assert "I have recently watched " in say("movies").output
    assert "I have recently bought " in say("products").output
    bad = say("movi")
    assert bad.exit_code == 1 and "Did you mean 'movies'" in bad.output and "Traceback" not in bad.output

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


def test_every_templates_command_knows_the_query_tasks(tmp_path):
    """Issue 25: `templates list -t uh2i` answered "unknown task"; the query tasks' templates are listed,
    shown (as a valid file), rendered and started like the seq2seq tasks'."""
    ls = CliRunner().invoke(main, ["templates", "list", "-t", "uh2i"])
    assert ls.exit_code == 0, ls.output
    rows = [ln.split() for ln in ls.stdout.splitlines()]
    assert len(rows) == 12 and {r[0] for r in rows} == {"uh2i"} and sum(r[2] == "unseen" for r in rows) == 4
    everything = CliRunner().invoke(main, ["templates", "list"]).stdout
    assert {ln.split()[0] for ln in everything.splitlines()} >= {"retrieval", "bpr", "uh2i", "uq2i", "fa2i"}
    show = CliRunner().invoke(main, ["templates", "show", "fa2i"])
    assert show.exit_code == 0 and "#   attributes   list[str]" in show.output, show.output[:2000]
    d = tmp_path / "q"
    d.mkdir()
    (d / "fa2i.yaml").write_text(show.stdout.replace("id: fa2i-seen-01", "id: my-fa2i-01"))
    v = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert v.exit_code == 0 and "ok: 12 templates valid" in v.output, v.output
    r = CliRunner().invoke(main, ["templates", "render", "uh2i", "--n", "1", "--template", "uh2i-seen-02"])
    assert r.exit_code == 0 and "── uh2i-seen-02 (seen) user " in r.output and "oldest first:\n1. " in r.output, r.output
    bad = CliRunner().invoke(main, ["templates", "list", "-t", "uh2"])
    assert bad.exit_code == 1 and "Did you mean 'uh2i'" in bad.output


def test_templates_is_repeatable_later_wins_and_each_override_is_said(tmp_path):
    """Issue 25: --templates was taken once (the last silently won); now every directory stacks, in order."""
    dirs = []
    for name, words in (("a", "first"), ("b", "second")):
        d = tmp_path / name
        d.mkdir()
        (d / "retrieval.yaml").write_text("task: retrieval\ntemplates:\n  - id: retrieval-seen-01\n    split: seen\n"
                                          f"    input: '{words}: {{{{ history | join(\", \") }}}}'\n"
                                          "    target: '{{ target }}'\n")
        dirs += ["--templates", str(d)]
    (tmp_path / "b" / "mim.yaml").write_text("task: mim\ntemplates:\n  - id: my-mim\n    split: seen\n"
                                             "    input: '{{ history | join(\", \") }}'\n    target: '{{ target }}'\n")
    r = CliRunner().invoke(main, ["templates", "list", "-t", "retrieval", *dirs])
    assert r.exit_code == 0, r.output
    first = next(ln for ln in r.stdout.splitlines() if ln.split()[1] == "retrieval-seen-01")
    assert "second: {{ history" in first and len(r.stdout.splitlines()) == 8      # 8 shipped, overridden by id
    notes = r.stderr.splitlines()
    assert len(notes) == 2, notes
    assert notes[0].startswith(f"note: id 'retrieval-seen-01' (retrieval) from {tmp_path / 'a'} overrides ")
    assert notes[0].endswith("recalign/tasks/templates")
    assert notes[1] == f"note: id 'retrieval-seen-01' (retrieval) from {tmp_path / 'b'} overrides {tmp_path / 'a'}"
    ok = CliRunner().invoke(main, ["templates", "validate", str(tmp_path / "a"), str(tmp_path / "b")])
    assert ok.exit_code == 0 and "ok: 3 templates valid" in ok.output, ok.output


def test_new_writes_a_skeleton_that_validates_for_every_task(tmp_path):
    """Issue 25: one new template, not a dump of all: `templates new TASK ID` for each of the 16 tasks."""
    from recalign.tasks import all_task_names, load_templates

    d = tmp_path / "mine"
    for task in all_task_names():
        r = CliRunner().invoke(main, ["templates", "new", task, f"my-{task}", "--dir", str(d)])
        assert r.exit_code == 0 and f"template my-{task} (unseen)" in r.output, r.output
        assert [t.id for t in load_templates(task, [d]) if t.path.startswith(str(d))] == [f"my-{task}"]
    v = CliRunner().invoke(main, ["templates", "validate", str(d)])
    assert v.exit_code == 0 and "ok: 16 templates valid" in v.output, v.output
    again = CliRunner().invoke(main, ["templates", "new", "retrieval", "my-retrieval", "--dir", str(d)])
    assert again.exit_code == 1 and "already exists" in again.output
    seen = CliRunner().invoke(main, ["templates", "new", "retrieval", "my-seen", "--dir", str(d), "--split", "seen"])
    assert seen.exit_code == 0 and [t.split for t in load_templates("retrieval", [d]) if t.id == "my-seen"] == ["seen"]

"""Guard: template validation names every problem with its file line — empty parts, a render of the
task's sample example that fails or comes out empty, a target the task's own check rejects, duplicate
ids — and renders the sample only when the template is otherwise valid."""
from __future__ import annotations

import dataclasses

import pytest

from recalign.prompts.template import Template
from recalign.prompts.validate import check_template, check_templates


@dataclasses.dataclass
class Ex:
    history: list
    target: str

    @classmethod
    def sample(cls) -> "Ex":
        return cls(["Heat", "Alien"], "Fargo")


@dataclasses.dataclass
class NoSample:                                   # a record without sample(): nothing is rendered
    history: list
    target: str


ALLOWED = {"history", "target"}


def _t(inp: str, tgt: str = "{{ target }}", tid: str = "a") -> Template:
    return Template(tid, "retrieval", "seen", inp, tgt, path="t.yaml", line=3, input_line=4, target_line=7)


def _msgs(problems) -> list[str]:
    return [str(p) for p in problems]


@pytest.mark.parametrize("inp, tgt, want", [
    ("  ", "{{ target }}", ["t.yaml, line 4: template 'a' (retrieval): input is empty"]),
    ("{{ history | join(', ') }}", " ", ["t.yaml, line 7: template 'a' (retrieval): target is empty"]),
    ("{{ history | join(', ') }}", "{% if false %}x{% endif %}",
     ["t.yaml, line 7: template 'a' (retrieval): target renders to an empty string"]),
    ("{% if false %}x{% endif %}", "{{ target }}",
     ["t.yaml, line 4: template 'a' (retrieval): input renders to an empty string"]),
    ("{{ history[5] }}", "{{ target }}",
     ["t.yaml, line 4: template 'a' (retrieval): render failed: list object has no element 5"]),
    ("{{ history | join(', ') }}", "{{ target }} and more",
     ["t.yaml, line 7: template 'a' (retrieval): target is not a title: 'Fargo and more'"]),
])
def test_each_problem_is_named_with_its_line(inp, tgt, want):
    def check(sample, rendered):
        return None if rendered == sample.target else f"is not a title: {rendered!r}"

    assert _msgs(check_template(_t(inp, tgt), ALLOWED, Ex.sample(), check)) == want


def test_the_sample_is_rendered_only_for_an_otherwise_valid_template():
    bad_name = _t("{{ histroy[5] }}")                 # unknown name: reported, and no render error on top
    assert _msgs(check_template(bad_name, ALLOWED, Ex.sample())) == [
        "t.yaml, line 4: template 'a' (retrieval): input uses 'histroy', which is not a variable of this task "
        "(allowed: history, target). Did you mean 'history'?"]
    unparsable = _t("{{ history[5] }}", "{{ target ")
    assert [p.line for p in check_template(unparsable, ALLOWED, Ex.sample())] == [7]
    assert check_template(_t("{{ history[5] }}"), ALLOWED, None) == []       # no sample: not rendered
    assert check_template(_t("ok {{ target }}", "{{ target }}"), ALLOWED, Ex.sample(), None) == []


def test_the_unknown_name_is_located_on_its_own_line():
    t = _t("{{ history | join(', ') }}\n\n{{ target }}\n{{ ratng }}")
    (p,) = check_template(t, ALLOWED, Ex.sample())
    assert p.line == 4 + 3 and "'ratng'" in str(p)


def test_check_templates_uses_the_records_sample_and_check_and_finds_duplicates():
    calls = []

    def check(sample, rendered):
        calls.append((sample, rendered))
        return "is wrong" if rendered == "Fargo" else None

    ts = [_t("{{ history[0] }}", tid="a"), _t("{{ history[1] }}", tid="b"), _t("x {{ history[1] }}", tid="a")]
    got = _msgs(check_templates(ts, Ex, check))
    assert got == ["t.yaml, line 7: template 'a' (retrieval): target is wrong",
                   "t.yaml, line 7: template 'b' (retrieval): target is wrong",
                   "t.yaml, line 3: template 'a' (retrieval): duplicate template id",
                   "t.yaml, line 7: template 'a' (retrieval): target is wrong"]
    assert calls == [(Ex.sample(), "Fargo")] * 3
    assert check_templates([_t("{{ history[9] }}")], NoSample) == []         # no sample(): nothing rendered

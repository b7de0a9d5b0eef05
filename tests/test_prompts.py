"""Templates: every shipped template renders; validation rules; errors name file, id and line."""
from __future__ import annotations

import dataclasses
import textwrap

import pytest
from jinja2 import meta

from recalign.errors import RecalignError
from recalign.prompts import ENV, read_template_file, render
from recalign.prompts.env import natural_join, numbered, rated
from recalign.tasks import TASKS, TEMPLATES_DIR, GenerateConfig, load_templates, validate_dir
from recalign.tasks.domain import DOMAINS
from recalign.tasks.query import query_templates
from recalign.tasks.registry import QUERY_TASKS

ALL = [t for task in TASKS.names() for t in load_templates(task)]


@pytest.mark.parametrize("t", ALL, ids=[t.id for t in ALL])
def test_every_shipped_template(t):
    cls = TASKS.get(t.task).example_type
    allowed = {f.name for f in dataclasses.fields(cls)}
    for src in (t.input, t.target):
        assert meta.find_undeclared_variables(ENV.parse(src)) <= allowed
    inp, tgt = render(t, cls.sample())
    assert inp and tgt and "{{" not in inp and "Undefined" not in inp
    assert tgt == cls.sample().target  # targets stay canonical: evaluation compares them to titles/ratings
    assert t.split in ("seen", "unseen") and t.path.endswith(f"{t.task}.yaml") and t.line > 1


@pytest.mark.parametrize("task", TASKS.names())
def test_enough_seen_and_unseen_templates_with_unique_ids(task):
    ts = load_templates(task)
    assert sum(t.split == "seen" for t in ts) >= 6
    assert sum(t.split == "unseen" for t in ts) >= 2
    assert len({t.id for t in ts}) == len(ts)


def test_shipped_templates_validate():
    n, problems = validate_dir()
    queries = sum(len(query_templates(t)) for t in QUERY_TASKS)    # the query tasks' files are checked too
    assert problems == [] and n == len(ALL) + queries and len(ALL) >= 48 and queries >= 10 * 12


def test_exact_render_and_filters():
    t = next(t for t in load_templates("retrieval") if t.id == "retrieval-seen-02")
    assert render(t, {"history": ["Toy Story", "Heat"], "target": "Alien", "domain": DOMAINS["movies"]}) == (
        "Here is a user's viewing history, oldest first:\n1. Toy Story\n2. Heat\n"
        "Recommend the next item for this user.", "Alien")
    assert numbered(["a", "b"], fmt="({n}) {item}", sep=" ") == "(1) a (2) b"
    assert rated(["Heat"], ["4"], "{item}={rating}") == ["Heat=4"]
    assert natural_join(["a"]) == "a" and natural_join(["a", "b"], conj="or") == "a or b"


def test_sandbox_blocks_python_internals():
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        ENV.from_string("{{ x.__class__.__mro__ }}").render(x="a")
    with pytest.raises(Exception):  # StrictUndefined: a missing variable is an error
        ENV.from_string("{{ nope }}").render()


def _write(tmp_path, body: str, name: str = "retrieval.yaml"):
    d = tmp_path / "tpl"
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text(body)
    return d, p


GOOD = textwrap.dedent("""\
    task: retrieval
    templates:
      - id: mine-01
        split: seen
        input: |-
          Watched {{ history | join(", ") }}.
          Next?
        target: "{{ target }}"
    """)


def test_user_templates_add_and_override(tmp_path):
    d, _ = _write(tmp_path, GOOD + (
        "  - id: retrieval-seen-01\n"
        "    input: 'Overridden {{ history | last }}'\n"
        "    target: '{{ target }}'\n"))
    ts = load_templates("retrieval", [d])
    ids = [t.id for t in ts]
    assert "mine-01" in ids and ids.count("retrieval-seen-01") == 1
    over = ts[ids.index("retrieval-seen-01")]
    assert render(over, {"history": ["Heat"], "target": "Alien"}) == ("Overridden Heat", "Alien")


@pytest.mark.parametrize("bad, message, line", [
    ("input: |-\n          Watched {{ history | join(', ') }}.\n          Next? {% if %}", "does not parse", 7),
    ("input: 'Hi user {{ user_id }}'", "'user_id', which is not a variable", 5),
    ("input: '{{ histroy }}'", "Did you mean 'history'?", 5),
    ("input: 'x {{ history | no_such_filter }}'", "does not parse", 5),
    ("inptu: 'x'", "unknown key 'inptu'", 5),
    ("split: maybe\n        input: 'x'", "split must be 'seen' or 'unseen'", 5),
])
def test_broken_template_errors_name_file_id_and_line(tmp_path, bad, message, line):
    body = f"""\
    task: retrieval
    templates:
      - id: broken-01
        target: "{{{{ target }}}}"
        {bad}
    """
    d, p = _write(tmp_path, textwrap.dedent(body))
    n, problems = validate_dir(d)
    assert problems, "expected a problem"
    msg = str(problems[0])
    assert str(p) in msg and message in msg, msg
    if "unknown key" not in message and "split must" not in message:
        assert "'broken-01'" in msg
    assert f"line {line}" in msg, msg
    with pytest.raises(RecalignError):
        load_templates("retrieval", [d])


def test_empty_target(tmp_path):
    d, p = _write(tmp_path, GOOD.replace('target: "{{ target }}"', "target: '  '"))
    _, problems = validate_dir(d)
    assert [str(e) for e in problems] == [f"{p}, line 8: template 'mine-01' (retrieval): target is empty"]


def test_duplicate_ids_and_unknown_task(tmp_path):
    d, p = _write(tmp_path, GOOD + (
        "  - id: mine-01\n"
        "    input: 'again {{ history }}'\n"
        "    target: '{{ target }}'\n"))
    _, problems = validate_dir(d)
    assert any("duplicate template id" in str(e) and "line 9" in str(e) for e in problems)
    _write(tmp_path, GOOD.replace("task: retrieval", "task: retreival"), "other.yaml")
    _, problems = validate_dir(d)
    assert any("unknown task 'retreival'" in str(e) and "Did you mean 'retrieval'" in str(e) for e in problems)


def test_invalid_yaml_names_line(tmp_path):
    d, p = _write(tmp_path, "task: retrieval\ntemplates:\n  - id: [unclosed\n")
    with pytest.raises(RecalignError, match=r"retrieval.yaml, line \d+: invalid YAML"):
        read_template_file(p)


def test_shipped_dir_has_one_file_per_task():
    assert sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml")) == sorted(TASKS.names())


_DOMAIN_WORDS = ("watch", "viewer", "viewing", "movie", "film")


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.id)
def test_shipped_templates_fit_any_catalogue_by_default(t):
    """Issue 13.7: with the default (generic) domain no shipped template speaks of watching."""
    inp, tgt = t.render(TASKS.get(t.task).example_type.sample())
    assert not [w for w in _DOMAIN_WORDS if w in inp.lower()], inp


def test_a_dataset_chooses_its_domain_vocabulary(tiny_split):
    t = next(t for t in load_templates("retrieval") if t.id == "retrieval-seen-01")
    said = {}
    for dom in ("generic", "movies", "products"):
        ex, _ = TASKS.get("retrieval").build(tiny_split, "test", GenerateConfig(domain=dom, progress=False))[0]
        said[dom] = t.render(ex)[0]
    assert said["generic"].startswith("I have recently interacted with ") and said["generic"].endswith("try next?")
    assert said["movies"].startswith("I have recently watched ") and said["movies"].endswith("watch next?")
    assert said["products"].startswith("I have recently bought ") and said["products"].endswith("buy next?")
    with pytest.raises(RecalignError, match="unknown domain 'movie'.*Did you mean 'movies'"):
        GenerateConfig(domain="movie")


def test_every_task_template_file_ships_as_package_data():
    """setup.cfg's package_data globs must cover each built-in task's template file (a wheel without
    them installs but cannot generate)."""
    import configparser
    import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    globs = [g.strip() for g in cfg["options.package_data"]["recalign"].split(",")]
    for t in TASKS:
        rel = t.template_file.resolve().relative_to(root / "recalign").as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), (rel, globs)

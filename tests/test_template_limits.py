"""Hostile templates fail fast and small, with one line naming the file and template id;
the sandbox that renders real Template objects is the immutable, bounded one."""
from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from recalign.errors import RecalignError
from recalign.prompts.env import ENV
from recalign.prompts.limits import Limits, TemplateLimitError, size_of
from recalign.prompts.loader import read_template_file

HISTORY = ["Toy Story", "Heat", "Alien"]
# each of these rendered for tens of seconds or grew to GBs before the limits
HOSTILE = {
    "string_times_big": "{{ 'a' * 10**9 }}",
    "list_times_big": "{{ [1] * 10**8 }}",
    "huge_power": "{{ 9 ** (9 ** 9) }}",
    "huge_range": "{{ range(10**9) | list }}",
    "nested_loops_no_output": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "string_doubling": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                       "{% endfor %}{{ ns.s | length }}",
    "list_doubling_by_reference": "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}"
                                  "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
    "dict_doubling_by_reference": "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}"
                                  "{% set ns.l = dict(a=ns.l, b=ns.l) %}{% endfor %}{{ ns.l }}",
    "exponential_macro": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "macro_output_in_loop": "{% macro big() %}{% for i in range(100000) %}" + "y" * 2000
                            + "{% endfor %}{% endmacro %}{{ big() | length }}",
    "center_width": "{{ 'a' | center(10**9) }}",
    "method_width": "{{ 'a'.ljust(10**9) }}",
    "percent_width": "{{ '%0999999999d' % 1 }}",
    "format_nested_width": "{{ '{:>{w}}'.format(1, w=999999999) }}",
    "replace_empty": "{{ ('a' * 100000) | replace('', 'b' * 100000) }}",
    "join_separator": "{{ (['a'] * 100000) | join('b' * 100000) }}",
    "map_center": "{{ range(100000) | map('string') | map('center', 99999) | join | length }}",
    "integer_squaring": "{% set ns = namespace(x=3) %}{% for i in range(60) %}{% set ns.x = ns.x * ns.x %}"
                        "{% endfor %}{{ ns.x }}",
    "long_output": "{% for i in range(100000) %}{{ 'z' * 1000 }}{% endfor %}",
    "self_recursion": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
}


def _template_file(tmp_path, inputs: dict[str, str]):
    d = tmp_path / "tpl"
    d.mkdir(exist_ok=True)
    entries = [{"id": tid, "split": "seen", "input": src, "target": "{{ target }}"} for tid, src in inputs.items()]
    p = d / "retrieval.yaml"
    p.write_text(yaml.safe_dump({"task": "retrieval", "templates": entries}, width=1000))
    return d, p


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_template_fails_fast_and_small_with_file_and_id(tmp_path, name):
    _, path = _template_file(tmp_path, {name: HOSTILE[name]})
    (t,) = read_template_file(path)[1]
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(RecalignError) as e:
            t.render({"history": HISTORY, "target": "Fargo"})
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(e.value)
    assert msg.startswith(f"{path}, line ") and f"template {name!r}" in msg and "\n" not in msg
    assert elapsed < 2.5, elapsed        # (tracemalloc slows this down ~2x)
    assert peak < 200 * 2**20, peak      # a few MB; the unbounded render grew to GBs


def test_compiled_fast_path_is_bounded_too(tmp_path):
    """generate renders through Template.compile()'s functions, not Template.render."""
    _, path = _template_file(tmp_path, {"evil": HOSTILE["string_times_big"]})
    (t,) = read_template_file(path)[1]
    fin, _ = t.compile()
    with pytest.raises(TemplateLimitError, match="would build 1,000,000,000"):
        fin({"history": HISTORY, "target": "Fargo"})


def test_limits_leave_real_templates_alone():
    src = ("{% for h in history %}{{ loop.index }}. {{ h | upper }}{% if not loop.last %}; {% endif %}"
           "{% endfor %} | {{ history | numbered(sep=' ') }} | {{ ([target] * 2) | join('/') }} | {{ '%s!' % target }}")
    out = ENV.from_string(src).render(history=HISTORY, target="Fargo")
    assert out == ("1. TOY STORY; 2. HEAT; 3. ALIEN | 1. Toy Story 2. Heat 3. Alien | Fargo/Fargo | Fargo!")
    # a 20-title history of 1,000-character titles (the data limit) renders
    long = ["t" * 1000] * 20
    assert len(ENV.from_string("{{ h | join(', ') }}").render(h=long)) == 20 * 1000 + 19 * 2


def test_limits_are_per_render_and_configurable():
    from recalign.prompts.env import make_env

    env = make_env(Limits(max_output=10, seconds=5.0))
    tmpl = env.from_string("{{ x }}")
    assert tmpl.render(x="0123456789") == "0123456789"
    with pytest.raises(TemplateLimitError, match="output longer than 10 characters"):
        tmpl.render(x="0123456789a")
    assert tmpl.render(x="ok") == "ok"   # the budget is fresh for each render
    assert size_of([["ab"] * 3] * 2, 100) == 2 + 2 * (3 + 3 * 2)


def test_sandbox_through_a_real_template_is_immutable(tmp_path):
    """Fails if the compile path used a plain jinja2.Environment (append works, __class__ renders)
    or the mutable SandboxedEnvironment (append works)."""
    _, path = _template_file(tmp_path, {"mutates": "{{ history.append('x') }}{{ history | join(', ') }}",
                                        "internals": "{{ history.__class__.__mro__ }}",
                                        "globals": "{{ lipsum(10**6) }}"})
    history = list(HISTORY)
    for t in read_template_file(path)[1]:
        with pytest.raises(RecalignError, match=rf"template {t.id!r}.*render failed") as e:
            t.render({"history": history, "target": "Fargo"})
        assert str(e.value).startswith(str(path))
    assert history == HISTORY


def test_templates_validate_reports_hostile_and_non_utf8_files_in_one_line_each(tmp_path):
    d, path = _template_file(tmp_path, {"evil-01": HOSTILE["string_times_big"],
                                        "evil-02": HOSTILE["nested_loops_no_output"],
                                        "ok-01": "Seen {{ history | join(', ') }}. Next?"})
    # a file with a byte that is not UTF-8 is reported (with its line) and the others still validated
    (d / "bad.yaml").write_bytes(b"task: retrieval\ntemplates:\n  - id: latin1\n    input: 'caf\xe9'\n")
    t0 = time.perf_counter()
    script = Path(sys.executable).with_name("recalign")  # the installed console script
    r = subprocess.run([str(script), "templates", "validate", str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors[0] == f"error: {d / 'bad.yaml'}, line 4: not UTF-8 text (byte b'\\xe9' at column 16): save " \
                        "the file as UTF-8", r.stderr
    assert [("evil-01" in ln, "evil-02" in ln, str(path) in ln) for ln in errors[1:]] == \
        [(True, False, True), (False, True, True)], r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip().endswith(f"3 problem(s) in {d}")
    assert time.perf_counter() - t0 < 20


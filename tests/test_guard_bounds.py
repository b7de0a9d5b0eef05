"""Guard (issue 26, items 9 and 14): template bombs end in one line, fast, in a bounded process;
`templates validate` renders each template on long lists too, and reports every *.yaml it cannot
read (symlink loop, broken link, FIFO, /dev/zero link) instead of skipping it and saying "ok".

The bombs render in a subprocess under RLIMIT_AS (1.5 GB): before the fix each one either raised
MemoryError, ran for 10 s building 600 MB, or would have allocated 10 GB."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from recalign.cli import main
from recalign.prompts import Template
from recalign.prompts.limits import size_of

BOMBS = {
    # an int of 4,000 bits prints 1,205 digits: counted as 1 item, 500,000 of them printed 600 MB in 10 s
    "big ints": "{{ [2**4000] * 500000 }}",
    "big ints joined": "{% set x = [2**4000] * 500000 %}{{ x | join(',') | length }}",
    "big ints as JSON": "{% set x = [2**4000] * 500000 %}{{ x | tojson | length }}",
    # one 99,999-wide field repeated 100,000 times: 10 GB from a 1 MB format string
    "'%' width repeated": "{{ ('%(a)99999d' * 100000) % {'a': 1} }}",
    "format width repeated": "{{ ('{0:>99999}' * 90000).format(1) | length }}",
    "filter format width repeated": "{{ ('%(a)99999d' * 100000) | format(a=1) | length }}",
    # bytes escape every check: 10 GB at once
    "bytes": "{{ ('a'.encode() * 10**10) | length }}",
    "bytes by attr": "{{ ('a' | attr('encode'))() * 10**10 }}",
    # one character → a 100,000-character string, 100,000 times
    "translate": "{% set d = {97: 'x' * 100000} %}{{ ('a' * 100000).translate(d) | length }}",
}

_SCRIPT = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 ** 2, 1536 * 1024 ** 2))
from recalign.errors import RecalignError
from recalign.prompts import Template
out = {}
for name, src in json.loads(sys.argv[1]).items():
    t0 = time.monotonic()
    try:
        Template("bomb", "retrieval", "seen", src, "{{ target }}").render({"history": ["Heat"], "target": "Heat"})
        out[name] = ["rendered", "", time.monotonic() - t0]
    except RecalignError as e:
        out[name] = ["RecalignError", str(e), time.monotonic() - t0]
    except BaseException as e:
        out[name] = [type(e).__name__, str(e)[:200], time.monotonic() - t0]
print(json.dumps(out))
"""


def test_template_bombs_are_refused_before_they_allocate():
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(BOMBS)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout)
    for name in BOMBS:
        kind, msg, secs = got[name]
        assert kind == "RecalignError", (name, kind, msg)
        assert "MemoryError" not in msg, (name, msg)
        assert msg.startswith("template 'bomb' (retrieval): render failed: ") and "\n" not in msg, (name, msg)
        assert ("limit" in msg or "unsafe" in msg), (name, msg)
        assert secs < 1.5, (name, secs, msg)
    assert "1,000,000" in got["big ints"][1] and "603,000,000" in got["big ints"][1]
    assert "access to attribute 'encode'" in got["bytes"][1]
    assert "access to attribute 'translate'" in got["translate"][1]
    assert time.monotonic() - t0 < 60


def test_size_of_counts_the_digits_of_ints_and_floats():
    for v in (2 ** 4000, 10 ** 99, 10 ** 99 - 1, 8, 9, 10, 15, 16, 12345):   # an estimate, never under
        assert len(str(v)) <= size_of(v, 10 ** 9) <= len(str(v)) + 1, v
    assert size_of(-(10 ** 50), 10 ** 9) >= len(str(-(10 ** 50)))
    assert size_of([1, 2, 3], 100) == 3 + 3 and size_of([0.1], 100) == 1 + len("0.1")


def test_ordinary_templates_still_render():
    t = Template("ok", "retrieval", "seen", "{{ '%05d' % 42 }} {{ '{:>6}'.format(history | length) }} "
                 "{{ history | join(', ') }} {{ 2**64 }}", "{{ target }}")
    assert t.render({"history": ["Heat", "Alien"], "target": "Fargo"}) == ("00042      2 Heat, Alien 18446744073709551616",
                                                                          "Fargo")


def _validate(d: Path):
    return CliRunner().invoke(main, ["templates", "validate", str(d)])


def test_validate_catches_a_bomb_that_only_goes_off_on_long_histories(tmp_path):
    # three nested loops over the history: 64 lines on the 4-item sample, 1,000,000 on 100 items
    (tmp_path / "retrieval.yaml").write_text(
        "task: retrieval\ntemplates:\n  - id: nested\n    input: |-\n"
        "      {% for a in history %}{% for b in history %}{% for c in history %}{{ a }} {{ b }} {{ c }}. "
        "{% endfor %}{% endfor %}{% endfor %}\n    target: \"{{ target }}\"\n")
    t0 = time.monotonic()
    r = _validate(tmp_path)
    assert time.monotonic() - t0 < 30
    assert r.exit_code == 1, r.output
    assert "ok:" not in r.output
    assert (f"{tmp_path / 'retrieval.yaml'}, line 5: template 'nested' (retrieval): render with 100-item lists "
            "(a long history) failed: output longer than 100,000 characters") in r.output


def test_validate_still_passes_a_template_whose_output_grows_linearly(tmp_path):
    (tmp_path / "retrieval.yaml").write_text(
        "task: retrieval\ntemplates:\n  - id: plain\n    input: \"Seen: {{ history | join(', ') }}. Next?\"\n"
        "    target: \"{{ target }}\"\n")
    r = _validate(tmp_path)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ok: 1 templates valid")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_validate_reports_every_unreadable_yaml_and_does_not_hang(tmp_path):
    (tmp_path / "retrieval.yaml").write_text(
        "task: retrieval\ntemplates:\n  - id: plain\n    input: \"{{ history | join(', ') }}\"\n"
        "    target: \"{{ target }}\"\n")
    (tmp_path / "loop1.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop1.yaml")
    (tmp_path / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    os.mkfifo(tmp_path / "fifo.yaml")                       # no writer: an open() without O_NONBLOCK would hang
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")         # read() would never end
    (tmp_path / "huge.yml").write_bytes(b"#" * 1_000_001)
    t0 = time.monotonic()
    r = _validate(tmp_path)
    assert time.monotonic() - t0 < 30
    assert r.exit_code == 1 and "ok:" not in r.output, r.output
    for line in [f"error: {tmp_path / 'loop1.yaml'}: cannot read the template file: a symlink loop",
                 f"error: {tmp_path / 'loop2.yaml'}: cannot read the template file: a symlink loop",
                 f"error: {tmp_path / 'broken.yaml'}: cannot read the template file: a broken symlink",
                 f"error: {tmp_path / 'fifo.yaml'}: cannot read the template file: a FIFO, not a regular file",
                 f"error: {tmp_path / 'zero.yaml'}: cannot read the template file: a device, not a regular file",
                 f"error: {tmp_path / 'huge.yml'}: template file of 1,000,001 bytes (limit 1,000,000)"]:
        assert line in r.output.splitlines(), (line, r.output)
    assert "Error: 6 problem(s)" in r.output

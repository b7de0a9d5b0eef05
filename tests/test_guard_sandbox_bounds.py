"""Guard: the bounded sandbox's estimates, at their limits. Each operation that could build a big value
is refused *before* it runs when its estimate is over ``max_size`` — and renders when the estimate is
exactly the limit. Estimates are computed by hand below (values come from the context: Jinja would fold
literals while compiling)."""
from __future__ import annotations

import re
import time

import pytest
from jinja2.exceptions import UndefinedError
from jinja2.utils import Namespace

from recalign.prompts.env import make_env
from recalign.prompts.limits import Budget, Limits, TemplateLimitError, check_format, size_of


def _render(src: str, limits: Limits, **ctx) -> str:
    return make_env(limits).from_string(src).render(**ctx)


# (template, context, estimate by hand, what the refusal names)
ESTIMATES = {
    "filter replace": ("{{ v | replace('a', 'bcd') }}", dict(v="aaaa"), 4 + 4 * 2, "filter 'replace'"),
    "filter replace shrinking": ("{{ v | replace('aa', 'b') }}", dict(v="aaaa"), 4, "filter 'replace'"),
    "filter indent": ("{{ v | indent(3) }}", dict(v="ab\ncd"), 5 + 2 * 3, "filter 'indent'"),
    "filter indent width=": ("{{ v | indent(width=3) }}", dict(v="ab\ncd"), 5 + 2 * 3, "filter 'indent'"),
    "filter indent by a string": ("{{ v | indent('--') }}", dict(v="ab\ncd"), 5 + 2 * 2, "filter 'indent'"),
    "filter indent default": ("{{ v | indent }}", dict(v="ab\ncd"), 5 + 2 * 4, "filter 'indent'"),
    "filter wordwrap": ("{{ v | wordwrap(5) }}", dict(v="abcdefghij"), 10 + (2 + 0 + 1) * 1, "filter 'wordwrap'"),
    "filter wordwrap wrapstring=": ("{{ v | wordwrap(5, wrapstring='--') }}", dict(v="abcdefghij"), 10 + 3 * 2,
                                    "filter 'wordwrap'"),
    "filter wordwrap third argument": ("{{ v | wordwrap(5, true, '--') }}", dict(v="abcdefghij"), 10 + 3 * 2,
                                       "filter 'wordwrap'"),
    "filter wordwrap default": ("{{ v | wordwrap }}", dict(v="abc\nde"), 6 + (0 + 1 + 1) * 1, "filter 'wordwrap'"),
    "filter format": ("{{ v | format(x, y) }}", dict(v="%s-%s", x="abc", y="de"), 5 + 3 + 2, "filter 'format'"),
    "filter format by name": ("{{ v | format(a=x) }}", dict(v="%(a)s!", x="abcd"), 6 + 4, "filter 'format'"),
    "filter join on a list": ("{{ l | join('xy') }}", dict(l=["", "", ""]), 3 * 2, "filter 'join'"),
    "filter join d=": ("{{ l | join(d='xy') }}", dict(l=["", "", ""]), 3 * 2, "filter 'join'"),
    "'*' string times int": ("{{ v * n }}", dict(v="ab", n=3), 2 * 3, "'*' on a string or list"),
    "'*' int times string": ("{{ n * v }}", dict(v="ab", n=3), 2 * 3, "'*' on a string or list"),
    "'*' list times int": ("{{ (l * n) | length }}", dict(l=["ab", "c"], n=2), (2 + 3) * 2,
                           "'*' on a string or list"),
    "'+' strings": ("{{ x + y }}", dict(x="abc", y="de"), 3 + 2, "'+'"),
    "'+' lists": ("{{ (x + y) | length }}", dict(x=["ab", "c"], y=["d"]), (2 + 3) + (1 + 1), "'+'"),
    "'%' formatting": ("{{ v % x }}", dict(v="%s!", x="abcd"), 3 + 4, "'%' formatting"),
    "method replace": ("{{ v.replace('a', 'bcd') }}", dict(v="aaaa"), 4 + 4 * 2, "method 'replace'"),
    "method join": ("{{ s.join(l) }}", dict(s="xy", l=["a", "b", "c"]), (3 + 3) + 2 * 3, "method 'join'"),
    "method format": ("{{ v.format(x) }}", dict(v="{}!", x="abcd"), 3 + 4, "method 'format'"),
    "method format by name": ("{{ v.format(a=x) }}", dict(v="{a}!", x="abcd"), 4 + 4, "method 'format'"),
    "method expandtabs": ("{{ v.expandtabs(3) }}", dict(v="a\tb\t"), 4 + 2 * 3, "method 'expandtabs'"),
    "method expandtabs tabsize=": ("{{ v.expandtabs(tabsize=3) }}", dict(v="a\tb\t"), 4 + 2 * 3,
                                   "method 'expandtabs'"),
    "method expandtabs default": ("{{ v.expandtabs() }}", dict(v="a\tb\t"), 4 + 2 * 8, "method 'expandtabs'"),
}


@pytest.mark.parametrize("case", ESTIMATES)
def test_estimate_at_the_limit_renders_and_one_over_is_refused_first(case):
    src, ctx, n, what = ESTIMATES[case]
    _render(src, Limits(max_size=n), **ctx)                               # exactly the limit: renders
    with pytest.raises(TemplateLimitError, match=re.escape(f"{what} would build {n:,} characters/items "
                                                           f"(limit {n - 1:,})")):
        _render(src, Limits(max_size=n - 1), **ctx)


@pytest.mark.parametrize("src", ["{{ v | center(w) }}", "{{ v | center(width=w) }}", "{{ v | truncate(w) }}",
                                 "{{ l | batch(w) | list | length }}", "{{ v.ljust(w) }}", "{{ v.center(w) }}",
                                 "{{ v.zfill(w) }}", "{{ v.rjust(w) }}"])
def test_width_arguments_at_the_limit(src):
    lim = Limits(max_int_arg=50)
    _render(src, lim, v="ab", l=[1, 2], w=50)
    kind = "filter" if "|" in src.split("}}")[0] and "." not in src else "method"
    name = re.search(r"[|.] ?(\w+)\(", src).group(1)
    for w in (51, -51):
        with pytest.raises(TemplateLimitError, match=re.escape(f"{kind} {name!r}: argument {w:,} is over the "
                                                               "limit of 50")):
            _render(src, lim, v="ab", l=[1, 2], w=w)


@pytest.mark.parametrize("a, b, ok", [(2 ** 2047, 2 ** 2047, True), (2 ** 2047, 2 ** 2048, False),
                                      (-(2 ** 2047), 2 ** 2048, False), (3, 2 ** 4093, True)],
                         ids=["2048+2048 bits", "2048+2049", "negative", "2+4094"])
def test_integer_products_are_bounded_by_bits(a, b, ok):
    lim = Limits(max_int_bits=4096)
    if ok:
        assert _render("{{ a * b }}", lim, a=a, b=b) == str(a * b)
    else:
        with pytest.raises(TemplateLimitError, match="'\\*' would make an integer of more than 4,096 bits"):
            _render("{{ a * b }}", lim, a=a, b=b)


@pytest.mark.parametrize("a, b, ok", [(2, 4096, True), (2, 4097, False), (-2, 4097, False), (3, 4096, True),
                                      (4, 2048, True), (4, 2049, False), (1, 10 ** 9, True), (-1, 10 ** 9, True),
                                      (10 ** 9, 0, True), (10 ** 9, -3, True)])
def test_integer_powers_are_bounded_by_bits(a, b, ok):
    lim = Limits(max_int_bits=4096)
    if ok:
        assert _render("{{ a ** b }}", lim, a=a, b=b) == str(a ** b)
    else:
        with pytest.raises(TemplateLimitError, match="'\\*\\*' would make an integer of more than 4,096 bits"):
            _render("{{ a ** b }}", lim, a=a, b=b)


def test_sum_needs_a_numeric_start():
    assert _render("{{ l | sum(start=s) }}", Limits(), l=[1, 2], s=3) == "6"
    assert _render("{{ l | sum(attribute=none, start=s) }}", Limits(), l=[1.5, 2], s=1) == "4.5"
    for src in ("{{ l | sum(start=s) }}", "{{ l | sum(none, s) }}"):
        with pytest.raises(TemplateLimitError, match="filter 'sum' with a non-numeric start is not allowed"):
            _render(src, Limits(), l=[[1], [2]], s=[])


def test_range_at_the_limit():
    assert _render("{{ range(n) | length }}", Limits(max_size=5), n=5) == "5"
    with pytest.raises(TemplateLimitError, match=re.escape("range of 6 items (limit 5)")):
        _render("{{ range(n) | length }}", Limits(max_size=5), n=6)


@pytest.mark.parametrize("fmt, ok", [("%50d", True), ("%51d", False), ("%.50f", True), ("%.51f", False),
                                     ("%(a)-51s", False), ("{:>50}", True), ("{:>51}", False), ("{0:.51}", False),
                                     ("{a:^051}", False), ("%-50s and {:50}", True)])
def test_format_widths_at_the_limit(fmt, ok):
    lim = Limits(max_int_arg=50)
    if ok:
        check_format(fmt, lim)
    else:
        with pytest.raises(TemplateLimitError, match="format width 51 is over the limit of 50"):
            check_format(fmt, lim)


@pytest.mark.parametrize("fmt", ["%*d", "%.*f", "%-*s"])
def test_star_widths_are_refused(fmt):
    with pytest.raises(TemplateLimitError, match=re.escape("a '*' width in a format string is not allowed")):
        check_format(fmt, Limits())


def test_size_of_counts_characters_items_and_each_use_of_a_shared_container():
    assert (size_of("abc", 100), size_of(range(7), 100), size_of(5, 100), size_of(None, 100)) == (3, 7, 1, 1)
    assert size_of(["ab", "c"], 100) == 2 + 3 and size_of([1, 2], 100) == 2 + 2
    assert size_of({"ab": [1, 2]}, 100) == 2 + 2 + (2 + 2)                 # keys and values
    assert size_of({"ab"}, 100) == 1 + 2 and size_of(Namespace(a="xy"), 100) == 2 + 1 + 2
    x = ["abc"]
    assert size_of([x, x], 100) == 2 + 2 * (1 + 3)                        # shared twice: counted twice
    cyc: list = []
    cyc.append(cyc)
    assert size_of(cyc, 100) == 1 + 1 and size_of([cyc], 100) == 1 + 2   # a cycle counts 1 where it closes
    assert size_of(["a" * 10] * 5, 1000) == 5 + 50 and size_of(["a" * 10] * 5, 15) == 25   # stops past the limit


def test_budget_counts_values_and_the_render_total_at_their_limits():
    b = Budget(Limits(max_size=5, max_total=8), timed=False)
    b.built("abcde")
    with pytest.raises(TemplateLimitError, match="^a value larger than 5 characters/items$"):
        b.built("abcdef")
    b.built("abc")                                                        # 8 in all: the limit
    with pytest.raises(TemplateLimitError, match="^the render built more than 8 characters/items in all$"):
        b.built("a")
    b = Budget(Limits(max_size=5), timed=False)
    b.built([["abcd"]], "x", deep=False)                                  # a filter's result: its items only
    with pytest.raises(TemplateLimitError, match="^x larger than 5"):
        b.built([["abcd"]], "x")                                          # 1 + 1 + 4, nested
    with pytest.raises(TemplateLimitError, match="^x larger than 5"):
        b.built("abcdef", "x", deep=False)                                # a string counts its characters
    with pytest.raises(TemplateLimitError, match=re.escape("y would build 6 characters/items (limit 5)")):
        b.will_build(6, "y")
    b.will_build(5, "y")


def test_the_clock_is_read_only_for_timed_budgets():
    Budget(Limits(seconds=0.0), timed=False).check_time()
    b = Budget(Limits(seconds=0.0))
    time.sleep(0.002)
    with pytest.raises(TemplateLimitError, match="^render took longer than 0 s$"):
        b.check_time()


def test_the_environment_trims_block_lines_keeps_text_raw_and_refuses_unknown_names():
    src = "a\n    {% if true %}\n  b\n    {% endif %}\nc {{ v }}\n"
    assert _render(src, Limits(), v="<x & y>") == "a\n  b\nc <x & y>"    # block lines vanish, no escaping
    with pytest.raises(UndefinedError, match="'nope' is undefined"):
        _render("{{ nope }}", Limits())


def test_steps_are_counted_one_by_one_and_the_clock_read_every_16():
    b = Budget(Limits(max_steps=3), timed=False)
    for _ in range(3):
        b.step()
    assert b.steps == 3
    with pytest.raises(TemplateLimitError, match=re.escape("more than 3 steps (loop iterations, calls, operators) "
                                                           "in one render")):
        b.step()
    b = Budget(Limits(seconds=0.0))
    time.sleep(0.002)
    for _ in range(15):
        b.step()                                                          # past the deadline, clock not read yet
    with pytest.raises(TemplateLimitError, match="render took longer than 0 s"):
        b.step()

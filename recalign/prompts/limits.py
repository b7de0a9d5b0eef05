"""Bounds on what one template render may cost: time, steps, and the size of every value.

A template is data written by a user, so a render must end fast and small whatever the
template does (``{{ 'a' * 10**9 }}``, ``{{ [1] * 10**8 }}``, nested loops, doubling a string
in a loop, a macro that calls itself twice). The sandboxed environment (``env.py``) calls the
checks below at every operator, call, filter, loop step, literal and output chunk; a
violation raises ``TemplateLimitError`` (a Jinja ``SecurityError``), which the template
layer reports as one line naming the file and template id.

>>> size_of(["ab", ["cd", 1]], 100)     # 2 items + "ab" + 2 items + "cd" + 1
9
>>> check_format("%09999999d", Limits())
Traceback (most recent call last):
...
recalign.prompts.limits.TemplateLimitError: format width 9999999 is over the limit of 100,000
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace


class TemplateLimitError(SecurityError):
    """A render went past one of the ``Limits``."""


@dataclass(frozen=True)
class Limits:
    """Per-render bounds (defaults are ~100x what the shipped templates need)."""

    max_output: int = 100_000     # characters of one rendered input or target
    max_size: int = 1_000_000     # characters + items of any value a template builds
    max_total: int = 10_000_000   # characters + items of all values built in one render
    max_int_arg: int = 100_000    # a width / count passed to a filter or a method
    max_int_bits: int = 4_096     # integers a template computes (``9**9**9`` is refused)
    max_steps: int = 1_000_000    # loop iterations + calls + operators + filters per render
    seconds: float = 1.0          # wall-clock time per render


LIMITS = Limits()
_NESTED = (list, tuple, set, frozenset, dict, Namespace)


def size_of(value, limit: int) -> int:
    """Characters of strings plus items of containers, nested, as ``str()`` would write them
    (a list shared twice counts twice); stops past ``limit``. Shared containers are measured
    once, so doubling a structure by reference (``[x, x]``) costs one step per level."""
    t = type(value)
    if t is str or t is range:
        return len(value)
    if not isinstance(value, _NESTED):
        return _scalar_size(value)
    memo: dict[int, int] = {}
    busy: set[int] = set()
    stack = [(value, False)]
    while stack:
        v, expanded = stack.pop()
        key = id(v)
        kids = _children(v)
        if not expanded:
            if key in memo or key in busy:
                continue
            busy.add(key)
            stack.append((v, True))
            stack.extend((x, False) for x in kids if isinstance(x, _NESTED) and id(x) not in memo)
            continue
        n = len(kids)
        for x in kids:
            tx = type(x)
            if tx is str or tx is range:
                n += len(x)
            elif isinstance(x, _NESTED):
                n += memo.get(id(x), 1)  # 1: a container on the current path (a cycle)
            else:
                n += _scalar_size(x)
            if n > limit:
                return n
        memo[key] = n
        busy.discard(key)
    return memo[id(value)]


def _scalar_size(x) -> int:
    """Characters ``str(x)`` writes for a number (an int of 4,096 bits prints 1,234 digits:
    counting it as 1 let ``[2**4000] * 500000`` print 600 MB); 1 for anything else (generators,
    Undefined, macros: counted where they produce values)."""
    if isinstance(x, int):
        bits = x.bit_length()
        return 1 if bits <= 3 else bits * 30103 // 100000 + 1 + (x < 0)
    if isinstance(x, float):
        return len(repr(x))
    return 1


def _children(v) -> list | tuple:
    if isinstance(v, Namespace):
        v = v._Namespace__attrs  # noqa: SLF001 — its repr prints every attribute
    if isinstance(v, dict):
        return [*v.keys(), *v.values()]
    return v if isinstance(v, (list, tuple)) else list(v)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")


def check_format(fmt: str, limits: Limits) -> int:
    """Refuse ``%``/``str.format`` widths or precisions over ``max_int_arg`` (and ``*`` widths,
    which take the width from the arguments). Returns the sum of every width and precision: what
    the fields may add to the output (``'%(a)99999d' * 100000 % {'a': 1}`` repeats one field)."""
    extra = 0
    for m in _PERCENT_SPEC.finditer(fmt):
        for g in m.groups():
            if g == "*":
                raise TemplateLimitError("a '*' width in a format string is not allowed in templates")
            if g and int(g) > limits.max_int_arg:
                raise TemplateLimitError(f"format width {int(g)} is over the limit of {limits.max_int_arg:,}")
            extra += int(g) if g else 0
    for m in _BRACE_SPEC.finditer(fmt):
        for num in re.findall(r"\d+", m.group(1)):
            if int(num) > limits.max_int_arg:
                raise TemplateLimitError(f"format width {int(num)} is over the limit of {limits.max_int_arg:,}")
            extra += int(num)
    return extra


class Budget:
    """What one render has used so far: steps, size of the values built, time."""

    __slots__ = ("limits", "steps", "total", "deadline")

    def __init__(self, limits: Limits, timed: bool = True) -> None:
        self.limits, self.steps, self.total = limits, 0, 0
        self.deadline = time.monotonic() + limits.seconds if timed else None

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.limits.max_steps:
            raise TemplateLimitError(f"more than {self.limits.max_steps:,} steps (loop iterations, calls, "
                                     "operators) in one render")
        if self.steps & 15 == 0 and self.deadline is not None and time.monotonic() > self.deadline:
            self.over_time()

    def over_time(self) -> None:
        raise TemplateLimitError(f"render took longer than {self.limits.seconds:g} s")

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.over_time()

    def built(self, value, what: str = "a value", deep: bool = True) -> None:
        """Account for a value the template built; refuse it if it is too big. ``deep=False``
        counts a container's items only (for results of filters, which cannot nest their
        inputs more deeply than they were)."""
        n = size_of(value, self.limits.max_size) if deep or type(value) is str else len(value)
        if n > self.limits.max_size:
            raise TemplateLimitError(f"{what} larger than {self.limits.max_size:,} characters/items")
        self.total += n
        if n > 10_000:  # a big value took real time to build: look at the clock now
            self.check_time()
        if self.total > self.limits.max_total:
            raise TemplateLimitError(f"the render built more than {self.limits.max_total:,} characters/items "
                                     "in all")

    def will_build(self, n: int, what: str) -> None:
        """Refuse an operation *before* it allocates ``n`` characters/items."""
        if n > self.limits.max_size:
            raise TemplateLimitError(f"{what} would build {n:,} characters/items (limit "
                                     f"{self.limits.max_size:,})")


_STATE = threading.local()


def current(limits: Limits = LIMITS) -> Budget:
    """The budget of the render running on this thread (an untimed one outside a render,
    e.g. when Jinja folds constants while compiling)."""
    b = getattr(_STATE, "budget", None)
    return b if b is not None else Budget(limits, timed=False)


def push(budget: Budget | None) -> Budget | None:
    """Make ``budget`` the current one; returns the previous (restore it with ``push(prev)``)."""
    prev = getattr(_STATE, "budget", None)
    _STATE.budget = budget
    return prev

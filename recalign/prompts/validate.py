"""Template validation: the rules every template (shipped or user-written) must pass.

1. the file is valid YAML with the expected keys (``loader.read_template_file``);
2. ``input`` and ``target`` parse as Jinja;
3. they use only the variables declared by the task's Example record
   (``jinja2.meta.find_undeclared_variables``), never anything else;
4. the target is not empty, and a sample example renders to a non-empty input and target;
5. the rendered sample target is one the task's answer format accepts (``check_target``);
6. ids are unique within a file.

The task side (which Example record, which answer format, which files) is
``recalign.tasks.templating``; this module knows no task.

>>> from dataclasses import dataclass
>>> @dataclass
... class Ex:
...     history: list
...     target: str
...     @classmethod
...     def sample(cls): return cls(["Heat"], "Alien")
>>> t = Template("t1", "demo", "seen", "{{ history | join(', ') }}", "{{ taget }}")
>>> [e.message for e in check_templates([t], Ex)]
["template 't1' (demo): target uses 'taget', which is not a variable of this task (allowed: history, target). Did you mean 'target'?"]
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from jinja2 import TemplateSyntaxError, meta, nodes

from ..errors import RecalignError, nearest
from .env import ENV
from .template import Template


def check_template(t: Template, allowed: set[str], sample=None,
                   check_target: Callable[[Any, str], str | None] | None = None) -> list[RecalignError]:
    """Problems of one template (empty list = valid). ``check_target(sample, rendered_target)``
    returns why a rendered target is not a valid answer (None = valid)."""
    problems: list[RecalignError] = []
    if not t.target.strip():
        problems.append(t.error("target is empty", "target"))
    if not t.input.strip():
        problems.append(t.error("input is empty", "input"))
    ok = True
    for part in ("input", "target"):
        try:
            ast = ENV.parse(getattr(t, part))
            ENV.from_string(getattr(t, part))  # compiling also checks filter and test names
        except TemplateSyntaxError as e:
            problems.append(t.error(f"{part} does not parse: {e.message}", part, e.lineno))
            ok = False
            continue
        for name in sorted(meta.find_undeclared_variables(ast) - allowed):
            lineno = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), None)
            problems.append(t.error(f"{part} uses {name!r}, which is not a variable of this task "
                                    f"(allowed: {', '.join(sorted(allowed))}).{nearest(name, allowed)}",
                                    part, lineno))
            ok = False
    if ok and not problems and sample is not None:
        try:
            inp, tgt = t.render(sample)
        except RecalignError as e:
            problems.append(e)
        except Exception as e:  # noqa: BLE001 — any render failure is a template problem
            problems.append(t.error(f"render of a sample example failed: {type(e).__name__}: {e}", "input"))
        else:
            if not tgt:
                problems.append(t.error("target renders to an empty string", "target"))
            if not inp:
                problems.append(t.error("input renders to an empty string", "input"))
            why = check_target(sample, tgt) if tgt and check_target else None
            if why:
                problems.append(t.error(f"target {why}", "target"))
            big = long_sample(sample)
            if big is not None:  # the render limits hold on real data too, not only on the short sample
                try:
                    t.render(big)
                except Exception as e:  # noqa: BLE001 — any failure on long lists is a template problem
                    msg = e.message if isinstance(e, RecalignError) else f"{type(e).__name__}: {e}"
                    msg = msg.removeprefix(f"template {t.id!r} ({t.task}): ").removeprefix("render failed: ")
                    problems.append(t.error(f"render with {LONG_LISTS}-item lists (a long history) failed: {msg}",
                                            "input"))
    return problems


#: list variables (history, candidates, ratings ...) are stretched to this many items for a second
#: sample render: a template whose cost grows with the data (nested loops over the history, a
#: repeat count taken from its length) passes on the 4-item sample and must not pass validation
LONG_LISTS = 100


def long_sample(sample):
    """``sample`` with every list field cycled to ``LONG_LISTS`` items (None when it has no list)."""
    if not dataclasses.is_dataclass(sample):
        return None
    longer = {f.name: [v[i % len(v)] for i in range(LONG_LISTS)]
              for f in dataclasses.fields(sample) if isinstance(v := getattr(sample, f.name), list) and v}
    return dataclasses.replace(sample, **longer) if longer else None


def check_templates(templates: list[Template], cls: type,
                    check_target: Callable[[Any, str], str | None] | None = None) -> list[RecalignError]:
    """Problems of a task's template set (``cls``: its Example record): each template, plus unique ids."""
    allowed = {f.name for f in dataclasses.fields(cls)}
    sample = cls.sample() if hasattr(cls, "sample") else None
    problems: list[RecalignError] = []
    ids: set[str] = set()
    for t in templates:
        if t.id in ids:
            problems.append(t.error("duplicate template id"))
        ids.add(t.id)
        problems.extend(check_template(t, allowed, sample, check_target))
    return problems

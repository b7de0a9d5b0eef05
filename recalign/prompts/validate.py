"""Template validation: the rules every template (shipped or user-written) must pass.

1. the file is valid YAML with the expected keys (``loader.read_template_file``);
2. ``input`` and ``target`` parse as Jinja;
3. they use only the variables declared by the task's Example record
   (``jinja2.meta.find_undeclared_variables``), never anything else;
4. the target is not empty, and a sample example renders to a non-empty input and target;
5. ids are unique within a file.

>>> from recalign.prompts import load_templates
>>> check_templates(load_templates("retrieval", validate=False), "retrieval")
[]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta, nodes

from ..errors import RecalignError, nearest
from .env import ENV
from .loader import TEMPLATES_DIR, read_template_file, template_files
from .template import Template


def task_example_type(task: str) -> type:
    """The Example record class of a registered task (its fields are the template variables)."""
    from ..generators.registry import TASKS

    return TASKS.get(task).example_type


def declared_variables(task: str) -> set[str]:
    return {f.name for f in dataclasses.fields(task_example_type(task))}


def check_template(t: Template, allowed: set[str], sample=None) -> list[RecalignError]:
    """Problems of one template (empty list = valid)."""
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
    return problems


def check_templates(templates: list[Template], task: str) -> list[RecalignError]:
    """Problems of a task's template set: each template, plus unique ids."""
    cls = task_example_type(task)
    allowed = {f.name for f in dataclasses.fields(cls)}
    sample = cls.sample() if hasattr(cls, "sample") else None
    problems: list[RecalignError] = []
    ids: set[str] = set()
    for t in templates:
        if t.id in ids:
            problems.append(t.error("duplicate template id"))
        ids.add(t.id)
        problems.extend(check_template(t, allowed, sample))
    return problems


def validate_dir(directory: str | Path | None = None) -> tuple[int, list[RecalignError]]:
    """Validate every template file of ``directory`` (default: the shipped ones).
    Returns ``(number of templates checked, problems)``."""
    from ..generators.registry import TASKS

    d = Path(directory) if directory else TEMPLATES_DIR
    files = template_files(d)
    if not files:
        return 0, [RecalignError("no *.yaml template files here", path=d)]
    n, problems = 0, []
    for f in files:
        try:
            task, temps = read_template_file(f)
        except RecalignError as e:
            problems.append(e)
            continue
        if task not in TASKS:
            problems.append(RecalignError(f"unknown task {task!r} (known: {', '.join(TASKS.names())})."
                                          f"{nearest(task, TASKS.names())}", path=f, line=1))
            continue
        n += len(temps)
        problems.extend(check_templates(temps, task))
    return n, problems

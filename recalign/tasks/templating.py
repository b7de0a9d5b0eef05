"""A task's templates: read its file (``tasks/templates/<task>.yaml``, or the file its
``Task.templates`` names) plus the user's directories, and validate them against the
task's Example record and answer format (``prompts.validate`` holds the generic rules).

>>> [t.id for t in load_templates("retrieval")][:2]                     # doctest: +SKIP
['retrieval-seen-01', 'retrieval-seen-02']
>>> validate_dir()[1]                                                   # the shipped files
[]
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

from ..errors import RecalignError, nearest
from ..prompts import Template, check_templates, read_template_file, read_templates, template_files
from .base import TEMPLATES_DIR, Task
from .registry import QUERY_TASKS, TASKS


def any_task(name: str) -> Task:
    """A task of either registry (``TASKS``: the seq2seq tasks; ``QUERY_TASKS``: the ten
    embedder query tasks) by name: what every templates command accepts.

    >>> any_task("uh2i").name, any_task("retrieval").name
    ('uh2i', 'retrieval')
    """
    if name in TASKS:
        return TASKS.get(name)
    if name in QUERY_TASKS:
        return QUERY_TASKS.get(name)
    known = TASKS.names() + QUERY_TASKS.names()
    raise RecalignError(f"unknown task {name!r} (known: {', '.join(known)}).{nearest(name, known)}")


def all_task_names() -> list[str]:
    """Every task a template may be written for: the seq2seq tasks, then the query tasks."""
    return TASKS.names() + QUERY_TASKS.names()


def declared_variables(task: str | Task) -> set[str]:
    """The variables a template of ``task`` may use: its Example record's fields."""
    t = any_task(task) if isinstance(task, str) else task
    return {f.name for f in dataclasses.fields(t.example_type)}


def check_task_templates(templates: list[Template], task: str | Task) -> list:
    """Problems of ``task``'s templates (generic rules + the task's answer format)."""
    t = any_task(task) if isinstance(task, str) else task
    return check_templates(templates, t.example_type, t.answer.valid)


def _where(path: str | Path) -> str:
    """A template's directory as a notice shows it: relative to the working directory when inside it."""
    d = Path(path).resolve().parent
    try:
        return str(d.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(d)


def load_templates(task: str, extra_dirs: Iterable[str | Path] = (), validate: bool = True,
                   notices: list[str] | None = None) -> list[Template]:
    """The templates of ``task`` (seq2seq or query task): its own file, then ``extra_dirs`` in
    order (a new id adds, an existing id overrides). With ``notices`` (a list), one line per
    id that overrides another is appended: ``id X (task) from DIR overrides DIR2``. With
    ``validate`` (default) every template is checked and the first problem raises a
    RecalignError naming file, id and line."""
    t = any_task(task)
    extra_dirs = [d for d in (extra_dirs or ()) if d]
    by_id: dict[str, Template] = {}
    if t.template_file.is_file():
        ftask, own = read_template_file(t.template_file)
        if ftask == task:
            by_id.update({x.id: x for x in own})
    for d in extra_dirs:
        for ts in read_templates([d], task).values():
            for x in ts:
                old = by_id.get(x.id)
                if notices is not None and old is not None and _where(old.path) != _where(x.path):
                    notices.append(f"id {x.id!r} ({task}) from {_where(x.path)} overrides {_where(old.path)}")
                by_id[x.id] = x
    temps = list(by_id.values())
    if not temps:
        raise RecalignError(f"no templates for task {task!r} in {[str(t.template_file), *map(str, extra_dirs)]}")
    if validate:
        problems = check_task_templates(temps, t)
        if problems:
            raise problems[0]
    return temps


def validate_dir(directory: str | Path | None = None) -> tuple[int, list[RecalignError]]:
    """Validate every template file of ``directory`` (default: the shipped ones, i.e. every
    registered task's file, the query tasks' (``QUERY_TASKS``) included; a file in
    ``directory`` may be for either registry). Returns ``(number of templates checked,
    problems)``; a file that cannot be read is one problem, and the other files are still checked."""
    files = template_files(directory) if directory else \
        [t.template_file for reg in (TASKS, QUERY_TASKS) for t in reg if t.template_file.is_file()]
    if not files:
        return 0, [RecalignError("no *.yaml template files here", path=directory or TEMPLATES_DIR)]
    n, problems = 0, []
    for f in files:
        try:
            task, temps = read_template_file(f)
        except RecalignError as e:
            problems.append(e)
            continue
        known = TASKS.names() + QUERY_TASKS.names()
        if task not in known:
            problems.append(RecalignError(f"unknown task {task!r} (known: {', '.join(known)})."
                                          f"{nearest(task, known)}", path=f, line=1))
            continue
        n += len(temps)
        problems.extend(check_task_templates(temps, any_task(task)))
    return n, problems

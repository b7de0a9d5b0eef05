"""What a task is (seqio style): a ``Task`` carries its Example record, its builder, its
answer format, its evaluator and its template file; ``TaskRegistry`` is the one list.

A builder yields ``(example, Meta)`` pairs; the Example's fields are the only variables
a template of that task may use (titles and text only: no user or item ids); ``Meta``
carries the ids the evaluation needs and never reaches a template.

>>> reg = TaskRegistry([Task("echo", dict, lambda *a, **k: [])])
>>> reg.names(), reg.rec_names(), reg.aux_names(), [t.name for t in reg.evaluable()]
(['echo'], ['echo'], [], [])
>>> reg.get("ecko")
Traceback (most recent call last):
...
recalign.errors.RecalignError: unknown task 'ecko' (known: echo). Did you mean 'echo'?
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from ..errors import RecalignError, nearest

SAMPLE_HISTORY = ["Toy Story", "Heat", "Alien", "Fargo"]
TEMPLATES_DIR = Path(__file__).parent / "templates"


class Meta(NamedTuple):
    """Ids behind one example (materialized as columns, never rendered)."""

    user: str
    target_item: str          # "" if none
    candidates: list[str]     # ranking candidates / bpr pair in display order; [] if none
    history: list[str]        # item ids the input was built from, in order
    rating: float             # the user's rating of target_item; NaN if none


@dataclass(frozen=True)
class AnswerFormat:
    """How a task's target is written and read back (promptsource's answer choices, small).

    ``write(value) -> text`` is what the builder puts in ``example.target``; ``parse(text)``
    reads a generated answer back (None = unparsable); ``valid(example, rendered)`` says
    whether a template's rendered target is one the evaluator can score (None = valid,
    else the reason), so validation refuses a target the model could never be scored on.

    >>> ITEM_TEXT.valid(type("E", (), {"target": "Heat"})(), "The answer is Heat")
    "renders 'The answer is Heat' for the item 'Heat': the target must be exactly the item's text"
    """

    name: str
    write: Callable[[Any], str] = str
    parse: Callable[[str], Any] = str
    check: Callable[[Any, str], str | None] | None = None

    def valid(self, example: Any, rendered: str) -> str | None:
        return self.check(example, rendered) if self.check else None


def _exact_item(example: Any, rendered: str) -> str | None:
    want = str(example.target)
    if rendered == want:
        return None
    return f"renders {rendered[:80]!r} for the item {want[:80]!r}: the target must be exactly the item's text"


ITEM_TEXT = AnswerFormat("item_text", check=_exact_item)
FREE_TEXT = AnswerFormat("free_text")

Builder = Callable[..., list]  # build(split, which, cfg, users=None) -> [(example, Meta), ...]
Evaluator = Callable[..., dict]  # evaluate(ctx, rows) -> {section: metrics}; see tasks.evaluation


@dataclass(frozen=True)
class Task:
    """A task: ``build(split, which, cfg, users=None)`` → ``[(example, Meta), ...]`` for
    ``which`` in train/valid/test; ``answer`` decides what a valid target is; ``evaluator``
    (None for tasks that are only trained on) scores a model on the task's rows;
    ``metrics`` names the report's columns (``section: metric``, e.g. ``"recall@10"``);
    ``templates`` is the task's template file (default ``tasks/templates/<name>.yaml``)."""

    name: str
    example_type: type
    build: Builder
    description: str = ""
    auxiliary: bool = False
    metrics: tuple[str, ...] = field(default_factory=tuple)
    answer: AnswerFormat = FREE_TEXT
    evaluator: Evaluator | None = None
    templates: Path | None = None

    @property
    def template_file(self) -> Path:
        return Path(self.templates) if self.templates else TEMPLATES_DIR / f"{self.name}.yaml"


class TaskRegistry:
    """Name → Task, in registration order. Registration is explicit (``add``), never an
    import side effect; ``reset()`` returns to the built-in tasks (for tests)."""

    def __init__(self, tasks: Iterable[Task] = ()) -> None:
        self._tasks: dict[str, Task] = {}
        self._builtin = list(tasks)
        for t in self._builtin:
            self.add(t)

    def add(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise RecalignError(f"task {task.name!r} is already registered")
        self._tasks[task.name] = task
        return task

    def remove(self, name: str) -> None:
        self.get(name)
        del self._tasks[name]

    def get(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise RecalignError(f"unknown task {name!r} (known: {', '.join(self._tasks)})."
                                f"{nearest(name, self._tasks)}") from None

    def names(self) -> list[str]:
        """Every task, in registration order."""
        return list(self._tasks)

    def rec_names(self) -> list[str]:
        """The recommendation tasks (not auxiliary)."""
        return [t.name for t in self._tasks.values() if not t.auxiliary]

    def aux_names(self) -> list[str]:
        """The auxiliary tasks (trained on, never the headline)."""
        return [t.name for t in self._tasks.values() if t.auxiliary]

    def evaluable(self) -> list[Task]:
        """Tasks with an evaluator, in registration order."""
        return [t for t in self._tasks.values() if t.evaluator is not None]

    def reset(self) -> None:
        """Back to the built-in tasks (for tests)."""
        self._tasks = {t.name: t for t in self._builtin}

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)


__all__ = ["Meta", "AnswerFormat", "ITEM_TEXT", "FREE_TEXT", "Task", "TaskRegistry", "SAMPLE_HISTORY",
           "TEMPLATES_DIR", "Builder", "Evaluator"]

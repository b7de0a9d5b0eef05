"""The task registry (seqio style): a Task = name + Example record + builder.
Duplicate names raise; an unknown name suggests the nearest ones. The six built-in
tasks are listed here explicitly (no registration as an import side effect).

>>> TASKS.get("retrieval").example_type.__name__
'RetrievalExample'
>>> TASKS.get("retreival")
Traceback (most recent call last):
...
recalign.errors.RecalignError: unknown task 'retreival' (known: retrieval, ranking, rating, mim, mlm, bpr). Did you mean 'retrieval'?
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..errors import RecalignError, nearest
from . import bpr, mim, mlm, ranking, rating, retrieval
from .examples import BprExample, MimExample, MlmExample, RankingExample, RatingExample, RetrievalExample

Builder = Callable[..., list]  # build(split, which, cfg, users=None) -> [(example, Meta), ...]


@dataclass(frozen=True)
class Task:
    """A task: ``build(split, which, cfg, users=None)`` → ``[(example, Meta), ...]``
    for ``which`` in train/valid/test; templates live in ``prompts/templates/<name>.yaml``."""

    name: str
    example_type: type
    build: Builder
    description: str = ""
    auxiliary: bool = False
    metrics: tuple[str, ...] = field(default_factory=tuple)


class TaskRegistry:
    """Name → Task, in registration order."""

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
        return list(self._tasks)

    def reset(self) -> None:
        """Back to the built-in tasks (for tests)."""
        self._tasks = {t.name: t for t in self._builtin}

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)


BUILTIN = [
    Task("retrieval", RetrievalExample, retrieval.build, "recent titles → next title",
         metrics=("recall", "ndcg", "mrr")),
    Task("ranking", RankingExample, ranking.build, "history + candidates → the taken title",
         metrics=("recall", "ndcg", "mrr")),
    Task("rating", RatingExample, rating.build, "rated history + item → its rating", metrics=("rmse", "mae")),
    Task("mim", MimExample, mim.build, "history with masked titles → masked titles", auxiliary=True),
    Task("mlm", MlmExample, mlm.build, "T5 span corruption of the history text", auxiliary=True),
    Task("bpr", BprExample, bpr.build, "history + (taken, never taken) → the taken title", auxiliary=True),
]
TASKS = TaskRegistry(BUILTIN)

"""The ten query tasks of item retrieval (RecLM-emb, Lei et al. 2024): a text query →
catalogue items. They live in their own registry, ``QUERY_TASKS`` (the seq2seq defaults —
``TASKS`` and everything that reads it — never include them), and are materialized as
(query, positive, negatives) for a bi-encoder (``recalign.embed``).

>>> from recalign.tasks.registry import QUERY_TASKS
>>> QUERY_TASKS.names()
['uh2i', 'i2i', 'us2i', 'fa2i', 'sa2i', 'as2i', 'nm2i', 'vc2i', 'na2i', 'uq2i']
>>> COVERAGE_TASKS, QUERY_TASKS.get("uh2i").description
(('fa2i', 'sa2i', 'vc2i', 'na2i'), 'Given a user history, retrieve the item the user will interact with next')

Each task: an Example record (``examples.py``), a builder (``builders.py``), a template file
``tasks/query/templates/<task>.yaml`` (>= 8 seen + 4 unseen, through the same prompts
sandbox); ``Task.description`` is the instruction of the E5-style query prefix.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import RecalignError
from ...prompts import Template, check_templates, read_template_file
from ..base import ITEM_TEXT, Task
from . import builders as b
from . import examples as e
from .attributes import Catalogue, Condition, conditions_from_json, conditions_json, holds_all
from .builders import QueryRow
from .config import QueryConfig
from .writer import LLMWriter, RuleWriter, make_writer

TEMPLATES_DIR = Path(__file__).parent / "templates"
USER_TASKS = ("uh2i", "us2i", "uq2i")
COVERAGE_TASKS = ("fa2i", "sa2i", "vc2i", "na2i")
METRICS = ("hit@5", "hit@10", "ndcg@10")


def _task(name: str, example: type, build, description: str) -> Task:
    metrics = METRICS + (("coverage@5", "coverage@10") if name in COVERAGE_TASKS else ())
    return Task(name, example, build, description, metrics=metrics, answer=ITEM_TEXT,
                templates=TEMPLATES_DIR / f"{name}.yaml")


TASKS_LIST = [
    _task("uh2i", e.UH2IExample, b.build_uh2i, "Given a user history, retrieve the item the user will interact with next"),
    _task("i2i", e.I2IExample, b.build_i2i, "Given an item, retrieve a related item"),
    _task("us2i", e.US2IExample, b.build_us2i, "Given a summary of a user's tastes, retrieve an item they will like"),
    _task("fa2i", e.FA2IExample, b.build_fa2i, "Given all attributes of an item, retrieve the item"),
    _task("sa2i", e.SA2IExample, b.build_sa2i, "Given some attributes, retrieve an item that has them"),
    _task("as2i", e.AS2IExample, b.build_as2i, "Given a description of an item, retrieve the item"),
    _task("nm2i", e.NM2IExample, b.build_nm2i, "Given a possibly misspelt name, retrieve the item"),
    _task("vc2i", e.VC2IExample, b.build_vc2i, "Given vague conditions, retrieve an item that meets them"),
    _task("na2i", e.NA2IExample, b.build_na2i, "Given wanted and unwanted attributes, retrieve a matching item"),
    _task("uq2i", e.UQ2IExample, b.build_uq2i,
          "Given a user history and a condition, retrieve the next item that meets the condition"),
]


def query_templates(task: Task) -> list[Template]:
    """The task's templates, validated against its Example record (first problem raises,
    naming file, id and line)."""
    f = task.template_file
    if not f.is_file():
        raise RecalignError(f"no template file for query task {task.name!r}", path=f)
    name, temps = read_template_file(f)
    if name != task.name:
        raise RecalignError(f"the file is for task {name!r}, expected {task.name!r}", path=f, field="task")
    problems = check_templates(temps, task.example_type, task.answer.valid)
    if problems:
        raise problems[0]
    return temps


__all__ = ["TASKS_LIST", "USER_TASKS", "COVERAGE_TASKS", "METRICS", "TEMPLATES_DIR", "QueryConfig", "QueryRow",
           "Catalogue", "Condition", "conditions_json", "conditions_from_json", "holds_all", "query_templates",
           "RuleWriter", "LLMWriter", "make_writer"]

"""Tasks: one module per task (its Example record, builder, answer format, evaluator),
its template file beside it (``tasks/templates/<task>.yaml``), and the registry — the
one list of tasks every stage reads.

>>> from recalign.tasks import TASKS
>>> TASKS.names()
['retrieval', 'ranking', 'rating', 'mim', 'mlm', 'bpr']
>>> [t.name for t in TASKS.evaluable()], TASKS.get("ranking").metrics
(['retrieval', 'ranking', 'rating'], ('hr@1', 'hr@5', 'ndcg@5'))

Adding a task: a module with an Example record (fields = template variables, a
``sample()``), ``build(split, which, cfg, users=None) -> [(example, Meta), ...]``, an
``AnswerFormat`` and optionally ``evaluate(ctx, rows)``; a template file; then
``TASKS.add(Task(...))`` (or a line in ``registry.BUILTIN``). See tests/test_add_task.py.
"""
from __future__ import annotations

from .base import FREE_TEXT, ITEM_TEXT, TEMPLATES_DIR, AnswerFormat, Meta, Task, TaskRegistry
from .bpr import BprExample
from .config import GenerateConfig
from .evaluation import EvalContext, EvalOptions, by_template, rank_by_score
from .mim import MimExample
from .mlm import MlmExample
from .ranking import RankingExample
from .rating import RATING, RatingExample, fmt_rating, parse_rating
from .registry import TASKS
from .retrieval import RetrievalExample
from .templating import (all_task_names, any_task, check_task_templates, declared_variables, load_templates,
                         validate_dir)

__all__ = ["TASKS", "Task", "TaskRegistry", "AnswerFormat", "ITEM_TEXT", "FREE_TEXT", "RATING", "TEMPLATES_DIR",
           "GenerateConfig", "Meta", "RetrievalExample", "RankingExample", "RatingExample", "MimExample",
           "MlmExample", "BprExample", "EvalContext", "EvalOptions", "by_template", "rank_by_score", "fmt_rating",
           "parse_rating", "load_templates", "validate_dir", "check_task_templates", "declared_variables", "any_task",
           "all_task_names"]

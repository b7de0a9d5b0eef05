"""The task registry: the one list of tasks. Generation, the rec/aux split of the mixture,
CLI choices, the evaluation loop and the report's columns all read it. The six built-in
tasks are listed here explicitly (no registration as an import side effect); a new task
is one module (Example, builder, answer format, evaluator, ``TASK``), one template file
and one line below — or ``TASKS.add(task)`` at run time (``TASKS.reset()`` undoes it).

>>> TASKS.get("retrieval").example_type.__name__
'RetrievalExample'
>>> TASKS.rec_names(), TASKS.aux_names()
(['retrieval', 'ranking', 'rating'], ['mim', 'mlm', 'bpr'])
>>> TASKS.get("retreival")
Traceback (most recent call last):
...
recalign.errors.RecalignError: unknown task 'retreival' (known: retrieval, ranking, rating, mim, mlm, bpr). Did you mean 'retrieval'?
"""
from __future__ import annotations

from . import bpr, mim, mlm, query, ranking, rating, retrieval
from .base import TaskRegistry

BUILTIN = [retrieval.TASK, ranking.TASK, rating.TASK, mim.TASK, mlm.TASK, bpr.TASK]
TASKS = TaskRegistry(BUILTIN)
# The ten item-retrieval query tasks (family "query", for embedders; tasks/query/): a registry of
# their own, so the seq2seq defaults above (generate/train/evaluate) never include them.
QUERY_TASKS = TaskRegistry(query.TASKS_LIST)

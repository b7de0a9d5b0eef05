"""Task generators: one builder per task, the task registry, mixtures, materialization.

>>> from recalign.generators import generate, load_task_data, TASKS
>>> manifest = generate(split, ["retrieval", "mlm"], "runs/demo")       # doctest: +SKIP
>>> load_task_data("runs/demo", "mlm", "train")[0]["target"]            # doctest: +SKIP
'<extra_id_0> Star <extra_id_1>'
"""
from __future__ import annotations

from .config import GenerateConfig
from .examples import (BprExample, Meta, MimExample, MlmExample, RankingExample, RatingExample,
                       RetrievalExample)
from .materialize import FEATURES, SPLITS, build_task, generate, load_manifest, load_task_data
from .registry import TASKS, Task, TaskRegistry

__all__ = ["GenerateConfig", "generate", "load_task_data", "load_manifest", "build_task", "TASKS", "Task",
           "TaskRegistry", "FEATURES", "SPLITS", "Meta", "RetrievalExample", "RankingExample",
           "RatingExample", "MimExample", "MlmExample", "BprExample"]

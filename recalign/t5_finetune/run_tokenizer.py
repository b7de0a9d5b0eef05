"""One source budget for the whole run, counted by the tokenizer training will use.

``recalign run`` (and ``recalign generate --config RUN.yaml``) fits every generated input to
``train.max_source_length`` (``tasks/fit.py``: the oldest history items go, never a
candidate or the instruction), so training and evaluation read the same, whole text:

- a pretrained checkpoint counts with its own tokenizer (``source_tokenizer`` = the model);
- a preset (``t5-tiny`` …) has no tokenizer until one is trained on the run's text, so
  ``ensure_run_tokenizer`` trains ``RUN/tokenizer`` *before* generating: on every item
  title (and text field) and on the train examples of every task rendered for a seeded
  sample of users (``SAMPLE_USERS``; the templates' words and the domain's words come in
  with them), atomic ``<item_N>`` tokens left out (they are added whole, not learned as
  pieces). ``train`` finds ``RUN/tokenizer`` and uses it as it is.

>>> from recalign.tasks import GenerateConfig
>>> from recalign.t5_finetune import TrainConfig
>>> g = run_source_settings(GenerateConfig(), TrainConfig(model="t5-tiny", max_source_length=200))
>>> g.max_source_tokens, g.source_tokenizer
(200, '')
"""
from __future__ import annotations

import dataclasses
import random
import re
import shutil
from pathlib import Path
from typing import Iterator, Sequence

from ..atomic_io import atomic_path
from ..errors import RecalignError
from ..materialize import build_task
from ..run_dir import RunDir
from ..tasks import GenerateConfig, load_templates
from .config import TrainConfig
from .models import is_preset
from .tokenizer import train_tokenizer

SAMPLE_USERS = 300          # users whose train examples the preset tokenizer is trained on
_ATOMIC = re.compile(r"<item_\d+>\s?")


def run_source_settings(gcfg: GenerateConfig, tcfg: TrainConfig) -> GenerateConfig:
    """``gcfg`` with the run's source budget: ``max_source_tokens`` = ``train.max_source_length``
    (a different non-zero value is an error: one budget), counted by the model's tokenizer
    (a preset's: ``RUN/tokenizer``, left as ``""``)."""
    if gcfg.max_source_tokens and gcfg.max_source_tokens != tcfg.max_source_length:
        raise RecalignError(f"generate.max_source_tokens ({gcfg.max_source_tokens}) differs from "
                            f"train.max_source_length ({tcfg.max_source_length}): the run has one source budget; "
                            "set train.max_source_length only", field="generate.max_source_tokens")
    need = decoder_tokens(gcfg)
    if need > tcfg.max_target_length:
        raise RecalignError(f"generate.decoder_history puts up to {need} tokens in the decoder (history_len "
                            f"{gcfg.history_len}: the prefix, the answer and EOS) but train.max_target_length is "
                            f"{tcfg.max_target_length}: training would cut the oldest items that evaluation "
                            f"reads; raise train.max_target_length to {need} or lower generate.history_len",
                            field="train.max_target_length")
    src = gcfg.source_tokenizer or ("" if is_preset(tcfg.model) else tcfg.model)
    return dataclasses.replace(gcfg, max_source_tokens=tcfg.max_source_length, source_tokenizer=src)


def decoder_tokens(gcfg: GenerateConfig) -> int:
    """The most tokens a decoder-history example puts in the decoder (0 without ``decoder_history``):
    one per history item (two with its rating, plus the item to rate), the answer's token and EOS.

    >>> decoder_tokens(GenerateConfig(history_len=10, item_input="id", item_target="id",
    ...                               decoder_history=["retrieval", "rating"]))
    23
    """
    tasks = set(gcfg.decoder_history or ())
    if not tasks:
        return 0
    return max(gcfg.history_len + 2, 2 * gcfg.history_len + 3 if "rating" in tasks else 0)


def tokenizer_sample(split, tasks: Sequence[str], gcfg: GenerateConfig, templates_dirs: Sequence = (),
                     users: int = SAMPLE_USERS) -> Iterator[str]:
    """The texts a preset tokenizer learns from before generation (see the module docstring)."""
    for it in split.items.values():
        yield it.title
        yield from (v for v in it.fields.values() if isinstance(v, str) and v)
    chosen = list(split.users)
    if len(chosen) > users:
        chosen = sorted(random.Random(f"{gcfg.seed}/tokenizer-users").sample(chosen, users), key=chosen.index)
    plain = dataclasses.replace(gcfg, max_source_tokens=0, progress=False)
    for task in tasks:
        ds = build_task(split, task, plain, load_templates(task, list(templates_dirs)), users=chosen)["train"]
        for col in ("input", "target"):
            yield from (_ATOMIC.sub("", t) for t in ds[col])


def ensure_run_tokenizer(run_dir: str | Path, split, tasks: Sequence[str], gcfg: GenerateConfig,
                         tcfg: TrainConfig, templates_dirs: Sequence = ()) -> Path | None:
    """Train a preset's ``RUN/tokenizer`` before generation unless it is there (a resumed run
    keeps its tokenizer); returns its path, or None for a pretrained checkpoint."""
    if not is_preset(tcfg.model):
        return None
    tok_dir = RunDir(run_dir).tokenizer
    if not (tok_dir / "tokenizer_config.json").is_file():
        train_tokenizer(tokenizer_sample(split, tasks, gcfg, templates_dirs), tok_dir, tcfg.vocab_size,
                        model_max_length=max(tcfg.max_source_length, tcfg.max_target_length))
    return tok_dir


def share_tokenizer(run_dir: str | Path, variant_dir: str | Path) -> None:
    """Give an ablation arm (``RUN/ablation/<arm>``) the run's tokenizer: its inputs were fitted
    with that one, and every arm then shares one vocabulary."""
    src, dst = RunDir(run_dir).tokenizer, RunDir(variant_dir).tokenizer
    if src.resolve() != dst.resolve() and (src / "tokenizer_config.json").is_file() and not dst.exists():
        with atomic_path(dst, directory=True) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)


__all__ = ["run_source_settings", "decoder_tokens", "tokenizer_sample", "ensure_run_tokenizer", "share_tokenizer", "SAMPLE_USERS"]

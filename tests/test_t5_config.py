"""TrainConfig: recalign's settings typed, a `trainer:` mapping handed to Seq2SeqTrainingArguments."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from recalign.config import from_dict, read_yaml, save_config
from recalign.errors import RecalignError
from recalign.t5_finetune import TrainConfig
from recalign.t5_finetune.config import DEFAULT_TRAINER
from recalign.t5_finetune.trainer import training_arguments

ROOT = Path(__file__).resolve().parents[1]


def test_trainer_mapping_reaches_the_training_arguments(tmp_path):
    """Options recalign never copied (gradient checkpointing, Adafactor) arrive unchanged."""
    cfg = from_dict(TrainConfig, {"trainer": {"activation_checkpointing": True, "optim": "adafactor",
                                              "label_smoothing_factor": 0.1, "learning_rate": 5e-4}})
    args = training_arguments(cfg, tmp_path, has_eval=True)
    assert (args.activation_checkpointing, args.optim, args.label_smoothing_factor) == (True, "adafactor", 0.1)
    assert args.learning_rate == 5e-4 and args.per_device_train_batch_size == DEFAULT_TRAINER[
        "per_device_train_batch_size"]
    assert args.output_dir == str(tmp_path / "checkpoints") and args.remove_unused_columns is False
    assert args.eval_strategy == "steps"
    assert training_arguments(cfg, tmp_path, has_eval=False).eval_strategy == "no"


def test_flat_keys_are_shorthands_and_win():
    cfg = from_dict(TrainConfig, {"max_steps": 7, "lr_scheduler": "linear", "group_by_length": False,
                                  "trainer": {"max_steps": 100}})
    assert cfg.trainer["max_steps"] == 7 and cfg.trainer["lr_scheduler_type"] == "linear"
    assert cfg.trainer["train_sampling_strategy"] == "random"
    o = from_dict(TrainConfig, {"trainer": {"optim": "adafactor"}},
                  overrides=["max_steps=3", "trainer.activation_checkpointing=true"])
    assert (o.trainer["max_steps"], o.trainer["activation_checkpointing"], o.trainer["optim"]) == (3, True, "adafactor")


def test_unknown_and_reserved_keys_are_one_clear_line():
    with pytest.raises(RecalignError, match=r"field 'train.learnig_rate': unknown key 'learnig_rate'\. "
                                            r"Did you mean 'learning_rate'\?$"):
        from_dict(TrainConfig, {"learnig_rate": 1.0}, where="train.")
    with pytest.raises(RecalignError, match=r"unknown key 'gradient_checkpointing'\. It is a Trainer option: "
                                            r"set trainer\.gradient_checkpointing\.$"):
        from_dict(TrainConfig, {"gradient_checkpointing": True})
    with pytest.raises(RecalignError, match=r"field 'trainer.optimm': not a Seq2SeqTrainingArguments option\. "
                                            r"Did you mean 'optim'\?$"):
        from_dict(TrainConfig, {"trainer": {"optimm": "adafactor"}})
    with pytest.raises(RecalignError, match=r"trainer.seed is set by recalign from seed: set `seed` instead"):
        from_dict(TrainConfig, {"trainer": {"seed": 3}})
    with pytest.raises(RecalignError, match="trainer.output_dir is set by recalign"):
        from_dict(TrainConfig, {"trainer": {"output_dir": "/x"}})
    with pytest.raises(RecalignError, match=r"cannot follow a time budget"):
        from_dict(TrainConfig, {"time_budget_minutes": 5, "trainer": {"lr_scheduler_type": "polynomial"}})
    assert from_dict(TrainConfig, {"trainer": {"lr_scheduler_type": "polynomial"}}).trainer[
        "lr_scheduler_type"] == "polynomial"                  # fine without a budget
    with pytest.raises(RecalignError, match="trainer must be a mapping"):
        from_dict(TrainConfig, {"trainer": [1]})
    with pytest.raises(RecalignError, match="field 'trainer'"):   # a bad value: HF's message, one line
        training_arguments(from_dict(TrainConfig, {"trainer": {"optim": "adamw_nope"}}), Path("/tmp/r"), True)


def test_resolved_config_round_trips(tmp_path):
    cfg = from_dict(TrainConfig, {"model": "t5-tiny", "max_steps": 9, "trainer": {"optim": "adafactor"},
                                  "curve": {"users": 20}})
    save_config(cfg, tmp_path / "c.yaml")
    back = from_dict(TrainConfig, read_yaml(tmp_path / "c.yaml"))
    assert back == cfg and back.trainer["optim"] == "adafactor" and back.curve.users == 20


@pytest.mark.parametrize("name", ["train-tiny.yaml", "ml100k-cpu.yaml", "flan-t5-base-amazon.yaml"])
def test_shipped_configs_load(name):
    data = read_yaml(ROOT / "configs" / name)
    cfg = from_dict(TrainConfig, data.get("train", data) if isinstance(data.get("train"), dict) else data)
    assert cfg.trainer["max_steps"] != 0 and cfg.trainer["learning_rate"] > 0


def test_readme_flan_t5_xl_example_is_valid(tmp_path):
    # wherever the example lives: README or docs/ (docs/training.md since issue 25)
    text = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    block = re.search(r"<!-- flan-t5-xl-train -->\n```yaml\n(.*?)```", text, re.S).group(1)
    cfg = from_dict(TrainConfig, yaml.safe_load(block)["train"], where="train.")
    args = training_arguments(cfg, tmp_path, has_eval=True, deepspeed=None)
    assert cfg.model == "google/flan-t5-xl" and cfg.deepspeed == "zero2"
    assert args.activation_checkpointing is True and args.optim == "adafactor"
    assert args.gradient_accumulation_steps == 4

"""Recipe settings of the preset T5 (issue 10): dropout reaches the model; bf16 autocast trains on the CPU."""
import json

import pytest

from recalign.errors import RecalignError
from recalign.t5_finetune import train
from recalign.t5_finetune.config import TrainConfig
from recalign.t5_finetune.models import build_model
from recalign.t5_finetune.testing import make_run, tiny_config
from recalign.t5_finetune.tokenizer import load_tokenizer


def test_dropout_is_the_presets_dropout_rate_and_checked(tmp_path):
    run = make_run(tmp_path / "run", n_train=8, n_valid=2)
    model_dir = train(tiny_config(max_steps=1, dropout=0.3, eval_steps=1, save_steps=1), run)
    assert json.loads((model_dir / "config.json").read_text())["dropout_rate"] == 0.3
    tok = load_tokenizer(model_dir)
    assert build_model("t5-tiny", tok).config.dropout_rate == 0.1        # the default is unchanged
    with pytest.raises(RecalignError, match="dropout"):
        TrainConfig(dropout=1.0)


def test_bf16_trains_on_the_cpu(tmp_path):
    run = make_run(tmp_path / "run", n_train=16, n_valid=2)
    model_dir = train(tiny_config(max_steps=2, bf16=True, eval_steps=2, save_steps=2), run)
    info = json.loads((model_dir / "recalign_train.json").read_text())
    assert info["precision"] == "bf16" and info["global_step"] == 2

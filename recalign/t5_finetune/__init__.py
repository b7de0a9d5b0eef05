"""Multi-task fine-tuning of seq2seq models (FLAN-T5, or an offline T5 preset).

>>> from recalign.t5_finetune import TrainConfig, train          # doctest: +SKIP
>>> model_dir = train(TrainConfig(model="t5-tiny", max_steps=100), "runs/x")   # doctest: +SKIP
>>> model, tok = load_checkpoint(model_dir)                      # doctest: +SKIP
"""
from .config import MixtureSpec, TrainConfig
from .models import PRESETS, build_model, load_checkpoint, read_train_info
from .tokenizer import load_tokenizer, train_tokenizer


def train(cfg, run_dir, callbacks=(), evaluate_fn=None):
    """See ``recalign.t5_finetune.trainer.train`` (imported lazily: transformers is heavy)."""
    from .trainer import train as _train

    return _train(cfg, run_dir, callbacks, evaluate_fn=evaluate_fn)


__all__ = ["TrainConfig", "MixtureSpec", "PRESETS", "build_model", "load_checkpoint", "read_train_info",
           "train_tokenizer", "load_tokenizer", "train"]

"""Multi-task fine-tuning of seq2seq models (FLAN-T5, or an offline T5 preset).

Train on the tasks of a generated run directory, then load the result::

    from recalign.t5_finetune import TrainConfig, load_checkpoint, train
    model_dir = train(TrainConfig(model="t5-tiny", trainer={"max_steps": 100}), "runs/x")
    model, tok = load_checkpoint(model_dir)

Modules: ``config`` (TrainConfig and its ``trainer:`` mapping), ``mixture`` (task rates),
``data`` (mixture and valid sets from the manifest), ``tokenizer``, ``models`` (presets,
checkpoints), ``collator``, ``trainer`` (the Seq2SeqTrainer run), ``callbacks`` (log, clock,
budget), ``checkpoints`` (which checkpoint is complete), ``curve`` (learning curve),
``deepspeed_config`` (shipped ZeRO configs), ``testing`` (tiny runs for tests).
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

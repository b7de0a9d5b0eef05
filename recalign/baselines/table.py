"""The one table of baselines: add a model here and ``recalign baseline --model`` offers it.

Import-light on purpose (no numpy, no RecBole): the CLI builds its ``--model`` choices from it.
Code that decides by model reads this module's names at call time (``table.MODELS``), so
``add_model`` (what an edit of the tuples below does, at run time: tests, notebooks) is seen
everywhere but in the CLI's choices, fixed at import.

>>> from recalign.baselines import table
>>> table.add_model("ItemKNN", defaults={"k": 50}); "ItemKNN" in table.MODELS and "ItemKNN" in table.GENERAL
True
>>> table.remove_model("ItemKNN"); "ItemKNN" in table.MODELS
False
"""
from __future__ import annotations

# RecBole models, by how recalign hands them the Split (see recbole_files.write_recbole_files).
SEQUENTIAL = ("SASRec", "GRU4Rec", "BERT4Rec")
GENERAL = ("BPR", "Pop")
MODELS = SEQUENTIAL + GENERAL
BIAS = "Bias"  # recalign's own user+item bias rating baseline (bias.py)
CHOICES = MODELS + (BIAS,)

# Defaults chosen by the convergence study (benchmarks/RESULTS.md); any key can be overridden.
COMMON = {"epochs": 100, "stopping_step": 3, "eval_step": 1, "train_batch_size": 2048,
          "eval_batch_size": 4096, "learning_rate": 0.001, "seed": 2020}
MODEL_DEFAULTS = {
    "SASRec": {"MAX_ITEM_LIST_LENGTH": 20, "n_layers": 2, "n_heads": 2, "hidden_size": 64, "inner_size": 256,
               "hidden_dropout_prob": 0.5, "attn_dropout_prob": 0.5, "loss_type": "CE"},
    # lr 0.001 barely moved GRU4Rec off popularity in 4 epochs; 0.005 reached valid NDCG@10 0.114
    "GRU4Rec": {"MAX_ITEM_LIST_LENGTH": 20, "embedding_size": 64, "hidden_size": 128, "num_layers": 1,
                "dropout_prob": 0.3, "loss_type": "CE", "learning_rate": 0.005, "stopping_step": 5},
    "BERT4Rec": {"MAX_ITEM_LIST_LENGTH": 20, "n_layers": 2, "n_heads": 2, "hidden_size": 64, "inner_size": 256,
                 "mask_ratio": 0.2, "loss_type": "CE"},
    "BPR": {"embedding_size": 64, "epochs": 300, "stopping_step": 10},
    "Pop": {"epochs": 1, "stopping_step": 1},
}

# RecBole settings recalign fixes: they define the Split handed over (benchmark files, fields),
# the evaluation protocol (full sort, per user, time order), where output goes, and the CPU
# scoring of full_scores. A user override of one of these is an error, not silently dropped.
FIXED_KEYS = ("model", "dataset", "data_path", "benchmark_filename", "USER_ID_FIELD", "ITEM_ID_FIELD",
              "TIME_FIELD", "load_col", "eval_args", "alias_of_item_id", "checkpoint_dir", "use_gpu", "device")


def add_model(name: str, *, sequential: bool = False, defaults: dict | None = None) -> None:
    """Offer RecBole model ``name`` (general, or ``sequential``: fed item-id lists) with ``defaults``."""
    global SEQUENTIAL, GENERAL, MODELS, CHOICES
    if name in MODELS:
        raise ValueError(f"baseline {name!r} is already in the table")
    if sequential:
        SEQUENTIAL = SEQUENTIAL + (name,)
    else:
        GENERAL = GENERAL + (name,)
    MODELS = SEQUENTIAL + GENERAL
    CHOICES = MODELS + (BIAS,)
    MODEL_DEFAULTS[name] = dict(defaults or {})


def remove_model(name: str) -> None:
    """Undo ``add_model`` (for tests)."""
    global SEQUENTIAL, GENERAL, MODELS, CHOICES
    SEQUENTIAL = tuple(m for m in SEQUENTIAL if m != name)
    GENERAL = tuple(m for m in GENERAL if m != name)
    MODELS = SEQUENTIAL + GENERAL
    CHOICES = MODELS + (BIAS,)
    MODEL_DEFAULTS.pop(name, None)

"""Classic baselines on recalign's Split: RecBole models and a user/item-bias rating model."""
from .bias import BiasModel, run_bias_baseline
from .runner import GENERAL, MODELS, SEQUENTIAL, model_config, run_baseline, score_candidates

__all__ = ["run_baseline", "run_bias_baseline", "BiasModel", "model_config", "score_candidates",
           "MODELS", "SEQUENTIAL", "GENERAL"]

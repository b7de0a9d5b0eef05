"""Evaluation: one metric implementation and one report for every model."""
from .metrics import (DEFAULT_KS, MASKING_RULE, TIE_RULE, Ranking, candidate_metrics, rating_metrics,
                      ranking_metrics, split_fingerprint, target_ranks, topk_from_scores, write_ranking_jsonl)
from .report import compare, load_results, write_result

"""Dynamic padding: each batch is padded to its own longest example (labels with -100).

>>> # batch of inputs of 5 and 9 tokens → input_ids of shape (2, 9); labels padded with -100
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Seq2SeqCollator:
    """``DataCollatorForSeq2Seq`` that also drops the ``length`` column used for grouping.

    ``pad_to_max`` pads every batch to ``max_source_length``/``max_target_length`` instead
    (the plain set-up the benchmark compares against).
    """

    tokenizer: Any
    model: Any = None
    pad_to_multiple_of: int | None = None
    pad_to_max: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        from transformers import DataCollatorForSeq2Seq

        self._inner = DataCollatorForSeq2Seq(self.tokenizer, model=self.model, label_pad_token_id=-100,
                                             padding=True, pad_to_multiple_of=self.pad_to_multiple_of)

    def __call__(self, features: list[dict]) -> dict:
        feats = [{k: v for k, v in f.items() if k != "length"} for f in features]
        if self.pad_to_max:
            src, tgt = self.pad_to_max
            pad = self.tokenizer.pad_token_id
            for f in feats:
                n = src - len(f["input_ids"])
                f["input_ids"] = list(f["input_ids"]) + [pad] * n
                f["attention_mask"] = list(f["attention_mask"]) + [0] * n
                f["labels"] = list(f["labels"]) + [-100] * (tgt - len(f["labels"]))
        return self._inner(feats)

"""Dynamic padding: each batch is padded to its own longest example (labels with -100).

>>> # batch of inputs of 5 and 9 tokens → input_ids of shape (2, 9); labels padded with -100
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..tasks.layout import prefix_token_ids, split_inputs


def encode_pairs(tokenizer, inputs: list[str], targets: list[str], max_source_length: int,
                 max_target_length: int) -> dict:
    """Inputs and targets → ``input_ids``, ``attention_mask``, ``labels`` (truncated, unpadded) and
    ``length`` (input tokens): the one tokenization of training text, eager (``data.tokenize``) or
    batch by batch (``Seq2SeqCollator``).

    An input with a decoder prefix (``tasks/layout.py``: the history after ``<|decoder|>``) puts the
    prefix's tokens before the target's in ``labels``: the loss counts every prefix position (each item
    the next item of those before it) and the target. When prefix + target exceed ``max_target_length``
    the *oldest* prefix tokens go (the target and EOS are always kept)."""
    inputs, prefixes = split_inputs(inputs)
    x = tokenizer(inputs, max_length=max_source_length, truncation=True)
    y = tokenizer(text_target=targets, max_length=max_target_length, truncation=True)
    labels = y["input_ids"]
    if any(prefixes):
        labels = [(p + list(t))[-max_target_length:] if p else t
                  for p, t in zip(prefix_token_ids(tokenizer, prefixes), labels)]
    return {"input_ids": x["input_ids"], "attention_mask": x["attention_mask"], "labels": labels,
            "length": [len(i) for i in x["input_ids"]]}


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
    #: (max_source_length, max_target_length): features that are text (``input``/``target``, from
    #: ``data.text_for_training``) are tokenized here, batch by batch
    max_lengths: tuple[int, int] | None = None
    #: text inputs cut at max_source_length so far (the run reports it)
    truncated_sources: int = 0
    tokenized_examples: int = 0

    def __post_init__(self) -> None:
        from transformers import DataCollatorForSeq2Seq

        self._inner = DataCollatorForSeq2Seq(self.tokenizer, model=self.model, label_pad_token_id=-100,
                                             padding=True, pad_to_multiple_of=self.pad_to_multiple_of)

    def tokenize_text(self, features: list[dict]) -> list[dict]:
        """``input``/``target`` text → ``input_ids``/``attention_mask``/``labels`` (truncated, unpadded)."""
        if self.max_lengths is None:
            raise ValueError("Seq2SeqCollator got text features but no max_lengths to tokenize them")
        src, tgt = self.max_lengths
        enc = encode_pairs(self.tokenizer, [f["input"] for f in features], [f["target"] for f in features], src, tgt)
        self.tokenized_examples += len(features)
        self.truncated_sources += sum(1 for n in enc["length"] if n >= src)
        return [{"input_ids": i, "attention_mask": a, "labels": t}
                for i, a, t in zip(enc["input_ids"], enc["attention_mask"], enc["labels"])]

    def __call__(self, features: list[dict]) -> dict:
        if features and "input_ids" not in features[0] and "input" in features[0]:
            features = self.tokenize_text(features)
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

"""GenerateConfig: the run-time settings of generation (seqio style: passed when
data is made, not baked into the tasks). Loadable with ``recalign.config.from_dict``.

>>> from recalign.config import from_dict
>>> from_dict(GenerateConfig, {"history_len": 10}, overrides=["train_per_user={ranking: 5}"]).train_per_user
{'ranking': 5}
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .domain import get_domain
from .items import ItemRule


@dataclass
class GenerateConfig:
    seed: int = field(default=0, metadata={"help": "Seed for negatives, masks, spans and template choice."})
    history_len: int = field(default=20, metadata={"help": "Most recent titles shown as history (all tasks)."})
    num_candidates: int = field(default=20, metadata={"help": "Ranking: candidates per example (target + N-1 negatives)."})
    mim_mask_prob: float = field(default=0.15, metadata={"help": "MIM: probability that a history item is masked."})
    mim_max_masks: int = field(default=3, metadata={"help": "MIM: at most this many masks per example (at least 1)."})
    mim_mask_token: str = field(default="[MASK]", metadata={"help": "MIM: the text that replaces a masked title."})
    noise_density: float = field(default=0.15, metadata={"help": "MLM: fraction of word tokens corrupted (T5: 0.15)."})
    mean_span_length: float = field(default=3.0, metadata={"help": "MLM: mean corrupted span length (T5: 3)."})
    text_sep: str = field(default="; ", metadata={"help": "MLM: separator between titles in the history text."})
    aux_stride: int = field(default=5, metadata={"help": "MIM/MLM train windows end every N train items (newest first)."})
    train_per_user: dict[str, int] = field(default_factory=dict, metadata={
        "help": "Per task: at most N train examples per user (the most recent positions); absent = all."})
    max_train_examples: dict[str, int] = field(default_factory=dict, metadata={
        "help": "Per task: cap on train examples (a seeded random subset, order kept); absent = all."})
    domain: str = field(default="generic", metadata={
        "help": "Domain vocabulary of the templates ({{ domain.verb_past }} …): generic, movies, products, books, "
                "music (tasks/domain.py)."})
    item_input: str = field(default="title", metadata={
        "help": "How an item is written in inputs: title, id or id+title (tasks/items.py)."})
    item_target: str = field(default="title", metadata={
        "help": "What the model generates for an item: title (trie decoding) or id."})
    item_ids: str = field(default="atomic", metadata={
        "help": "ID form: atomic (one added token per item, exact full ranking) or text ('item_7', trie)."})
    item_compact: bool = field(default=False, metadata={
        "help": "Atomic id inputs only: item tokens written back to back, the template's separators and list "
                "numbers between them dropped (one source token per item; tasks/items.py)."})
    max_source_tokens: int = field(default=0, metadata={
        "help": "Source budget in tokens (EOS included): oldest history items are dropped until each input "
                "fits (never a candidate or the instruction); 0 = no fitting. Set it to train.max_source_length."})
    source_tokenizer: str = field(default="", metadata={
        "help": "Tokenizer that counts the budget (a checkpoint directory); default RUN/tokenizer when present."})
    decoder_history: list[str] = field(default_factory=list, metadata={
        "help": "Tasks whose history is the decoder's prefix (retrieval, ranking, rating): the template, its history "
                "written [history], in the encoder; the items after it in the decoder, a next-item loss at every "
                "position (tasks/layout.py). Needs atomic item IDs in inputs and targets."})
    progress: bool = field(default=True, metadata={"help": "Show tqdm progress bars."})

    def __post_init__(self) -> None:
        if self.history_len < 1:
            raise ValueError("history_len must be >= 1")
        if self.num_candidates < 2:
            raise ValueError("num_candidates must be >= 2")
        if not 0 < self.noise_density < 1:
            raise ValueError("noise_density must be in (0, 1)")
        if self.mean_span_length < 1:
            raise ValueError("mean_span_length must be >= 1")
        if self.aux_stride < 1 or self.mim_max_masks < 1:
            raise ValueError("aux_stride and mim_max_masks must be >= 1")
        get_domain(self.domain)  # an unknown name raises with the nearest ones
        ItemRule.from_config(self)  # an unknown item form raises with the nearest ones
        self._check_decoder_history()
        if self.max_source_tokens < 0:
            raise ValueError("max_source_tokens must be >= 0 (0: no fitting)")

    def _check_decoder_history(self) -> None:
        from ..errors import RecalignError, nearest
        from .layout import DECODER_TASKS

        for t in self.decoder_history:
            if t not in DECODER_TASKS:
                why = " (an auxiliary task masks or corrupts its history)" if t in ("mim", "mlm", "bpr") else ""
                raise RecalignError(f"decoder_history: {t!r} cannot have its history in the decoder{why}; "
                                    f"allowed: {', '.join(DECODER_TASKS)}.{nearest(t, DECODER_TASKS)}",
                                    field="decoder_history")
        if self.decoder_history:
            rule = ItemRule.from_config(self)
            if not (rule.input == "id" and rule.atomic_target):
                raise RecalignError("decoder_history needs atomic item IDs in inputs and targets (item_input: id, "
                                    f"item_target: id, item_ids: atomic), got item_input {rule.input}, item_target "
                                    f"{rule.target}, item_ids {rule.ids}", field="decoder_history")

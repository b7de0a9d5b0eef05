"""``ILMConfig``: the ILM arms and their budgets (``configs/ilm-ml100k-cpu.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import RecalignError
from ..t5_finetune.config import MixtureSpec, _h

ENCODERS = ("none", "mlp", "qformer")


@dataclass
class ILMArm:
    """One row of the arms table."""

    name: str = _h("Result name (RUN/results/ilm-<name>, ilm-<name>-seed<N> for a seed N > 0).",
                   default="qformer-p1-iic")
    encoder: str = _h("none (the backbone alone) | mlp (CoLLM's adaptor) | qformer.", default="qformer")
    phase1: bool = _h("Pretrain the Q-Former on item–text pairs first (phase 1).", default=False)
    item_item: bool = _h("Phase 1 with the item–item contrastive loss.", default=False)
    shuffle_cf: bool = _h("Control: CF vectors permuted across items.", default=False)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise RecalignError(f"unknown item encoder {self.encoder!r} (known: {', '.join(ENCODERS)})",
                                field=f"ilm.arms[{self.name}].encoder")
        if self.phase1 and self.encoder != "qformer":
            raise RecalignError("phase 1 pretrains a Q-Former: set encoder: qformer",
                                field=f"ilm.arms[{self.name}].phase1")
        if self.item_item and not self.phase1:
            raise RecalignError("the item–item loss is a phase-1 loss: set phase1: true",
                                field=f"ilm.arms[{self.name}].item_item")

    @property
    def seeded(self) -> bool:
        """Whether the seed changes the arm: not for ``encoder: none`` (the frozen backbone alone)."""
        return self.encoder != "none"

    def folder(self, seed: int = 0) -> str:
        """``RUN/ilm/<folder>``: ``<name>`` for seed 0 (and for an arm the seed does not change),
        else ``<name>-seed<N>``.

        >>> ILMArm("mlp", "mlp").folder(0), ILMArm("mlp", "mlp").folder(2), ILMArm("backbone", "none").folder(2)
        ('mlp', 'mlp-seed2', 'backbone')
        """
        return f"{self.name}-seed{seed}" if seed and self.seeded else self.name

    def result_name(self, seed: int = 0) -> str:
        """``RUN/results/<result name>``: ``ilm-<folder>`` (``ilm-mlp``, ``ilm-mlp-seed2``)."""
        return f"ilm-{self.folder(seed)}"


def default_arms() -> list[dict]:
    return [{"name": "backbone", "encoder": "none"},
            {"name": "mlp", "encoder": "mlp"},
            {"name": "qformer", "encoder": "qformer"},
            {"name": "qformer-p1", "encoder": "qformer", "phase1": True},
            {"name": "qformer-p1-iic", "encoder": "qformer", "phase1": True, "item_item": True},
            {"name": "qformer-p1-iic-shuffled", "encoder": "qformer", "phase1": True, "item_item": True,
             "shuffle_cf": True}]


@dataclass
class ILMConfig:
    sources: list = _h("CF sources (RecBole baselines trained on the train split): BPR, SASRec.",
                       default_factory=lambda: ["BPR", "SASRec"])
    arms: list = _h("The arms, in order (ILMArm mappings).", default_factory=default_arms)
    width: int = _h("Item encoder width.", default=128)
    n_queries: int = _h("Q-Former learned queries.", default=4)
    layers: int = _h("Q-Former blocks.", default=2)
    heads: int = _h("Q-Former attention heads.", default=4)
    chunks: int = _h("CF tokens per source (each vector cut in this many pieces).", default=4)
    text_model: str = _h("Frozen sentence encoder of the item text (phase 1).", default="minilm")
    pair_window: int = _h("Item–item pairs: positions apart in a user's train items, at most.", default=3)
    phase1_steps: int = _h("Phase-1 steps.", default=300)
    phase1_batch_size: int = _h("Items per phase-1 batch.", default=128)
    phase1_lr: float = _h("Phase-1 AdamW learning rate.", default=1e-3)
    phase2_steps: int = _h("Phase-2 steps.", default=300)
    batch_size: int = _h("Examples per phase-2 batch.", default=32)
    learning_rate: float = _h("Phase-2 AdamW learning rate.", default=1e-3)
    mixture: MixtureSpec = _h("Phase-2 prompts (the run's generated text).", default_factory=lambda: MixtureSpec(
        tasks=["retrieval", "ranking", "rating"], strategy="rates",
        rates={"retrieval": 0.7, "ranking": 0.1, "rating": 0.2}, total=200000))
    eval_tasks: list = _h("Evaluated tasks.", default_factory=lambda: ["retrieval", "ranking", "rating"])
    eval_templates: list = _h("Template sets.", default_factory=lambda: ["seen", "unseen"])
    eval_max_users: int = _h("Users evaluated (0 = all).", default=0)
    eval_batch_size: int = _h("Evaluation batch size.", default=64)
    seed: int = _h("Seed of every arm (`recalign ilm --seed N`, repeatable, runs several; N > 0 names the "
                   "results ilm-<arm>-seed<N>).", default=0)
    threads: int = _h("torch threads (0 = torch's default).", default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise RecalignError(f"seed must be a non-negative integer, got {self.seed!r}", field="ilm.seed")

    def arm_list(self) -> list[ILMArm]:
        from ..config import from_dict

        out = [a if isinstance(a, ILMArm) else from_dict(ILMArm, a, where="ilm.arms.") for a in self.arms]
        names = [a.name for a in out]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise RecalignError(f"arm names must be unique (repeated: {', '.join(dup)})", field="ilm.arms")
        return out


__all__ = ["ILMConfig", "ILMArm", "default_arms", "ENCODERS"]

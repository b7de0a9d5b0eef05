"""A T5-style tokenizer trained offline on the run's own text.

Layout (as in T5): ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, byte-level BPE pieces,
then the 100 sentinels with ``<extra_id_0>`` as the last id; ``</s>`` is appended to
every encoded text. Byte-level BPE with no normalizer means every string — any title,
accents, commas, double spaces — decodes back to itself (sentencepiece unigram could not
reach 8k pieces on this data, see STACK.md).

>>> import tempfile
>>> tok = train_tokenizer(["Toy Story", "Heat"], Path(tempfile.mkdtemp()) / "tok", vocab_size=400)
>>> tok.decode(tok("Toy Story").input_ids, skip_special_tokens=True), tok("Heat").input_ids[-1] == tok.eos_token_id
('Toy Story', True)
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..atomic_io import atomic_path
from ..errors import RecalignError

N_SENTINELS = 100
SPECIALS = ["<pad>", "</s>", "<unk>"]
SENTINELS = [f"<extra_id_{i}>" for i in range(N_SENTINELS)]


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 8000,
                    model_max_length: int = 512):
    """Train a byte-level BPE tokenizer on ``texts``, save it to ``out_dir`` (atomically)
    and return it; ``AutoTokenizer.from_pretrained(out_dir)`` loads it back."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    n_base = vocab_size - N_SENTINELS
    if n_base < 256 + len(SPECIALS):
        raise RecalignError(f"vocab_size must be at least {256 + len(SPECIALS) + N_SENTINELS} "
                            f"(256 bytes + 3 specials + 100 sentinels), got {vocab_size}", field="vocab_size")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=n_base, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator((t for t in texts if t), trainer=trainer)
    # T5 puts the sentinels at the end of the vocabulary: <extra_id_0> has the highest id.
    tok.add_special_tokens(list(reversed(SENTINELS)))
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", eos)])
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2], "special token ids must be 0, 1, 2"
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                 additional_special_tokens=SENTINELS, model_max_length=model_max_length,
                                 padding_side="right")
    with atomic_path(out_dir, directory=True) as tmp:
        hf.save_pretrained(tmp)
    return load_tokenizer(out_dir)


def load_tokenizer(path: str | Path):
    """Load a tokenizer saved by ``train_tokenizer`` or any ``save_pretrained`` directory / hub name.

    A packaged pretrained source (``pretrained:all-MiniLM-L6-v2``) is resolved to its local
    directory first; an encoder-only checkpoint's tokenizer (which ``build_model`` warm-starts
    into an encoder-decoder) is given T5's conventions (``warm_start.seq2seq_tokenizer``).
    """
    from transformers import AutoTokenizer

    from ..pretrained import resolve_model
    from .warm_start import needs_warm_start, seq2seq_tokenizer

    path = resolve_model(str(path))
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        raise RecalignError(f"cannot load a tokenizer from {str(path)!r}: {e}. Offline, pass a local "
                            "directory that holds the tokenizer files (save_pretrained output).") from None
    return seq2seq_tokenizer(tok) if needs_warm_start(path) else tok

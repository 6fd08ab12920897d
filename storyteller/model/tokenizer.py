"""Character-level tokenizer with byte fallback (and English word pieces) for storyteller models.

Why this shape: at ~4M parameters a character vocabulary beats BPE for Chinese (the model can
spell any hanzi it is given, and unseen names stay copyable). English is written in whole words,
so English alone gets BPE merges learned from the English stories: a story then fits the
context window. Characters outside the vocabulary (rare hanzi, emoji) fall back to their UTF-8
bytes, so nothing is ever lost. Saved as tokenizer.json, loadable with plain AutoTokenizer.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from storyteller.model.format import END, SLOT_TOKENS, SPECIAL_TOKENS

SPACE = "▁"  # spaces become this mark, so English word pieces can start with a space
PAD = "<|pad|>"
BYTES = [f"<0x{i:02X}>" for i in range(256)]
PUNCT = "，。！？：；、“”‘’（）《》〈〉「」『』—…·～￥【】—"


def gb2312_level1() -> list[str]:
    """The 3,755 common hanzi (GB2312 level 1, rows 0xB0-0xD7), a child's everyday characters."""
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def _strip_tokens(text: str) -> str:
    for tok in SLOT_TOKENS + SPECIAL_TOKENS:
        text = text.replace(tok, " ")
    return text


def english_merges(texts: Iterable[str], n_merges: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn up to `n_merges` BPE merges from English text (word pieces; never across words)."""
    if n_merges <= 0:
        return [], []
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    alphabet = list(string.printable) + [SPACE]
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + n_merges, initial_alphabet=alphabet,
                                  show_progress=False, min_frequency=3)
    tok.train_from_iterator((_strip_tokens(t) for t in texts), trainer)
    state = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    pieces = [t for t in state["vocab"] if len(t) > 1]
    return pieces, merges


def _pre_tokenizer():
    return pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never", split=True)


def build_tokenizer(texts: list[str], en_texts: list[str] | None = None, n_merges: int = 1000,
                    extra_chars: bool = True) -> PreTrainedTokenizerFast:
    """Vocabulary: special + slot tokens, 256 bytes, characters, then English word pieces."""
    chars: set[str] = set(string.printable) | set(PUNCT) | {SPACE}
    if extra_chars:
        chars |= set(gb2312_level1())
    for t in texts:
        chars |= set(_strip_tokens(t).replace(" ", SPACE))
    chars -= {" ", "\r", "\x0b", "\x0c"}
    pieces, merges = english_merges(en_texts or [], n_merges)
    vocab: dict[str, int] = {}
    for tok in [PAD, *SPECIAL_TOKENS, *SLOT_TOKENS, *BYTES, *sorted(chars), *pieces]:
        vocab.setdefault(tok, len(vocab))
    model = models.BPE(vocab=vocab, merges=[m for m in merges if all(p in vocab for p in m)],
                       byte_fallback=True, fuse_unk=False)
    tok = Tokenizer(model)
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in [PAD, *SPECIAL_TOKENS]])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in SLOT_TOKENS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=END, pad_token=PAD,
                                   clean_up_tokenization_spaces=False, model_max_length=4096)

"""Character-level Chinese, whole-word English, byte fallback: the tokenizer of storyteller models.

Why this shape: at this size a character vocabulary beats BPE for Chinese (the model can spell any
hanzi it is given, and unseen names stay copyable). English is learnt as whole words: BPE merges
run until most words the stories use are one token, and every word the stories use often enough
(one token or a few pieces) is listed in the tokenizer's config (`story_words`), so generation can
write only those (see `engines/sampling.WholeWords`) and a story cannot misspell a word. Rarer words
still encode, as pieces or UTF-8 bytes, so nothing a user types is ever lost. Loadable with plain AutoTokenizer.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from storyteller.story_cast import CAST_SLOTS
from storyteller.story_format import END, SLOT_TOKENS, SPECIAL_TOKENS

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
    for tok in SLOT_TOKENS + SPECIAL_TOKENS + list(CAST_SLOTS):
        text = text.replace(tok, " ")
    return text


def english_merges(texts: Iterable[str], n_merges: int,
                   min_frequency: int = 3) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn up to `n_merges` BPE merges from English text (never across words or punctuation)."""
    if n_merges <= 0:
        return [], []
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    alphabet = list(string.printable) + [SPACE]
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + n_merges, initial_alphabet=alphabet,
                                  show_progress=False, min_frequency=min_frequency)
    tok.train_from_iterator((_strip_tokens(t) for t in texts), trainer)
    state = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    pieces = [t for t in state["vocab"] if len(t) > 1]
    return pieces, merges


def _pre_tokenizer():
    return pre_tokenizers.Sequence([pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="never", split=True),
                                    pre_tokenizers.Punctuation("isolated")])


WORD = re.compile(r"[A-Za-z]+")
LEAD = re.compile(r"^[\n▁]+")  # what may come before a word in its first token: the space mark, new lines
MAX_WORD_PIECES = 6  # longer spellings are not listed: pieces of a name, not a word to write


def english_words(tok: PreTrainedTokenizerFast, en_texts: list[str], min_count: int = 1) -> list[str]:
    """The English words the stories use, as the model reads them: every word that is one token
    ("▁brave", "The", "\nThen" that starts a paragraph), and words in a few pieces ("▁y" + "et", a
    word the merges did not reach, such as one that a continued build's new text brought) used at
    least `min_count` times. Letters only, after the space mark or new lines if any; a word written
    with byte fallback is never listed."""
    from collections import Counter

    counts: Counter = Counter()
    for ids in tok(list(en_texts), add_special_tokens=False)["input_ids"] if en_texts else []:
        word: list[str] = []
        for t in [*tok.convert_ids_to_tokens(ids), ""]:
            glued = bool(word) and WORD.fullmatch(t) is not None  # letters with no space mark go on the word
            if glued:
                word.append(t)
                continue
            whole = "".join(word)
            if len(word) <= MAX_WORD_PIECES and WORD.fullmatch(LEAD.sub("", whole)):
                counts[whole] += 1
            starts = LEAD.sub("", t)
            word = [t] if (WORD.fullmatch(starts) or (not starts and t.endswith(SPACE))) else []  # "▁" starts one
    vocab = tok.get_vocab()
    return sorted(w for w, n in counts.items() if n >= min_count or w in vocab)


def build_tokenizer(texts: list[str], en_texts: list[str] | None = None, n_merges: int = 1000,
                    extra_chars: bool = True, min_frequency: int = 3,
                    names: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """Vocabulary: special + slot tokens, 256 bytes, characters, then English words and pieces.

    `names` (the catalog's powers) become one token each wherever they appear, so the header's
    power is a single learnt embedding the story can key on, not two hanzi among many."""
    chars: set[str] = set(string.printable) | set(PUNCT) | {SPACE}
    if extra_chars:
        chars |= set(gb2312_level1())
    for t in texts:
        chars |= set(_strip_tokens(t).replace(" ", SPACE))
    chars -= {" ", "\r", "\x0b", "\x0c"}
    pieces, merges = english_merges(en_texts or [], n_merges, min_frequency)
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
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in dict.fromkeys(names) if t])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=END, pad_token=PAD,
                                   clean_up_tokenization_spaces=False, model_max_length=4096)
    words = english_words(fast, en_texts or [], min_frequency)
    if words:
        fast.init_kwargs["story_words"] = words  # saved in tokenizer_config.json
    return fast

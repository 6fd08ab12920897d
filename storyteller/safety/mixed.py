"""Chinese typed half in pinyin: "se情", "嗑yao", "把妈妈sha了", "傻b". A child who cannot (or does
not want to) type a character writes its pinyin, or only its first letter, right next to the
characters around it. Such a word is read as syllables (a character as its pinyin, a Latin run as
the pinyin syllables it spells, or as first letters when it has no vowel) and matched against every
listed Chinese term of two or more characters, spelt the same way (lists.pinyin_shapes).

Only a stretch that mixes both scripts counts: all-Han text is the Han view's job, all-Latin the
Latin views'. Models never write this way, so this only ever reads what a child typed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin import lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

from storyteller.safety.lists import Entry, pinyin_shapes
from storyteller.safety.normalise import View

# Starts only where a run starts (the lookbehind): a long run of hanzi is then scanned once, not
# once per character (which took minutes on a 150,000-character story).
TRANSITION = re.compile(r"[\u3400-\u9fff][a-z]|[a-z][\u3400-\u9fff]")
MIXED = re.compile(r"(?<![\u3400-\u9fffa-z])[\u3400-\u9fffa-z]*(?:[\u3400-\u9fff][a-z]|[a-z][\u3400-\u9fff])[\u3400-\u9fffa-z]*")
HAN_RUN = re.compile(r"[\u3400-\u9fff]+|[a-z]+")
LONGEST = 6  # letters in the longest syllable (zhuang)
WINDOW = 5   # syllables in the longest term looked for
NONE = "#"   # a Latin word that is not pinyin: matches nothing


@lru_cache(maxsize=1)
def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable with a vowel (ü written u), from pypinyin's dictionary."""
    out = set()
    for readings in pinyin_dict.values():
        for r in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFKD", r) if not unicodedata.combining(c))
            if plain.isascii() and any(v in plain for v in "aeiou"):
                out.add(plain)
    return frozenset(out)


def split(word: str) -> list[str] | None:
    """A Latin run as the fewest pinyin syllables it spells ("seqing" -> se qing), else None."""
    word = word.replace("v", "u")
    known = syllables()
    best: list[list[str] | None] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - LONGEST), end):
            if best[start] is not None and word[start:end] in known:
                cand = best[start] + [word[start:end]]
                if best[end] is None or len(cand) < len(best[end]):
                    best[end] = cand
    return best[-1]


def _tokens(run: str, offset: int) -> list[tuple[str, bool, int, int]]:
    """(syllable or initial + "*", typed in Latin?, start, end in the folded text) for one word."""
    out = []
    for m in HAN_RUN.finditer(run):
        text, at = m.group(), offset + m.start()
        if "a" <= text[0] <= "z":
            parts = split(text)
            if parts:
                for p in parts:
                    out.append((p, True, at, at + len(p)))
                    at += len(p)
            elif not any(v in text for v in "aeiou"):
                out += [(c + "*", True, at + k, at + k + 1) for k, c in enumerate(text)]
            else:
                out.append((NONE, True, at, at + len(text)))
        else:
            readings = [x.replace("v", "u") for x in lazy_pinyin(text, errors="ignore")]
            if len(readings) != len(text):
                readings = [NONE] * len(text)
            out += [(r, False, at + k, at + k + 1) for k, r in enumerate(readings)]
    return out


def find(folded: View, field: bool) -> list[tuple[Entry, int, int]]:
    """(entry, source start, source end) of each listed term spelt half in pinyin."""
    if not TRANSITION.search(folded.text):
        return []
    shapes = pinyin_shapes(field)
    hits = []
    for m in MIXED.finditer(folded.text):
        tokens = _tokens(m.group(), m.start())
        for i in range(len(tokens)):
            for n in range(2, min(WINDOW, len(tokens) - i) + 1):
                window = tokens[i:i + n]
                kinds = {latin for _, latin, _, _ in window}
                if len(kinds) == 2 and (entry := shapes.get(tuple(t[0] for t in window))):
                    hits.append((entry, *folded.span(window[0][2], window[-1][3])))
    return hits

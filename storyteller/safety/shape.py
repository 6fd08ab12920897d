"""The shape of a typed value: a dynasty, hero, power or style is a name or a few words, never a
description. Whole sentences slip past any word list ("x-ray eyes that see through everyone's
clothes", 从坟里爬出来吃小孩), so a children's app takes typed values the shape of a name.

Only for typed values: catalog presets and story sentences never come here.

- Size: each Chinese (or other CJK) character counts one, each other word one (a number; each
  part of a hyphenated compound, so hyphens cannot glue a sentence into one word); mixed text adds
  the two. A Latin value that reads as pinyin may count its syllables against the character
  limit instead. LIMITS come from the catalog with headroom: tests/test_safety.py holds every
  preset and hero name under them, in both languages (the style's 8 characters: 有点吓人但很温暖).
- Words: every Latin word must be one a child could know: the team corpus, the catalog or
  pyspellchecker's English dictionary, or pinyin. Names pass: capitalised words (not a CamelCase
  sentence glued into one word); in a power or a style not the first word, which phones capitalise
  by themselves, so slang cannot pass as a name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from spellchecker import SpellChecker

from storyteller import corpus
from storyteller.catalog import get_catalog
from storyteller.safety.lists import LIST_DIR, read_lines
from storyteller.safety.mixed import split
from storyteller.safety.normalise import fold, is_han
from storyteller.safety.policy import Verdict

SHAPE = "shape"  # the Verdict category; kept apart from CATEGORIES, which are what a text says
# (characters, words) per field. The catalog's largest: dynasty 3 (南北朝) / 4 (Northern and Southern
# Dynasties); power 6 (听懂动物说话) / 4 (making copies of yourself); style 2 / 2 (light-hearted); hero 3 / 2.
LIMITS = {"dynasty": (6, 6), "hero": (8, 5), "power": (8, 5), "style": (8, 4)}
NAMES_ANYWHERE = ("dynasty", "hero")  # fields that are names: a capitalised first word is a name too
PINYIN_WORD = 4  # syllables in the longest pinyin word a name needs (zhugeliang)
NAME_LETTERS, NAME_CAPITALS = 16, 3  # the longest name word, and its capitals (McDonald, ZhuGeLiang)
WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’\-][^\W\d_]+)*")
LATIN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def _is_cjk(ch: str) -> bool:
    """A Chinese character, or a kana or hangul letter: each is one unit of size."""
    return is_han(ch) or (ch.isalpha() and unicodedata.east_asian_width(ch) in ("W", "F"))


def measure(value: str) -> tuple[int, list[str]]:
    """(CJK characters, the other words) of a typed value, after NFKC (full-width letters are words)."""
    text = unicodedata.normalize("NFKC", value)
    cjk = sum(_is_cjk(ch) for ch in text)
    rest = "".join(" " if _is_cjk(ch) else ch for ch in text)
    return cjk, WORD.findall(rest)


def _syllables(key: str) -> int | None:
    """How many pinyin syllables a folded word spells (hyphens allowed), or None if it is not pinyin."""
    total = 0
    for part in key.split("-"):
        found = split(part.replace("'", ""))
        if not found or len(found) > PINYIN_WORD:
            return None
        total += len(found)
    return total


def size(value: str) -> tuple[int, int | None]:
    """(characters + words, the same with a pinyin value's syllables for its words, or None when the
    value has a word that is not pinyin)."""
    cjk, words = measure(value)
    syllables = [_syllables(fold(w).text) if not w[0].isdigit() else 1 for w in words]
    pinyin = None if None in syllables else cjk + sum(syllables)
    return cjk + sum(len(w.split("-")) for w in words), pinyin


def _tokens(text: str) -> set[str]:
    return {w.lower().replace("’", "'") for w in LATIN.findall(text)}


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Folded English words a child may type: pyspellchecker's dictionary, the team's own additions
    (assets/safety/words.txt), the catalog and the corpus. Loaded once, on the first typed word."""
    words = set(SpellChecker(language="en").word_frequency.dictionary) | set(read_lines(LIST_DIR / "words.txt"))
    cat = get_catalog()
    for d in cat.dynasties:
        words |= _tokens(d.en)
        for h in d.heroes:
            words |= _tokens(f"{h.en} {h.fact_en}")
    for t in cat.powers + cat.styles:
        words |= _tokens(t.en)
    for s in corpus.load():
        words |= _tokens(" ".join((s.dynasty, s.hero, s.hero_fact, s.power, s.style, s.story)))
    return frozenset(words)


def known(word: str, kind: str, first: bool) -> bool:
    """A word a child could know, a number, pinyin, or a name."""
    key = fold(word).text.replace("’", "'")
    if len(key) == 1 or key[0].isdigit():
        return True  # an initial, a pinyin initial (T恤, B站), a number
    vocab = vocabulary()
    base = key[:-2] if key.endswith("'s") else key
    if base in vocab or all(p in vocab for p in base.split("-")) or _syllables(base) is not None:
        return True
    capitals = sum(c.isupper() for c in word)
    name = word[0].isupper() and not word.isupper() and capitals <= NAME_CAPITALS and len(word) <= NAME_LETTERS
    return name and (kind in NAMES_ANYWHERE or not first)


def check_shape(kind: str, value: str) -> Verdict | None:
    """None when a typed `kind` value has the shape of a name; else a Verdict of category "shape"
    (its reason for logs; its term, an unknown word, for tests, never for the child)."""
    if kind not in LIMITS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {tuple(LIMITS)}")
    if not value or not value.strip():
        return None
    cjk_limit, word_limit = LIMITS[kind]
    cjk, words = measure(value)
    total, pinyin = size(value)
    fits = total <= cjk_limit if cjk else (total <= word_limit or (pinyin is not None and pinyin <= cjk_limit))
    if not fits:
        unit = f"characters and words (limit {cjk_limit})" if cjk else f"words (limit {word_limit})"
        return Verdict(category=SHAPE, reason=f"shape: a {kind} of {total} {unit}", term="")
    for i, word in enumerate(words):
        if not known(word, kind, first=i == 0):
            return Verdict(category=SHAPE, reason=f"shape: a {kind} with a word a child would not know", term=word)
    return None

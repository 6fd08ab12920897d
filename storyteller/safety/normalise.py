"""Text as the matcher sees it. A child (or a model) can write the same word many ways: 殺人, ｋｉｌｌ,
k1ll, 杀 人, 杀🔪人, "sha ren". Each view below maps those back to one spelling, and remembers for every
character where it came from, so a match can name the surface form (a resampler bans that).

Every character is first folded: full-width -> half-width (NFKC), lowercase, accents dropped, and a
letter from another script that looks like a Latin one read as that letter (Cyrillic к, Armenian ս,
Greek ο: Unicode's confusables data, from the confusable_homoglyphs package).

Views of one text:
- the Han view: traditional -> simplified (OpenCC), with spaces, symbols and emoji inside words
  dropped, and the few emoji that stand for a character in insults read as it (🐴 -> 马); in a
  typed field every non-Han character is dropped;
- the Latin views: lowercase words padded with spaces (so matching keeps word boundaries),
  leetspeak read back (0->o, 1->i or l, 3->e, @->a, $->s ...), letters spelt out one by one joined
  ("k i l l", and "i g n o r e  a l l" as two words), a second spelling where joiners inside a word
  are dropped ("k-i-l-l"), a symbol or emoji that stands in for a vowel read as each vowel ("k🔪ll",
  "f*ck"), and letters repeated for effect cut back ("fuuuck");
- the spelt view: each run of letters spelt out one by one, glued ("k i l l t h e m" -> "killthem"),
  where a word is matched anywhere (the run has lost its word boundaries).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import opencc

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "+": "t"}
LEET_INSIDE = {"!": "i", "|": "l"}  # only between letters: "hello!" keeps its "!"
ONE_AS_L = str.maketrans({"1": "l", "|": "l"})
CLAUSE = set("。，！？；：、,;!?:\n\r\t\"'“”‘’（）()《》「」【】[]<>")  # Han-view separators in sentences
REPEATS = re.compile(r"([a-z])\1\1")
LETTER = re.compile(r"[a-z]")
LEETY = re.compile(r"[a-z][0-9@$+]|[0-9@$+][a-z]|[a-z][!|][a-z]")  # leetspeak may be there
JOINED = re.compile(r"[a-z][^\sa-z0-9'\",;:!?()\[\]]+[a-z]")  # a joiner or symbol between letters
STANDS_IN = re.compile(r"[a-z][^\sa-z0-9'\",;:.!()\[\]\-_/]+[a-z]")  # a symbol or emoji between letters
HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
JOINERS = set("-_.*·~/\\^`=#&%") | {"\u200b", "\u200c", "\u200d", "\ufe0f", "\u2060"}  # not ': he'll is not hell
STAND_INS = set("*#?%^~")  # a symbol that can take a vowel's place inside a word ("f*ck"); emoji too
VOWELS = "aeiou"
# emoji that stand for a character in Chinese insults (去你🐴的 is 去你妈的, spelt with the horse's 马)
EMOJI_HAN = {"🐴": "马", "🐎": "马", "🐔": "鸡", "🐓": "鸡", "🐶": "狗", "🐕": "狗", "🐷": "猪", "🐖": "猪",
             "🐽": "猪", "🐮": "牛", "🐄": "牛", "💩": "屎", "🌿": "草", "🌱": "草"}
WIDE_ASIAN = ((0x2E80, 0x33FF), (0x3400, 0x9FFF), (0xA000, 0xA4CF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF),
              (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))  # never read as Latin look-alikes (〇 is not o)


@dataclass(frozen=True)
class View:
    """A normalised string and, for each of its characters, the index of the source character."""

    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Source [start, end) for the view's [start, end) (padding maps to its neighbours)."""
        return self.index[start], self.index[end - 1] + 1


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\U00020000" <= ch <= "\U0002ffff"


def _drop_in_word(ch: str) -> bool:
    """Spaces, symbols, emoji and invisible marks a word can be split with."""
    cat = unicodedata.category(ch)
    return ch in JOINERS or cat[0] in "SZ" or cat in ("Cf", "Mn", "Me", "Pd", "Pc") or ch == " "


@lru_cache(maxsize=1)
def look_alikes() -> dict[str, str]:
    """Each non-ASCII letter that Unicode's confusables data says looks like one Latin letter, mapped
    to it in lowercase (Cyrillic а -> a, Armenian ս -> u); a capital's lowercase form too where the
    data names only the capital (Cyrillic К -> k, so к -> k)."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    out: dict[str, str] = {}
    for ch, glyphs in data.items():
        if len(ch) != 1 or ch.isascii() or any(a <= ord(ch) <= b for a, b in WIDE_ASIAN):
            continue
        latin = next((g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()), None)
        if latin:
            out[ch] = latin.lower()
    for ch, latin in list(out.items()):
        low = ch.lower()
        if low != ch and len(low) == 1 and low not in out:
            out[low] = latin
    return out


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """NFKC (full-width -> half-width), a Latin look-alike read as its letter, lowercase, accents
    dropped."""
    nfkc = unicodedata.normalize("NFKC", ch)
    if len(nfkc) == 1 and not nfkc.isascii() and (latin := look_alikes().get(nfkc)):
        return latin
    folded = unicodedata.normalize("NFKD", nfkc.lower())
    return "".join(c for c in folded if not unicodedata.combining(c)) or ch


def fold(text: str) -> View:
    """Character-wise NFKC + lowercase + simplified Chinese, with the source index of each char."""
    chars, index = [], []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            chars.append(c)
            index.append(i)
    s = "".join(chars)
    if HAN.search(s):
        simple = _t2s().convert(s)
        s = simple if len(simple) == len(s) else "".join(_t2s().convert(c) or c for c in s)
    return View(s, tuple(index))


def han_view(folded: View, field: bool = False) -> View:
    """Han characters with joiners dropped; clause punctuation and Latin text stay as separators
    (a typed field keeps only its Han characters). Empty for a text with no Han character."""
    if not HAN.search(folded.text) and not any(e in folded.text for e in EMOJI_HAN):
        return View("", ())
    chars, index = [], []
    for c, i in zip(folded.text, folded.index):
        c = EMOJI_HAN.get(c, c)
        if is_han(c) or (not field and (c in CLAUSE or c.isalnum())):
            chars.append(c)
            index.append(i)
        elif not field and not _drop_in_word(c):
            chars.append(" ")
            index.append(i)
    return View("".join(chars), tuple(index))


def _deleet(folded: View) -> list[tuple[str, int]]:
    """Leetspeak read back inside tokens that hold at least one letter."""
    if not LEETY.search(folded.text):
        return list(zip(folded.text, folded.index))
    out: list[tuple[str, int]] = []
    text, n = folded.text, len(folded.text)
    i = 0
    while i < n:
        j = i
        while j < n and (text[j].isalnum() or text[j] in LEET or text[j] in LEET_INSIDE):
            j += 1
        if j == i:
            out.append((text[i], folded.index[i]))
            i += 1
            continue
        token = text[i:j]
        lettered = any(c.isalpha() for c in token)
        for k, c in enumerate(token):
            inside = 0 < k < len(token) - 1 and token[k - 1].isalpha() and token[k + 1].isalpha()
            if lettered and c in LEET and not c.isalpha():
                c = LEET[c]
            elif c in LEET_INSIDE:
                c = LEET_INSIDE[c] if inside else " "
            out.append((c, folded.index[i + k]))
        i = j
    return out


def _tokens(pairs: list[tuple[str, int]], join: bool) -> list[tuple[list[tuple[str, int]], int]]:
    """Words of a-z letters, each with the number of separator characters before it; `join` drops
    joiners inside words instead of splitting there."""
    out: list[tuple[list[tuple[str, int]], int]] = []
    word: list[tuple[str, int]] | None = None
    gap = 0
    for c, i in pairs:
        if "a" <= c <= "z":
            if word is None:
                word = []
                out.append((word, gap))
                gap = 0
            word.append((c, i))
        elif not (join and c != " " and _drop_in_word(c)):
            word = None
            gap += 1
    return out


def _runs(tokens: list) -> list[tuple[int, int]]:
    """[start, end) of each run of three or more words of one letter each ("k i l l")."""
    runs, i = [], 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and len(tokens[j][0]) == 1:
            j += 1
        if j - i >= 3:
            runs.append((i, j))
        i = max(j, i + 1)
    return runs


def _words(pairs: list[tuple[str, int]], join: bool) -> View:
    """Space-padded lowercase words. A run of letters spelt out one by one is joined into a word,
    or into several where it holds both single and wider gaps ("i g n o r e  a l l")."""
    tokens = _tokens(pairs, join)
    breaks: set[int] = set()  # token indexes that start a new word
    joined: set[int] = set()  # token indexes inside a spelt run
    for a, b in _runs(tokens):
        gaps = [tokens[k][1] for k in range(a + 1, b)]
        wide = 1 in gaps and any(g > 1 for g in gaps)
        joined.update(range(a + 1, b))
        breaks.update(k for k in range(a + 1, b) if wide and tokens[k][1] > 1)
    chars, index = [" "], [pairs[0][1] if pairs else 0]
    for k, (word, _) in enumerate(tokens):
        if k in joined and k not in breaks:
            chars.pop()
            index.pop()
        for c, i in word:
            chars.append(c)
            index.append(i)
        chars.append(" ")
        index.append(word[-1][1])
    return View("".join(chars), tuple(index))


def spelt_view(folded: View) -> View | None:
    """Each run of letters spelt out one by one, glued (" killthem "), or None when there is none."""
    return latin(folded)[1]


def _spelt(pairs: list[tuple[str, int]]) -> View | None:
    tokens = _tokens(pairs, join=False)
    runs = _runs(tokens)
    if not runs:
        return None
    chars, index = [" "], [tokens[runs[0][0]][0][0][1]]
    for a, b in runs:
        for word, _ in tokens[a:b]:
            chars.append(word[0][0])
            index.append(word[0][1])
        chars.append(" ")
        index.append(index[-1])
    return View("".join(chars), tuple(index))


def _stands_in(c: str) -> bool:
    return c in STAND_INS or unicodedata.category(c) in ("So", "Sm", "Sc")


def _vowel_guesses(pairs: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """For a symbol or emoji between two letters ("k🔪ll", "f*ck"), the text with each vowel in its
    place (one vowel for all such places at a time); none when there is no such symbol."""
    spots: list[tuple[int, int]] = []  # [start, end) of each stand-in between letters
    k, n = 1, len(pairs)
    while k < n - 1:
        if "a" <= pairs[k - 1][0] <= "z" and not "a" <= pairs[k][0] <= "z":
            j = k
            while j < n and pairs[j][0] != " " and not "a" <= pairs[j][0] <= "z" and (
                    _stands_in(pairs[j][0]) or unicodedata.category(pairs[j][0]) in ("Cf", "Mn", "Me")):
                j += 1
            if j < n and "a" <= pairs[j][0] <= "z" and any(_stands_in(c) for c, _ in pairs[k:j]):
                spots.append((k, j))
            k = j
        k += 1
    if not spots:
        return []
    guesses = []
    for vowel in VOWELS:
        out, last = [], 0
        for a, b in spots:
            out += pairs[last:a] + [(vowel, pairs[a][1])]
            last = b
        guesses.append(out + pairs[last:])
    return guesses


def _squeeze(view: View, keep: int) -> View:
    """Runs of three or more of one letter cut to `keep` ("fuuuuck" -> "fuck" or "fuuck")."""
    chars, index = [], []
    for c, i in zip(view.text, view.index):
        if c.isalpha() and len(chars) >= keep and all(x == c for x in chars[-keep:]):
            continue
        chars.append(c)
        index.append(i)
    return View("".join(chars), tuple(index))


def latin_views(folded: View) -> list[View]:
    """Every distinct Latin spelling of the text (split and joined; 1 read as i and as l; a symbol
    between letters read as each vowel; letters repeated for effect cut back)."""
    return latin(folded)[0]


def latin(folded: View) -> tuple[list[View], View | None]:
    """The Latin views and the spelt view, in one pass (none for a text without a Latin letter)."""
    if not LETTER.search(folded.text):
        return [], None
    sources = [folded]
    if "1" in folded.text or "|" in folded.text:
        sources.append(View(folded.text.translate(ONE_AS_L), folded.index))
    if REPEATS.search(folded.text):
        sources += [_squeeze(src, keep) for src in list(sources) for keep in (1, 2)]
    views: dict[str, View] = {}
    spelt = None
    for src in sources:
        pairs = _deleet(src)
        if src is folded:
            spelt = _spelt(pairs)
        joins = (False, True) if JOINED.search(src.text) else (False,)
        guesses = _vowel_guesses(pairs) if STANDS_IN.search(src.text) else []
        variants = [(pairs, join) for join in joins] + [(g, False) for g in guesses]
        for p, join in variants:
            v = _words(p, join)
            if v.text.strip():
                views.setdefault(v.text, v)
    return list(views.values()), spelt


def term_key(term: str) -> tuple[str, str]:
    """A list entry in the form the views use: ("han", 杀人) or ("latin", " kill ")."""
    folded = fold(term.strip())
    if any(is_han(c) for c in folded.text):
        return "han", han_view(folded, field=True).text
    return "latin", _words(_deleet(folded), join=False).text

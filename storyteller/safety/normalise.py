"""Text as the matcher sees it. A child (or a model) can write the same word many ways: 殺人, ｋｉｌｌ,
k1ll, 杀 人, 杀🔪人, "sha ren". Each view below maps those back to one spelling, and remembers for every
character where it came from, so a match can name the surface form (a resampler bans that).

Two views of one text:
- the Han view: traditional -> simplified (OpenCC), full-width -> half-width (NFKC), with spaces,
  symbols and emoji inside words dropped; in a typed field every non-Han character is dropped;
- the Latin view: lowercase words padded with spaces (so matching keeps word boundaries), accents
  dropped, leetspeak read back (0->o, 1->i or l, 3->e, @->a, $->s ...), letters spelt out one by one
  joined ("k i l l"), a second spelling where joiners inside a word are dropped ("k-i-l-l"), and
  letters repeated for effect cut back ("fuuuck").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "+": "t"}
LEET_INSIDE = {"!": "i", "|": "l"}  # only between letters: "hello!" keeps its "!"
ONE_AS_L = str.maketrans({"1": "l", "|": "l"})
CLAUSE = set("。，！？；：、,;!?:\n\r\t\"'“”‘’（）()《》「」【】[]<>")  # Han-view separators in sentences
REPEATS = re.compile(r"([a-z])\1\1")
JOINERS = set("-_.*·~/\\^`=#&%") | {"\u200b", "\u200c", "\u200d", "\ufe0f", "\u2060"}  # not ': he'll is not hell


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


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """NFKC (full-width -> half-width), lowercase, accents dropped."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).lower())
    return "".join(c for c in folded if not unicodedata.combining(c)) or ch


def fold(text: str) -> View:
    """Character-wise NFKC + lowercase + simplified Chinese, with the source index of each char."""
    chars, index = [], []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            chars.append(c)
            index.append(i)
    s = "".join(chars)
    if any(is_han(c) for c in s):
        simple = _t2s().convert(s)
        s = simple if len(simple) == len(s) else "".join(_t2s().convert(c) or c for c in s)
    return View(s, tuple(index))


def han_view(folded: View, field: bool = False) -> View:
    """Han characters with joiners dropped; clause punctuation and Latin text stay as separators
    (a typed field keeps only its Han characters)."""
    chars, index = [], []
    for c, i in zip(folded.text, folded.index):
        if is_han(c) or (not field and (c in CLAUSE or c.isalnum())):
            chars.append(c)
            index.append(i)
        elif not field and not _drop_in_word(c):
            chars.append(" ")
            index.append(i)
    return View("".join(chars), tuple(index))


def _deleet(folded: View) -> list[tuple[str, int]]:
    """Leetspeak read back inside tokens that hold at least one letter."""
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


def _words(pairs: list[tuple[str, int]], join: bool) -> View:
    """Space-padded lowercase words; `join` drops joiners inside words instead of splitting there."""
    chars, index = [" "], [pairs[0][1] if pairs else 0]
    for c, i in pairs:
        if "a" <= c <= "z":
            chars.append(c)
            index.append(i)
        elif join and _drop_in_word(c) and c != " ":
            continue
        elif chars[-1] != " ":
            chars.append(" ")
            index.append(i)
    if chars[-1] != " ":
        chars.append(" ")
        index.append(index[-1])
    return _spelt_out(View("".join(chars), tuple(index)))


def _spelt_out(view: View) -> View:
    """Join runs of three or more single letters: " k i l l " -> " kill "."""
    text, index = view.text, list(view.index)
    if " " not in text.strip() or len(text) < 7:
        return view
    chars, idx, i = [], [], 0
    while i < len(text):
        j = i
        while j + 2 < len(text) and text[j] == " " and text[j + 1] != " " and text[j + 2] == " ":
            j += 2
        if (j - i) // 2 >= 3:
            chars.append(" ")
            idx.append(index[i])
            for k in range(i + 1, j, 2):
                chars.append(text[k])
                idx.append(index[k])
            i = j
        else:
            chars.append(text[i])
            idx.append(index[i])
            i += 1
    return View("".join(chars), tuple(idx))


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
    """Every distinct Latin spelling of the text (split and joined; 1 read as i and as l; letters
    repeated for effect cut back)."""
    sources = [folded]
    if "1" in folded.text or "|" in folded.text:
        sources.append(View(folded.text.translate(ONE_AS_L), folded.index))
    if REPEATS.search(folded.text):
        sources += [_squeeze(src, keep) for src in list(sources) for keep in (1, 2)]
    views: dict[str, View] = {}
    for src in sources:
        pairs = _deleet(src)
        for join in (False, True):
            v = _words(pairs, join)
            if v.text.strip():
                views.setdefault(v.text, v)
    return list(views.values())


def term_key(term: str) -> tuple[str, str]:
    """A list entry in the form the views use: ("han", 杀人) or ("latin", " kill ")."""
    folded = fold(term.strip())
    if any(is_han(c) for c in folded.text):
        return "han", han_view(folded, field=True).text
    return "latin", _words(_deleet(folded), join=False).text

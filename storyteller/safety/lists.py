"""The word lists, read once and compiled into Aho-Corasick automata (pyahocorasick).

Sources, all data: assets/safety/zh.txt and en.txt (the team's lists, by category),
better-profanity's English word list (general profanity, less the innocent words in
en_exclude.txt), allow.txt (innocent words that contain a blocked term), and the pinyin of every
Chinese term of two or more characters ("sha ren" and "sharen" for 杀人) unless it also spells a
common innocent word (pinyin_skip.txt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import ahocorasick
from pypinyin import lazy_pinyin

from storyteller.paths import ASSETS
from storyteller.safety.normalise import term_key

LIST_DIR = ASSETS / "safety"
SECTION = re.compile(r"^\[(\w+)(?::(field))?\]$")
DEFAULT_CATEGORY = "profanity"  # better-profanity's words that our lists do not name


@dataclass(frozen=True)
class Entry:
    """One blocked spelling: what the view must contain, the term it stands for, its category."""

    key: str          # as the view spells it ("杀人", " sha ren ")
    term: str         # the normalised term reported in a Verdict
    category: str
    field_only: bool
    how: str          # "word", "pinyin" or "wordlist" (for the reason)


def read_sections(path: Path) -> list[tuple[str, bool, str]]:
    """(category, field_only, term) for each line of a sectioned list."""
    out, category, field_only = [], None, False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if m := SECTION.match(line):
            category, field_only = m.group(1), bool(m.group(2))
        elif category is None:
            raise ValueError(f"{path.name}: term {line!r} before any [category]")
        else:
            out.append((category, field_only, line))
    return out


def read_lines(path: Path) -> list[str]:
    return [s for raw in path.read_text(encoding="utf-8").splitlines() if (s := raw.split("#", 1)[0].strip())]


def inflections(word: str) -> set[str]:
    """-s/-es/-ed/-ing/-er forms of one English word (extra forms that are not words do no harm)."""
    forms = {word, word + "s", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.add(word + "es")
    if word.endswith("e"):
        forms |= {word[:-1] + "ing", word + "d", word + "r", word + "rs"}
    if word.endswith("ate"):  # decapitate -> decapitation
        forms |= {word[:-1] + "ion", word[:-1] + "ions"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing", word + word[-1] + "er"}
    return forms


@lru_cache(maxsize=1)
def pinyin_skip() -> frozenset[str]:
    return frozenset(read_lines(LIST_DIR / "pinyin_skip.txt"))


def pinyin_keys(han: str) -> set[str]:
    """" sha ren " and " sharen " for 杀人; none for one syllable or for a spelling in pinyin_skip.txt."""
    syllables = lazy_pinyin(han, errors="ignore")
    if len(syllables) < 2 or len(syllables) != len(han) or "".join(syllables) in pinyin_skip():
        return set()
    return {" " + " ".join(syllables) + " ", " " + "".join(syllables) + " "}


def wordlist() -> list[str]:
    """better-profanity's vocabulary (MIT), read from the installed package."""
    text = resources.files("better_profanity").joinpath("profanity_wordlist.txt").read_text(encoding="utf-8")
    return [w.strip() for w in text.splitlines() if w.strip()]


@lru_cache(maxsize=1)
def entries() -> list[Entry]:
    out: list[Entry] = []
    named: set[str] = set()
    for lang in ("zh", "en"):
        for category, field_only, term in read_sections(LIST_DIR / f"{lang}.txt"):
            script, key = term_key(term)
            shown = key.strip()
            if script == "han":
                out.append(Entry(key, shown, category, field_only, "word"))
                out += [Entry(k, k.strip(), category, field_only, "pinyin") for k in pinyin_keys(key)]
            else:
                words = key.split()
                for form in inflections(words[-1]):
                    k = " " + " ".join(words[:-1] + [form]) + " "
                    out.append(Entry(k, shown, category, field_only, "word"))
                    named.add(k)
    excluded = {term_key(w)[1] for w in read_lines(LIST_DIR / "en_exclude.txt")}
    for word in wordlist():
        script, key = term_key(word)
        if script == "latin" and key.strip() and key not in excluded and key not in named:
            out.append(Entry(key, key.strip(), DEFAULT_CATEGORY, False, "wordlist"))
    return out


@dataclass(frozen=True)
class Matchers:
    han: ahocorasick.Automaton
    latin: ahocorasick.Automaton
    allow_han: ahocorasick.Automaton
    allow_latin: ahocorasick.Automaton


def _automaton(items: dict[str, object]) -> ahocorasick.Automaton:
    auto = ahocorasick.Automaton()
    for key, value in items.items():
        auto.add_word(key, value)
    if not items:
        auto.add_word("\x00", None)  # an empty automaton cannot be searched
    auto.make_automaton()
    return auto


@lru_cache(maxsize=2)
def matchers(field: bool) -> Matchers:
    """Automata for sentences (field=False) or typed fields (field=True, adds the field-only terms).
    A key with several entries keeps the first: the team's lists come before the word list."""
    han: dict[str, Entry] = {}
    latin: dict[str, Entry] = {}
    for e in entries():
        if e.field_only and not field:
            continue
        target = latin if e.key.startswith(" ") else han
        target.setdefault(e.key, e)
    allow_han, allow_latin = {}, {}
    for phrase in read_lines(LIST_DIR / "allow.txt"):
        script, key = term_key(phrase)
        (allow_han if script == "han" else allow_latin)[key] = len(key)
    return Matchers(_automaton(han), _automaton(latin), _automaton(allow_han), _automaton(allow_latin))

"""The word lists, read once and compiled into Aho-Corasick automata (pyahocorasick).

Sources, all data: assets/safety/zh.txt and en.txt (the team's lists, by category),
better-profanity's English word list (general profanity, less the innocent words in
en_exclude.txt), allow.txt (innocent words that contain a blocked term; an English line may hold
"~", up to three words that name no person: "{shoot|shoots} ~ bubbles"), and the pinyin of every
Chinese term of two or more characters ("sha ren" and "sharen" for 杀人) unless it also spells a
common innocent word (pinyin_skip.txt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from importlib import resources
from pathlib import Path

import ahocorasick
from pypinyin import lazy_pinyin

from storyteller.paths import ASSETS
from storyteller.safety.normalise import term_key

LIST_DIR = ASSETS / "safety"
SECTION = re.compile(r"^\[(\w+)(?::(field))?\]$")
CHOICE = re.compile(r"\{([^{}]*)\}")
DEFAULT_CATEGORY = "profanity"  # better-profanity's words that our lists do not name
GLUED_MIN = 4  # letters: a shorter word is too often found by chance inside a glued spelt run
IRREGULAR = {"take": "took taken", "get": "got gotten", "shoot": "shot", "hang": "hung", "send": "sent",
             "eat": "ate eaten", "throw": "threw thrown", "beat": "beaten", "drink": "drank", "sell": "sold",
             "buy": "bought", "stick": "stuck"}
KEEP_FIRST = {"make", "get", "strip"}  # "made out of wood", "got high in the sky", "striped club" are innocent


@dataclass(frozen=True)
class Entry:
    """One blocked spelling: what the view must contain, the term it stands for, its category."""

    key: str          # as the view spells it ("杀人", " sha ren ")
    term: str         # the normalised term reported in a Verdict
    category: str
    field_only: bool
    how: str          # "word", "pinyin", "wordlist", "spelt" or "mixed" (for the reason)


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
            out += [(category, field_only, term) for term in expand(line)]
    return out


def expand(line: str) -> list[str]:
    """A list line with {a|b|} choices, spelt every way: "{kind|shy} {little |}ghost" gives four."""
    m = CHOICE.search(line)
    if not m:
        return [" ".join(line.split())]
    return [x for opt in m.group(1).split("|") for x in expand(line[:m.start()] + opt + line[m.end():])]


def read_lines(path: Path) -> list[str]:
    return [x for raw in path.read_text(encoding="utf-8").splitlines() if (s := raw.split("#", 1)[0].strip())
            for x in expand(s)]


def inflections(word: str) -> set[str]:
    """-s/-es/-ed/-ing/-er forms of one English word, its irregular past, and a plural or third
    person spelt with z ("nudez", "killz"); extra forms that are not words do no harm."""
    forms = {word, word + "s", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.add(word + "es")
    if word.endswith("e"):
        forms |= {word[:-1] + "ing", word + "d", word + "r", word + "rs"}
    if word.endswith("ate"):  # decapitate -> decapitation
        forms |= {word[:-1] + "ion", word[:-1] + "ions"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing", word + word[-1] + "er"}
    forms |= set(IRREGULAR.get(word, "").split())
    return forms | {f[:-1] + "z" for f in forms if f.endswith("s") and len(f) > 3}


def phrase_forms(words: list[str]) -> set[str]:
    """Every spelling of a listed phrase: its last word inflected, or its first ("smoked weed")."""
    if len(words) == 1:
        return inflections(words[0])
    forms = {" ".join([*words[:-1], last]) for last in inflections(words[-1])}
    if words[0] not in KEEP_FIRST:
        forms |= {" ".join([first, *words[1:]]) for first in inflections(words[0]) if not first.endswith(("er", "z"))}
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
                for form in phrase_forms(key.split()):
                    k = " " + form + " "
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
    glued: ahocorasick.Automaton  # Latin terms without their spaces, for glued spelt runs
    allow_han: ahocorasick.Automaton
    allow_latin: ahocorasick.Automaton
    allow_glued: ahocorasick.Automaton
    allow_gaps: re.Pattern | None  # allow.txt's lines with "~", on the Latin views


GAP = "~"
# "~" stands for up to three words, never a person ("shoot ~ bubbles" must not cover "shoot people bubbles")
GAP_WORDS = (r"(?:(?!(?:him|her|them|me|you|us|people|person|everyone|everybody|someone|anyone|kids?|children|"
             r"teachers?|boys?|girls?|bab(?:y|ies)|mom|dad|friends?) )[a-z]+ ){0,3}")


def gap_pattern(line: str) -> str:
    """An allow line with "~" as a regex on the padded Latin view: {a|b|} choices, "~" up to three
    words (" (?:shoot|shoots) (?:...){0,3}(?:bubble|bubbles) ")."""
    out, i = [], 0
    line = " ".join(line.lower().split())
    while i < len(line):
        ch = line[i]
        if ch == "{":
            j = line.index("}", i)
            out.append("(?:" + "|".join(re.escape(o) for o in line[i + 1:j].split("|")) + ")")
            i = j + 1
        elif ch == GAP:
            out.append(GAP_WORDS)
            i += 2 if line[i + 1:i + 2] == " " else 1
        else:
            out.append(re.escape(ch))
            i += 1
    return " " + "".join(out) + " "


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
    glued: dict[str, Entry] = {}
    for e in entries():
        if e.field_only and not field:
            continue
        target = latin if e.key.startswith(" ") else han
        target.setdefault(e.key, e)
        if target is latin and len(g := e.key.replace(" ", "")) >= GLUED_MIN:
            glued.setdefault(g, Entry(g, e.term, e.category, e.field_only, "spelt"))
    allow_han, allow_latin, allow_glued = {}, {}, {}
    lines = [s for raw in (LIST_DIR / "allow.txt").read_text(encoding="utf-8").splitlines()
             if (s := raw.split("#", 1)[0].strip())]
    gaps = [gap_pattern(x) for x in lines if GAP in x]
    for phrase in (p for x in lines if GAP not in x for p in expand(x)):
        script, key = term_key(phrase)
        (allow_han if script == "han" else allow_latin)[key] = len(key)
        if script == "latin":
            allow_glued[key.replace(" ", "")] = len(key.replace(" ", ""))
    # each gap line inside a lookahead, so overlapping phrases are all found
    gap_re = re.compile("|".join(f"(?=({g}))" for g in gaps)) if gaps else None
    return Matchers(_automaton(han), _automaton(latin), _automaton(glued), _automaton(allow_han),
                    _automaton(allow_latin), _automaton(allow_glued), gap_re)


@lru_cache(maxsize=2)
def pinyin_shapes(field: bool) -> dict[tuple[str, ...], Entry]:
    """Every Chinese term of two or more characters as its syllables, each syllable also as its first
    letter alone ("sha bi", "sha b*" for 傻逼): how a child types a word half in pinyin ("傻b", "se情")."""
    out: dict[tuple[str, ...], Entry] = {}
    for e in entries():
        if e.how != "word" or e.key.startswith(" ") or len(e.key) < 2 or (e.field_only and not field):
            continue
        syllables = [x.replace("v", "u") for x in lazy_pinyin(e.key, errors="ignore")]
        if len(syllables) != len(e.key):
            continue
        for mask in product((False, True), repeat=len(syllables)):
            shape = tuple(x[0] + "*" if short else x for x, short in zip(syllables, mask))
            out.setdefault(shape, Entry(" ".join(shape), e.term, e.category, e.field_only, "mixed"))
    return out

"""Measures that can tell a story from noise, and the variety a child notices.

Each was checked to separate the old model's stories from the team's before it was trusted
(benchmarks/model_quality.py prints both groups). Figures the story format guarantees
(adherence, hero, clean end) live in evaluate.py and are labelled as such in the card.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import combinations

from storyteller.catalog import get_catalog

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
SENTENCE = re.compile(r"[^。！？!?.\n]+(?:[。！？!?.]+[”\"’']?)?|[。！？!?.]+[”\"’']?")


@lru_cache(maxsize=1)
def _dictionary():
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)


@lru_cache(maxsize=1)
def catalog_words() -> frozenset[str]:
    """Words of the catalog's English names (heroes, dynasties, powers, styles) and Ultraman."""
    cat = get_catalog()
    names = [h.en for d in cat.dynasties for h in d.heroes] + [d.en for d in cat.dynasties]
    names += [p.en for p in cat.powers] + [s.en for s in cat.styles] + ["Ultraman"]
    return frozenset(w.lower() for n in names for w in WORD.findall(n))


def english_words(text: str) -> list[tuple[str, bool]]:
    """(word, starts a sentence) for every word of an English story."""
    out, start = [], True
    for m in re.finditer(r"[A-Za-z]+(?:'[A-Za-z]+)?|[.!?\n]", text):
        tok = m.group()
        if tok in ".!?\n":
            start = True
            continue
        out.append((tok, start))
        start = False
    return out


def nonwords(text: str) -> tuple[list[str], int]:
    """(the words of `text` that are not English words, how many words were counted).

    Not counted: catalog names, and names the story itself uses as names (a capitalised word
    that appears capitalised mid-sentence somewhere in the story: Scribblump, Mia)."""
    words = english_words(text)
    names = {w for w, start in words if not start and w[:1].isupper()}
    counted = [w for w, _ in words if w not in names and w.lower() not in catalog_words()]
    spell = _dictionary()
    base = [re.sub(r"'s$", "", w.lower()) for w in counted]  # children's -> children
    unknown = spell.unknown(base)
    return [w for w, b in zip(counted, base) if b in unknown], len(counted)


def nonword_share(texts: list[str]) -> float:
    """Share of words, over all the stories, that are not English words (pyspellchecker's list)."""
    bad = total = 0
    for t in texts:
        b, n = nonwords(t)
        bad, total = bad + len(b), total + n
    return bad / total if total else 0.0


def sentences(text: str) -> list[str]:
    """A story's sentences, stripped (Chinese and English)."""
    return [s.strip() for s in SENTENCE.findall(text) if s.strip() and s.strip() not in "”\"’'"]


def shared_sentences(a: str, b: str) -> float:
    """Share of identical sentences between two stories (over the mean number of sentences)."""
    sa, sb = set(sentences(a)), set(sentences(b))
    return len(sa & sb) / ((len(sa) + len(sb)) / 2) if sa and sb else 0.0


def mean_pairwise_shared(stories: list[str]) -> float:
    """Mean over all pairs of `shared_sentences`: ten tellings of one request should share few."""
    pairs = list(combinations(stories, 2))
    return sum(shared_sentences(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0


def masked(story: str, names: list[str]) -> str:
    """The story with the request's names replaced, so different requests can be compared."""
    for n in sorted((n for n in names if n), key=len, reverse=True):
        story = story.replace(n, "□")
    return story

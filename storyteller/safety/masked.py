"""A swear word with letters hidden by symbols: "f***", "sh**", "b***h". The letters left and the
word's length still say which word it is, so the symbols are read as any letter and the word is
looked for among the listed single words of that length. One symbol alone ("f*ck") is the Latin
views' job (each vowel in its place); this reads runs of two or more.

A masked token names one word: the listed profanity first (f*** is "fuck", not "fags"), then
the lists' order, so the category is the one a reader hears.
"""

from __future__ import annotations

import re
from functools import lru_cache

from storyteller.safety.lists import Entry, entries
from storyteller.safety.normalise import View

MASKS = "*#@$%"
TOKEN = re.compile(r"[a-z*#@$%]+")
RUN = re.compile(r"[*#@$%]{2,}")


@lru_cache(maxsize=1)
def _by_length() -> dict[int, list[Entry]]:
    """Every listed single Latin word (sentence lists), by length, profanity first."""
    out: dict[int, list[Entry]] = {}
    for e in entries():
        word = e.key.strip()
        if e.field_only or not e.key.startswith(" ") or not word.isalpha():
            continue
        out.setdefault(len(word), []).append(e)
    for words in out.values():
        words.sort(key=lambda e: e.category != "profanity")  # stable: the lists' order otherwise
    return out


def find(folded: View) -> list[tuple[Entry, int, int]]:
    """(entry, source start, source end) for each masked token that can only be a listed word."""
    if not RUN.search(folded.text):
        return []
    hits = []
    for m in TOKEN.finditer(folded.text):
        token = m.group()
        if not RUN.search(token) or not any(c.isalpha() for c in token):
            continue
        shape = re.compile("".join("[a-z]" if c in MASKS else c for c in token))
        entry = next((e for e in _by_length().get(len(token), []) if shape.fullmatch(e.key.strip())), None)
        if entry is not None:
            hits.append((Entry(token, entry.term, entry.category, False, "masked"), *folded.span(m.start(), m.end())))
    return hits

"""The child-safety policy: one place that says whether a text may reach a child.

Fits the genre: cartoon action against monsters (打败怪兽, "fight the monster", a beam, the monster
is trapped or becomes a friend), mild peril and comforted sadness pass. Blocked, by category:
killing, death or injury of people or animals, blood and gore (violence); weapons aimed at people;
horror; sexual content; self-harm; drugs, alcohol and smoking; hate and insults; profanity; and,
in typed fields only, personal data and instructions that try to break the request (injection).

A story sentence is checked with `check_text`; a typed dynasty, power, style or hero with the
stricter `check_field` (single characters such as 枪 or 死, and the pattern rules). The language
only picks the wording of messages: both scripts are always checked, so English typed into a
Chinese story is caught too.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from storyteller.safety import patterns
from storyteller.safety.lists import Entry, matchers
from storyteller.safety.normalise import View, fold, han_view, latin_views

CATEGORIES = ("violence", "weapons", "horror", "sexual", "self_harm", "drugs", "hate", "profanity",
              "personal_data", "injection")
SEVERITY = ("self_harm", "sexual", "violence", "weapons", "drugs", "horror", "hate", "profanity",
            "personal_data", "injection")  # a text with several problems is reported by the first
FIELD_KINDS = ("dynasty", "power", "style", "hero")
HOW = {"pinyin": "the pinyin of a blocked term", "wordlist": "a word from the profanity list"}


class Verdict(BaseModel):
    """Why a text is blocked. For logs and tests, never for the child."""

    model_config = ConfigDict(frozen=True)

    category: str
    reason: str
    term: str


class Hit(NamedTuple):
    """One blocked term found in a text: its entry and the source span it covers."""

    entry: Entry
    start: int
    end: int


def _allowed_spans(view: View, auto) -> list[tuple[int, int]]:
    return [(end + 1 - length, end + 1) for end, length in auto.iter(view.text)]


def _scan(view: View, auto, allow) -> list[Hit]:
    hits, spans = [], None
    for end, entry in auto.iter(view.text):
        if entry is None:
            continue
        start = end + 1 - len(entry.key)
        if spans is None:
            spans = _allowed_spans(view, allow)
        if any(a <= start and end + 1 <= b for a, b in spans):
            continue
        if entry.key.startswith(" "):  # the padding spaces are not part of the word
            start, end = start + 1, end - 1
        s, e = view.span(start, end + 1)
        hits.append(Hit(entry, s, e))
    return hits


def find(text: str, field: bool = False) -> tuple[list[Hit], tuple[str, str] | None]:
    """Every blocked term in `text` (source spans), and in a field the first pattern rule that fires."""
    folded = fold(text)
    m = matchers(field)
    han = han_view(folded, field=field)
    hits = _scan(han, m.han, m.allow_han)
    latins = latin_views(folded)
    for v in latins:
        hits += _scan(v, m.latin, m.allow_latin)
    rule = patterns.find(folded.text, [v.text for v in latins], han.text) if field else None
    return hits, rule


def _verdict(hits: list[Hit], rule: tuple[str, str] | None) -> Verdict | None:
    if hits:
        # a term inside a longer one (血 in 吸血鬼) yields to it; then the most serious category
        whole = [h for h in hits if not any(o.start <= h.start and h.end <= o.end and o.end - o.start > h.end - h.start
                                            for o in hits)]
        e = min(whole, key=lambda h: (SEVERITY.index(h.entry.category), h.start)).entry
        how = HOW.get(e.how, "a blocked term")
        return Verdict(category=e.category, reason=f"{e.category}: {how} ({e.term})", term=e.term)
    if rule:
        category, name = rule
        return Verdict(category=category, reason=f"{category}: looks like {name}", term="")
    return None


def check_text(text: str, lang: str = "zh") -> Verdict | None:
    """A story sentence (or a whole output text): None when it may be shown to a child."""
    if not text or not text.strip():
        return None
    return _verdict(*find(text, field=False))


def check_field(kind: str, value: str, lang: str = "zh") -> Verdict | None:
    """A typed dynasty, power, style or hero: stricter than a sentence (single characters such as
    枪 or 死, personal data, instructions to the model)."""
    if kind not in FIELD_KINDS:
        raise ValueError(f"unknown field kind {kind!r}; expected one of {FIELD_KINDS}")
    if not value or not value.strip():
        return None
    return _verdict(*find(value, field=True))


def banned_terms(text: str, lang: str = "zh") -> list[str]:
    """Every blocked term in `text`, as it is spelt there (殺人, k1ll), in order, each once."""
    hits, _ = find(text, field=False)
    seen: dict[str, None] = {}
    for h in sorted(hits, key=lambda h: h.start):
        seen.setdefault(text[h.start:h.end], None)
    return list(seen)

"""How long ago, told true: "hundreds of years" only for a dynasty that ended hundreds of years ago.

The English story world sends every hero "hundreds of years into the future", and the model learnt
it for all of them; a reader marked it for Yu the Great of the Xia, four thousand years ago. The
slot filler shows the phrase as the catalog's years say (`Rephrase` streams it through, holding back
only what could still become the phrase).
"""

from __future__ import annotations

import re
from datetime import date

from storyteller.catalog import get_catalog

PHRASE = "hundreds of years"


def years_ago(dynasty: str, today: int | None = None) -> int | None:
    """Years since the dynasty ended ("618–907": 907), from the catalog; None if it has no years."""
    d = get_catalog().dynasty(dynasty or "")
    if d is None or not d.years:
        return None
    end = re.findall(r"(\d+)\s*(BC)?", d.years)[-1]
    year = -int(end[0]) if end[1] or (d.years.rstrip().endswith("BC")) else int(end[0])
    return (today or date.today().year) - year


def how_long(dynasty: str) -> str:
    """"hundreds of years", "more than a thousand years" or "thousands of years"."""
    ago = years_ago(dynasty)
    if ago is None or ago < 1000:
        return PHRASE
    return "more than a thousand years" if ago < 2000 else "thousands of years"


class Rephrase:
    """Streams text through with each of `phrases` shown as its replacement, however it is cut."""

    def __init__(self, phrases: dict[str, str]):
        self._phrases = {k: v for k, v in phrases.items() if k != v}
        self._starts = {said[:n] for said in self._phrases for n in range(1, len(said))}  # what may still become one
        self._longest = max(map(len, self._phrases), default=0)
        self._held = ""

    def feed(self, text: str) -> str:
        return self._drain(self._held + text, final=False)

    def flush(self) -> str:
        return self._drain(self._held, final=True)

    def _drain(self, text: str, final: bool) -> str:
        for said, shown in self._phrases.items():
            text = text.replace(said, shown)
        keep = 0
        if not final:  # the end could still become a phrase
            keep = max((n for n in range(1, min(self._longest, len(text) + 1)) if text[-n:] in self._starts), default=0)
        self._held = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep] if keep else text


def era_phrases(dynasty: str, lang: str) -> dict[str, str]:
    """The phrases to show truer for this dynasty; none in Chinese ("很多很多年以后" is true for all)."""
    if lang != "en":
        return {}
    told = how_long(dynasty)
    if told == PHRASE:
        return {}
    return {"Many hundreds of years": told[:1].upper() + told[1:], "many hundreds of years": told,
            "Hundreds of years": told[:1].upper() + told[1:], PHRASE: told}

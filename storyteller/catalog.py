"""Dynasties (with real heroes and one true, child-friendly fact each), powers and styles.

Loaded from assets/catalog.json, the same facts the project's corpus is written from, so the
UI offers what the embedded model learned; 夏, 商 and 辽, which the corpus never has, are here (not
offered in the lists) so a child who types one gets a real person of it (the slots and the story
world tell them). Users may also type values not listed here.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from storyteller.paths import ASSETS

LANGS = ("zh", "en")
AgeBand = Literal["3-5", "6-8", "9-12"]
AGE_BANDS: tuple[str, ...] = ("3-5", "6-8", "9-12")  # youngest first
DEFAULT_BAND = "6-8"


def parse_band(value: object) -> str | None:
    """"3-5", "3–5岁", "ages 9 to 12", or one age ("7") -> its band key; None if it names none."""
    if value is None or str(value).strip() == "":
        return DEFAULT_BAND
    ages = [int(n) for n in re.findall(r"\d+", str(value))[:2]]
    if len(ages) == 2:
        key = f"{ages[0]}-{ages[1]}"
        return key if key in AGE_BANDS else None
    if len(ages) == 1:
        return next((b for b in AGE_BANDS if int(b.split("-")[0]) <= ages[0] <= int(b.split("-")[1])), None)
    return None


def band_allows(fact_band: str, band: str) -> bool:
    """A fact for `fact_band` is told to that band and older ones, never to a younger child."""
    return AGE_BANDS.index(band) >= AGE_BANDS.index(fact_band)


class Hero(BaseModel):
    zh: str
    en: str
    fact_zh: str
    fact_en: str
    fact_band: AgeBand = "9-12"  # the youngest readers the fact suits; unmarked facts wait for the oldest
    # A true fact for children from 6 where the main one waits for older ones (林则徐's opium): without
    # it a young child's story told only where the hero came from, and readers marked that line as empty.
    young_zh: str | None = None
    young_en: str | None = None

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def fact(self, lang: str) -> str:
        return self.fact_en if lang == "en" else self.fact_zh

    def fact_for(self, lang: str, band: str) -> str | None:
        """The fact a child of `band` may hear: the main one, else the one for younger children (from
        6), else None (the story tells no fact)."""
        if band_allows(self.fact_band, band):
            return self.fact(lang)
        young = self.young_en if lang == "en" else self.young_zh
        return young if young and band_allows("6-8", band) else None


class Dynasty(BaseModel):
    zh: str
    en: str
    years: str
    heroes: list[Hero]
    offered: bool = True  # in the lists the UI shows; False: known when typed, but the corpus never has it
    # Other names a child may type (北宋, Eastern Han), each with the heroes of that part (zh names; none: all).
    aliases: dict[str, list[str]] = Field(default_factory=dict)

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def known_as(self, key: str) -> bool:
        """`key` (stripped, lower case) names this dynasty: '唐', 'tang', '唐朝', 'tang dynasty', an alias."""
        return key in (self.zh, self.en.lower(), self.zh + "朝", self.en.lower() + " dynasty") or any(
            key == a.lower() for a in self.aliases)

    def heroes_for(self, key: str) -> list[Hero]:
        """The heroes of the part `key` names (all of them for the dynasty's own names)."""
        names = next((h for a, h in self.aliases.items() if a.lower() == key), None)
        return [h for h in self.heroes if h.zh in names] if names else self.heroes


class Term(BaseModel):
    """A power or a style, named in both languages, and other names a child may type for it."""

    zh: str
    en: str
    aliases: list[str] = Field(default_factory=list)

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Catalog(BaseModel):
    dynasties: list[Dynasty]
    powers: list[Term]
    styles: list[Term]

    def dynasty(self, name: str) -> Dynasty | None:
        """Find a dynasty by its zh or en name (case-insensitive; '唐朝' finds '唐')."""
        key = name.strip().lower()
        return next((d for d in self.dynasties if d.known_as(key)), None)

    def hero(self, dynasty: str, name: str | None = None) -> Hero | None:
        d = self.dynasty(dynasty)
        if d is None:
            return None
        if name:
            for h in d.heroes:
                if name.strip() in (h.zh, h.en):
                    return h
            return None
        return d.heroes_for(dynasty.strip().lower())[0]

    def _term(self, terms: list[Term], name: str) -> Term | None:
        key = name.strip().lower()
        return next((t for t in terms if key in (t.zh, t.en.lower(), *(a.lower() for a in t.aliases))), None)

    def power(self, name: str) -> Term | None:
        return self._term(self.powers, name)

    def style(self, name: str) -> Term | None:
        return self._term(self.styles, name)

    def translate(self, kind: str, value: str, lang: str) -> str:
        """A preset's name in `lang`; typed values come back unchanged, and so does a part of a dynasty
        with heroes of its own (东汉, 魏), which would lose them under the dynasty's name."""
        item = {"dynasty": self.dynasty, "power": self.power, "style": self.style}[kind](value)
        if item is None or (kind == "dynasty" and item.heroes_for(value.strip().lower()) != item.heroes):
            return value.strip()
        return item.name(lang)

    def offered(self, kind: str) -> list:
        """The presets of `kind` the lists show (a dynasty the corpus never has is known, not offered)."""
        if kind == "dynasty":
            return [d for d in self.dynasties if d.offered]
        return {"power": self.powers, "style": self.styles}[kind]

    def choices(self, kind: str, lang: str) -> list[str]:
        return [i.name(lang) for i in self.offered(kind)]


# The hero of a story whose dynasty the catalog does not know (and no hero was typed): a child's
# name, since readers found "这位英雄 / our hero" all story long cold and odd.
STAND_IN_HERO = {"zh": "阿福", "en": "A-Fu"}
_HANZI = re.compile(r"[\u3400-\u9fff]")


def stand_in_fact(hero: str, dynasty: str, lang: str) -> str:
    """A true line for a hero without a catalog fact (typed, a stand-in, or a fact kept for older
    children): where they come from. A story's fact slot then never leaves "I read about you!" hanging."""
    if lang == "en":
        era = dynasty if re.search(r"(Dynasties|Kingdoms|period|age|era)$", dynasty, re.I) else f"{dynasty} dynasty"
        return f"{hero} came from the {era}, long, long ago."
    era = dynasty + "朝" if len(dynasty) == 1 else dynasty if dynasty.endswith(("朝", "代", "期")) else dynasty + "时期"
    return f"{hero}来自很久很久以前的{era}。"


def in_latin(name: str, kind: Literal["dynasty", "person"]) -> str:
    """A typed Chinese name as an English story writes it, in pinyin: 周 -> Zhou, 北魏 -> Beiwei,
    曹冲 -> Cao Chong (a person: surname, then given name). Names without hanzi come back as typed."""
    if not _HANZI.search(name):
        return name
    from pypinyin import lazy_pinyin  # only English stories with typed Chinese names need it

    syllables = [s for s in lazy_pinyin(name.strip(), errors=lambda chars: [chars]) if s.strip()]
    if kind == "person" and len(syllables) > 1:
        return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"
    return "".join(syllables).capitalize()


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return Catalog.model_validate(json.loads((ASSETS / "catalog.json").read_text(encoding="utf-8")))

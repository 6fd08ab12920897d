"""Dynasties (with real heroes and one true, child-friendly fact each), powers and styles.

Loaded from assets/catalog.json, the same facts the project's corpus is written from, so the
UI offers exactly what the embedded model learned. Users may also type values not listed here.
"""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import BaseModel

from storyteller.paths import ASSETS

LANGS = ("zh", "en")


class Hero(BaseModel):
    zh: str
    en: str
    fact_zh: str
    fact_en: str

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def fact(self, lang: str) -> str:
        return self.fact_en if lang == "en" else self.fact_zh


class Dynasty(BaseModel):
    zh: str
    en: str
    years: str
    heroes: list[Hero]

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Term(BaseModel):
    """A power or a style, named in both languages."""

    zh: str
    en: str

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Catalog(BaseModel):
    dynasties: list[Dynasty]
    powers: list[Term]
    styles: list[Term]

    def dynasty(self, name: str) -> Dynasty | None:
        """Find a dynasty by its zh or en name (case-insensitive; '唐朝' finds '唐')."""
        key = name.strip().lower()
        for d in self.dynasties:
            if key in (d.zh, d.en.lower(), d.zh + "朝", d.en.lower() + " dynasty"):
                return d
        return None

    def hero(self, dynasty: str, name: str | None = None) -> Hero | None:
        d = self.dynasty(dynasty)
        if d is None:
            return None
        if name:
            for h in d.heroes:
                if name.strip() in (h.zh, h.en):
                    return h
            return None
        return d.heroes[0]

    def _term(self, terms: list[Term], name: str) -> Term | None:
        key = name.strip().lower()
        return next((t for t in terms if key in (t.zh, t.en.lower())), None)

    def power(self, name: str) -> Term | None:
        return self._term(self.powers, name)

    def style(self, name: str) -> Term | None:
        return self._term(self.styles, name)

    def translate(self, kind: str, value: str, lang: str) -> str:
        """A preset's name in `lang`; typed values come back unchanged."""
        item = {"dynasty": self.dynasty, "power": self.power, "style": self.style}[kind](value)
        return item.name(lang) if item else value.strip()

    def choices(self, kind: str, lang: str) -> list[str]:
        items = {"dynasty": self.dynasties, "power": self.powers, "style": self.styles}[kind]
        return [i.name(lang) for i in items]


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return Catalog.model_validate(json.loads((ASSETS / "catalog.json").read_text(encoding="utf-8")))

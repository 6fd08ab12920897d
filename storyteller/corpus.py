"""The project's own story corpus (assets/corpus/*.jsonl): load it and check it.

Every story is written by the team. The check enforces the schema, lengths, kid-safety
(banned words), that the hero is a real figure of the stated dynasty (from the catalog), and
that the story names its dynasty, hero, power and Ultraman, so slot training can find them.
Run `python -m storyteller.corpus` to check the corpus and print its coverage.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from storyteller.catalog import get_catalog
from storyteller.paths import CORPUS_DIR

BANNED = {
    "zh": ["死", "血", "杀", "鬼", "恐怖", "尸", "枪", "毒", "魔鬼", "地狱", "吃人", "惨", "屠", "砍", "炸弹"],
    "en": ["die", "dies", "died", "dead", "death", "kill", "killed", "blood", "bloody", "gun", "ghost",
           "corpse", "terrifying", "horror", "poison", "hell", "murder", "bomb", "stab"],
}
LENGTH = {"zh": (250, 450), "en": (150, 300)}  # characters (zh, no whitespace) / words (en)
ULTRAMAN = {"zh": "奥特曼", "en": "Ultraman"}


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    lang: Literal["zh", "en"]
    dynasty: str
    hero: str
    hero_fact: str
    power: str
    style: str
    age_band: Literal["5-7", "8-10"]
    story: str

    def length(self) -> int:
        if self.lang == "zh":
            return len(re.sub(r"\s", "", self.story))
        return len(self.story.split())


def load(paths: list[Path] | None = None) -> list[Story]:
    paths = paths or sorted(CORPUS_DIR.glob("*.jsonl"))
    out = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    out.append(Story.model_validate_json(line))
                except ValidationError as e:
                    raise ValueError(f"{path.name}:{n}: {e}") from e
    return out


def is_heldout(story_id: str, per_mille: int = 100) -> bool:
    """A fixed split: the same story is always on the same side, however the corpus grows."""
    return int(hashlib.sha1(story_id.encode()).hexdigest(), 16) % 1000 < per_mille


def split(stories: list[Story], per_mille: int = 100) -> tuple[list, list]:
    train = [s for s in stories if not is_heldout(s.id, per_mille)]
    return train, [s for s in stories if is_heldout(s.id, per_mille)]


def problems(story: Story) -> list[str]:
    """Everything wrong with one story, as readable strings (empty when it is fine)."""
    cat, lang, text = get_catalog(), story.lang, story.story
    found = []
    d = cat.dynasty(story.dynasty)
    lo, hi = LENGTH[lang]
    if not lo <= story.length() <= hi:
        found.append(f"length {story.length()} outside {lo}-{hi}")
    if d is None:
        found.append(f"unknown dynasty {story.dynasty}")
    else:
        hero = next((h for h in d.heroes if story.hero in (h.zh, h.en)), None)
        if hero is None:
            found.append(f"{story.hero} is not a catalog hero of {story.dynasty}")
        elif story.hero_fact != hero.fact(lang):
            found.append("hero_fact differs from the catalog fact")
        if d.name(lang) not in text:
            found.append(f"dynasty name {d.name(lang)!r} not in story")
    if cat.power(story.power) is None:
        found.append(f"unknown power {story.power}")
    elif cat.power(story.power).name(lang) not in text:
        found.append(f"power name {cat.power(story.power).name(lang)!r} not in story")
    if cat.style(story.style) is None:
        found.append(f"unknown style {story.style}")
    if story.hero not in text:
        found.append("hero name not in story")
    if ULTRAMAN[lang] not in text:
        found.append(f"{ULTRAMAN[lang]} not in story")
    lowered = text.lower()
    for word in BANNED[lang]:
        hit = word in text if lang == "zh" else re.search(rf"\b{re.escape(word)}\b", lowered)
        if hit:
            found.append(f"banned word {word!r}")
    return found


def coverage(stories: list[Story]) -> dict:
    zh = [s for s in stories if s.lang == "zh"]
    return {
        "stories": Counter(s.lang for s in stories),
        "dynasties": len({s.dynasty for s in stories}),
        "powers": len({s.power for s in stories}),
        "styles": len({s.style for s in stories}),
        "pairs_zh": len({(s.dynasty, s.power) for s in zh}),
        "pairs_all": len({(s.dynasty, s.power) for s in stories}),
    }


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or None
    stories = load(paths)
    bad = 0
    ids = Counter(s.id for s in stories)
    for s in stories:
        issues = problems(s) + (["duplicate id"] if ids[s.id] > 1 else [])
        if issues:
            bad += 1
            print(f"{s.id}: {'; '.join(issues)}")
    print(json.dumps(coverage(stories), ensure_ascii=False, default=dict))
    print(f"{len(stories)} stories, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

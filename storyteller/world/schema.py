"""The story world's data shapes (assets/world/<lang>/*.json) and their checks.

Templates name their slots in braces, `{hero}`; a capitalised name (`{Hero}`) capitalises the
value. Slots are filled by plain substitution, never `str.format`, so a template cannot carry a
format spec. The checks run at load: an unknown slot or a monster without a fix is a load error,
so a composed story can never show a raw `{slot}`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storyteller.paths import ASSETS

WORLD_DIR = ASSETS / "world"
SLOT_RE = re.compile(r"\{([A-Za-z_]+)\}")
# Slots every template may use; a beat may use only these.
COMMON = {"dynasty", "era", "hero", "power", "fact", "place", "thing", "kid", "monster", "activity", "prop",
          "ta", "he", "his", "him"}
GENERIC = "*"  # the entry for a typed power or hero
# Written beats; monster and power pieces go in between (see compose.py for the order).
BEATS = ("home", "trip", "today", "named", "ultraman", "fact", "idea", "success", "ending")


class WorldError(ValueError):
    """The world's files are malformed; the message says which file and template."""


class Variant(BaseModel):
    """One written variant of a beat; `styles` (zh style names) limits it to those styles."""

    model_config = ConfigDict(extra="forbid")
    text: str
    styles: list[str] = Field(default_factory=list)


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str  # "城市公园" / "the city park"
    indoors: bool = False  # under a roof: a hero who grows cannot grow mountain-tall here
    things: list[str] = Field(min_length=1)  # what is there to be messed up: "滑梯和秋千"
    arrive: list[str] = Field(min_length=1)  # what the hero sees on arrival


class Freed(BaseModel):
    """Readers marked Ultraman stuck in the goo and never freed: `text` is told after the climax
    when the story told `when` (words of the monster's `ultraman` line that leave him stuck)."""

    model_config = ConfigDict(extra="forbid")
    when: str
    text: str


class Monster(BaseModel):
    """One monster: its mischief and the fix of *that* mischief travel together."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    looks: list[str] = Field(min_length=1)  # how it appears
    mischief: list[str] = Field(min_length=1)  # what it does at {place} to {thing}
    ultraman: list[str] = Field(min_length=1)  # why Ultraman cannot fix it alone
    fixed: list[str] = Field(min_length=1)  # the mischief undone, after the power was used
    need: list[str] = Field(min_length=1)  # why it did it (it only wanted ...)
    calm: list[str] = Field(min_length=1)  # what it does now, as a friend
    # Ultraman let go once the power has stopped the trick, where its `ultraman` line left him stuck
    freed: list[Freed] = Field(default_factory=list)


class Power(BaseModel):
    model_config = ConfigDict(extra="forbid")
    found: list[str] = Field(min_length=1)  # discovering the power
    fail: list[str] = Field(min_length=1)  # a try that does not work yet
    solve: list[str] = Field(min_length=1)  # the power used on {monster}
    # "*" only: the first sentence of a solve (or a fail), which never says what a typed power does,
    # -> the sentence with {show} (or {fail}), a typed power's line below, in its place (story_climax.py)
    instead: dict[str, str] = Field(default_factory=dict)


class TypedPower(BaseModel):
    """A power a child may type that no catalog has: what it looks like when the hero uses it."""

    model_config = ConfigDict(extra="forbid")
    names: list[str] = Field(min_length=1)  # how a child may type it: "读心术", "reading minds"
    # the hero first finds it, shown where the model wrote a generic finding ("轻轻一试，真的做到了！")
    found: list[str] = Field(default_factory=list)
    show: list[str] = Field(min_length=1)  # a verb phrase with no subject: "吐出一个暖暖的小火圈，…。"
    fail: list[str] = Field(default_factory=list)  # a try that fits the power and does not work yet
    # monster id -> `show` lines for that monster's own mischief (readers: "the glowing moon does not
    # explain why the sneezing stops"); a monster without any gets the lines above
    monsters: dict[str, list[str]] = Field(default_factory=dict)


class Hero(BaseModel):
    model_config = ConfigDict(extra="forbid")
    activity: list[str] = Field(min_length=1)  # "正在月下写诗" / "was writing a poem under the moon"
    prop: list[str] = Field(min_length=1)  # a thing of theirs that can glow and carry them: "毛笔"
    pronoun: str = "he"  # "he" or "she"
    # courage from the hero's own feat, said right after their fact: "{hero}想：“当年我连洪水都引进了大海…”"
    heart: list[str] = Field(default_factory=list)


class World(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lang: str
    kids: list[str] = Field(min_length=1)
    places: list[Place] = Field(min_length=1)
    monsters: list[Monster] = Field(min_length=1)
    powers: dict[str, Power]  # by zh power name, plus "*" for typed powers
    typed: dict[str, TypedPower] = Field(default_factory=dict)  # powers a child may type, shown at the climax
    # monster id -> catalog power (zh name) -> the climax: that power used on that monster's own mischief
    climax: dict[str, dict[str, str]] = Field(default_factory=dict)
    heroes: dict[str, Hero]  # by the hero's name in this language
    beats: dict[str, list[Variant]]
    # a line the shipped model learnt -> how it is said now (the slot filler shows the new one)
    rewritten: dict[str, str] = Field(default_factory=dict)


def fill(template: str, values: dict[str, str]) -> str:
    """Plain slot substitution; `{Hero}` capitalises. Unknown slots were refused at load."""
    def sub(m):
        name = m.group(1)
        value = values.get(name.lower(), "")
        return value[:1].upper() + value[1:] if name[:1].isupper() else value
    return SLOT_RE.sub(sub, template)

def templates(world: World):
    """Every template of the world, with where it is, for the checks."""
    for p in world.places:
        for t in p.arrive:
            yield f"places.{p.id}.arrive", t
    for m in world.monsters:
        for part in ("looks", "mischief", "ultraman", "fixed", "need", "calm"):
            for t in getattr(m, part):
                yield f"monsters.{m.id}.{part}", t
        for f in m.freed:
            yield f"monsters.{m.id}.freed", f.text
    for name, p in world.powers.items():
        for part in ("found", "fail", "solve"):
            for t in getattr(p, part):
                yield f"powers.{name}.{part}", t
        for say, instead in p.instead.items():
            yield f"powers.{name}.instead", say
            yield f"powers.{name}.instead", instead
    for name, t in world.typed.items():
        for part in ("show", "fail"):
            for line in getattr(t, part):
                yield f"typed.{name}.{part}", line
        for monster, lines in t.monsters.items():
            for line in lines:
                yield f"typed.{name}.monsters.{monster}", line
    for monster, lines in world.climax.items():
        for power, t in lines.items():
            yield f"climax.{monster}.{power}", t
    for name, h in world.heroes.items():
        for t in h.activity + h.prop + h.heart:
            yield f"heroes.{name}", t
    for beat, variants in world.beats.items():
        for v in variants:
            yield f"beats.{beat}", v.text
    for said, now in world.rewritten.items():
        yield "rewritten", said
        yield "rewritten", now


def check(world: World) -> list[str]:
    """Readable problems: unknown slots, missing beats, unbalanced braces, no generic power."""
    found = []
    for where, text in templates(world):
        for slot in SLOT_RE.findall(text):
            if slot.lower() not in COMMON and not (slot in ("show", "fail") and where.endswith(".instead")):
                found.append(f"{where}: unknown slot {{{slot}}} in {text!r}")
        if SLOT_RE.sub("", text).count("{") or SLOT_RE.sub("", text).count("}"):
            found.append(f"{where}: stray brace in {text!r}")
    for beat in BEATS:
        if not world.beats.get(beat):
            found.append(f"beats.{beat}: missing")
    for beat in world.beats:
        if beat not in BEATS:
            found.append(f"beats.{beat}: not a beat (beats are {', '.join(BEATS)})")
    if GENERIC not in world.powers:
        found.append('powers: no generic "*" entry for typed powers')
    found += _check_instead(world)
    found += _check_climax(world)
    for name, h in world.heroes.items():
        if h.pronoun not in ("he", "she"):
            found.append(f"heroes.{name}: pronoun must be he or she")
    return found


def _check_instead(world: World) -> list[str]:
    """Every generic solve's and fail's first sentence has its `instead`, which puts a typed power's
    line ({show} or {fail}) in once; and a typed power's line starts with no subject and ends a sentence."""
    found, generic = [], world.powers.get(GENERIC)
    if generic is None:
        return found
    firsts = {part: {first_sentence(t) for t in getattr(generic, part)} for part in ("solve", "fail")}
    for say, instead in generic.instead.items():
        part = next((p for p, f in firsts.items() if say in f), None)
        if part is None:
            found.append(f"powers.*.instead: {say!r} is no generic solve's or fail's first sentence")
        else:
            slot, other = ("{show}", "{fail}") if part == "solve" else ("{fail}", "{show}")
            if instead.count(slot) != 1 or other in instead:
                found.append(f"powers.*.instead: {instead!r} must have {slot} once (a {part})")
    if world.typed and (missing := (firsts["solve"] | firsts["fail"]) - set(generic.instead)):
        found.append(f"powers.*.instead: no instead for {sorted(missing)}")
    ids = {m.id for m in world.monsters}
    for name, t in world.typed.items():
        for line in t.show + t.fail + [x for lines in t.monsters.values() for x in lines]:
            if line[-1:] not in ".。" or line[:1] in "{他她" or line[:1].isupper():
                found.append(f"typed.{name}: {line!r} must start with no subject and end a sentence")
        for monster in set(t.monsters) - ids:
            found.append(f"typed.{name}.monsters.{monster}: no such monster")
    return found


def _check_climax(world: World) -> list[str]:
    """Climax lines name known monsters and catalog powers, and once there are any, every monster has
    one for every catalog power (a story never falls back to a fix that does not follow)."""
    if not world.climax:
        return []
    found, ids = [], {m.id for m in world.monsters}
    powers = {p for p in world.powers if p != GENERIC}
    for monster, lines in world.climax.items():
        if monster not in ids:
            found.append(f"climax.{monster}: no such monster")
        for power in set(lines) - powers:
            found.append(f"climax.{monster}.{power}: no such catalog power")
    for monster in sorted(ids):
        if missing := powers - set(world.climax.get(monster, {})):
            found.append(f"climax.{monster}: no climax for {sorted(missing)}")
    return found


def first_sentence(text: str) -> str:
    """The template up to its first sentence end (with a closing quotation mark after it)."""
    m = re.search(r"[。！？!?.][”’\"」』]?", text)
    return text[: m.end()] if m else text


def _read(folder: Path) -> dict:
    merged: dict = {}
    for path in sorted(folder.glob("*.json")):
        try:
            part = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise WorldError(f"{path.name}: not valid JSON ({e})") from e
        for key, value in part.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, list) and isinstance(merged.setdefault(key, {}).get(k), list):
                        merged[key][k].extend(v)
                    else:
                        merged.setdefault(key, {})[k] = v
            else:
                merged[key] = value
    return merged


def load_world(lang: str, folder: Path | None = None, strict: bool = True) -> World:
    """The world for `lang`, checked. Files in the folder are merged (lists are concatenated)."""
    folder = folder or WORLD_DIR / lang
    if not folder.is_dir():
        raise WorldError(f"no story world for {lang!r} (expected {folder})")
    try:
        world = World.model_validate({"lang": lang} | _read(folder))
    except ValidationError as e:
        raise WorldError(f"{folder}: {e}") from e
    problems = check(world)
    if strict and problems:
        raise WorldError(f"{folder}: {len(problems)} problem(s): " + "; ".join(problems[:10]))
    return world


@lru_cache(maxsize=4)
def cached_world(lang: str) -> World:
    return load_world(lang)

"""Compose whole stories from the story world, seeded, so that every story stays true.

One monster and one place per story; the beats in the team's order (home in the dynasty → magic
trip → a place today → the power found → the monster's mischief → Ultraman → tries → the hero's
fact → the solution, using the power → the mischief undone → why the monster did it → a warm
ending); the mischief and its fix always come from the same monster; the number of failed tries
follows the style (a hard-won story fails twice, a light-hearted one rarely).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from storyteller.catalog import STAND_IN_HERO, get_catalog, in_latin
from storyteller.world.seen import hide_again, reveal
from storyteller.world.schema import BEATS, GENERIC, Variant, World, cached_world, fill, templates

FAILS = {"艰难": (2, 2), "努力": (1, 2), "冒险": (0, 1), "轻松": (0, 1), "幽默": (0, 1), "温馨": (0, 1)}
# Sentences that name the power before the story shows it (the power-token recipe, see model/build.py).
ANNOUNCE = {"zh": ["{hero}还不知道，自己马上就要有{power}的本领了。", "一件神奇的事发生了：{hero}有了{power}的本领！"],
            "en": ["{Hero} did not know it yet, but {he} was about to discover the power of {power}.",
                   "Something magical happened: {hero} had the power of {power}!"]}
# Who the child who helps is, said where the hero arrives, when a later beat would name the child first:
# blind readers marked down "Sam pointed and shouted" from a child the story never introduced.
INTRO = {"zh": ["一个叫{kid}的小朋友正好也在这里，好奇地看着{hero}。", "旁边有个小朋友叫{kid}，眼睛瞪得圆圆的。"],
         "en": ["A child called {kid} was there too, looking at {hero} with wide eyes.",
                "A child named {kid} stopped and stared at {hero} with big eyes."]}
INTRODUCED = {"zh": ("叫{kid}",), "en": ("called {kid}", "named {kid}")}
STYLE_WEIGHT = 3  # a variant written for this style is this much likelier than a general one


@dataclass(frozen=True)
class Cast:
    """What one story is about: values in the story's language (style as its zh name)."""

    dynasty: str
    hero: str
    power: str  # zh name of a catalog power, or a typed power in the story's language
    style: str
    fact: str | None = None
    hero_key: str | None = None  # the hero's entry in the world (None: the generic one)


def era(dynasty: str, lang: str) -> str:
    """How a story names the time: 唐朝, 三国时期, 南北朝; the Tang dynasty, the Three Kingdoms period."""
    if lang == "zh":
        if dynasty.endswith("朝"):
            return dynasty
        return dynasty + ("朝" if len(dynasty) == 1 else "时期")
    if "Kingdoms" in dynasty or "Dynasties" in dynasty:
        return f"the {dynasty} period"
    return f"the {dynasty} dynasty"


# A hero who grows "as tall as a mountain" in a bakery: readers marked it. Under a roof, they grow to the ceiling.
_GIANT = {"zh": (re.compile(r"(?:长|变)得(?:像|比)[^，。“”]{1,4}?(?:那么|一样|还)?(?:高|大)(?=，)"), "变得高高大大的，头都快碰到天花板了"),
          "en": (re.compile(r"grew as (?:tall|big) as an? [a-z]+(?=,| and)"), "grew so tall that {his} head almost touched the ceiling")}


def climax_line(world: World, monster_id: str, power: str, place: str) -> str | None:
    """The world's climax template for `power` (zh name) on that monster's mischief, fitted to the
    place (a giant indoors reaches the ceiling, not the clouds); None where the world has none."""
    own = world.climax.get(monster_id, {}).get(power)
    spot = next((p for p in world.places if p.name == place), None)
    if own and spot is not None and spot.indoors and world.lang in _GIANT:
        giant, roof = _GIANT[world.lang]
        own = giant.sub(roof, own).replace("ceiling and ", "ceiling, and ")
    return own


FRANTIC = {"幽默"}  # styles whose idea lines are frantic: a calm memory before them reads as two heroes


def recollections(world: World, values: dict[str, str]) -> list[str]:
    """How a fact beat starts when the hero recalls the fact themself ("李白想起了从前。"), as told: the
    hero's own heart line after one of these said the memory twice (readers of r34 refused those)."""
    out = []
    for v in world.beats.get("fact", []):
        before = v.text.split("{fact}")[0]
        if "{hero}" in before.lower() and not any(q in before for q in "“\"「"):
            out.append(fill(before, values).strip())
    return [r for r in out if r]


class _Teller:
    def __init__(self, world: World, cast: Cast, rng: random.Random, announce: bool = False,
                 tokens: dict[str, str] | None = None):
        self.world, self.cast, self.rng, self.announce = world, cast, rng, announce
        lang = world.lang
        hero = world.heroes.get(cast.hero_key or "") or world.heroes[GENERIC]
        place = rng.choice(world.places)
        self.monster = rng.choice(world.monsters)
        self.power = world.powers.get(cast.power) or world.powers[GENERIC]
        power_name = get_catalog().translate("power", cast.power, lang)
        she = hero.pronoun == "she"
        self.values = {
            "dynasty": cast.dynasty, "era": era(cast.dynasty, lang), "hero": cast.hero, "power": power_name,
            "fact": cast.fact or "", "place": place.name, "thing": rng.choice(place.things),
            "kid": rng.choice(world.kids), "monster": self.monster.name, "activity": rng.choice(hero.activity),
            "prop": rng.choice(hero.prop), "ta": "她" if she else "他", "he": "she" if she else "he",
            "his": "her" if she else "his", "him": "her" if she else "him",
        }
        self.place = place
        self.picks = dict(self.values)  # what the story is about, before any slot replaces it
        self.values |= tokens or {}

    def pick(self, options: list[str] | list[Variant]) -> str:
        if options and isinstance(options[0], Variant):
            style = self.cast.style
            fit = [v for v in options if not v.styles or style in v.styles]
            weights = [STYLE_WEIGHT if v.styles else 1 for v in fit]
            text = self.rng.choices(fit, weights)[0].text if fit else self.rng.choice(options).text
        else:
            text = self.rng.choice(options)
        return fill(text, self.values)

    def found(self, found: list[str]) -> list[str]:
        """Discovering the power, said by name: a story must name the power it was asked for. With
        `announce`, a sentence first names the power to come, so what shows it follows the name."""
        name = self.values["power"].lower()
        text = self.pick([f for f in found if name in fill(f, self.values).lower()] or found)
        lead = [fill(self.rng.choice(ANNOUNCE[self.world.lang]), self.values)] if self.announce else []
        return lead + ([text] if name in text.lower() else [text, self.beat("named")])

    def solve(self, told: str) -> str:
        """The climax: the world's line for this power on this monster's own mischief where it has one
        (the generic solve is still drawn, so a seed tells the rest of the story as before); an
        invisible hero who was seen again hides first."""
        generic = self.pick(self.power.solve)
        own = climax_line(self.world, self.monster.id, self.cast.power, self.place.name)
        if own and self.cast.power == "隐形":
            return hide_again(own, self.world.lang, self.values, told)
        return fill(own, self.values) if own else generic

    def heart(self, fact: str) -> str:
        """After the fact, the hero takes heart from that very feat (story_idea.py), so the fact leads
        somewhere. Picked apart from the story's draws, so a seed tells the rest as before, and from
        what the story is about rather than how it is written, so the slot form picks the same line."""
        own = self.world.heroes.get(self.cast.hero_key or "")
        if not fact or own is None or not own.heart or self.cast.style in FRANTIC or any(
                r in fact for r in recollections(self.world, self.values)):
            return ""
        return fill(random.Random((self.cast.fact or "") + self.picks["kid"] + self.picks["monster"]).choice(own.heart), self.values)

    def beat(self, name: str) -> str:
        return self.pick(self.world.beats[name])

    def introduce(self, paragraphs: list[list[str]]) -> None:
        """The child who helps is introduced where the hero arrives (paragraph 2), unless the story
        names the child there already or introduces them by name where they first appear."""
        lang, kid = self.world.lang, self.values["kid"]
        text = "\n".join(" ".join(par) for par in paragraphs)
        at = text.find(kid)
        arrival = " ".join(paragraphs[1])
        if at < 0 or kid in arrival or any(text[:at + len(kid)].endswith(fill(m, {"kid": kid})) for m in INTRODUCED[lang]):
            return
        paragraphs[1].append(fill(self.rng.choice(INTRO[lang]), self.values))

    def story(self) -> str:
        m, p, rng = self.monster, self.power, self.rng
        lo, hi = FAILS.get(self.cast.style, (0, 1))
        fails = rng.sample(p.fail, min(len(p.fail), rng.randint(lo, hi)))
        paragraphs = [
            [self.beat("home")],
            [self.beat("trip"), self.pick(self.place.arrive), self.beat("today") if rng.random() < 0.5 else ""],
            self.found(p.found),
            [self.pick(m.looks), self.pick(m.mischief)],
            [self.beat("ultraman"), self.pick(m.ultraman), *(fill(f, self.values) for f in fails)],
        ]
        told = " ".join(" ".join(par) for par in paragraphs)
        fact = self.beat("fact") if self.cast.fact else ""
        idea = [reveal(fact, self.world.lang, self.values | {"power": self.cast.power}, told), self.heart(fact),
                self.beat("idea")]
        paragraphs += [
            idea,
            [self.solve(told + " ".join(idea)), *(fill(f.text, self.values) for f in m.freed if f.when in told),
             self.beat("success"), self.pick(m.fixed)],
            [self.pick(m.need), self.pick(m.calm), self.beat("ending")],
        ]
        self.introduce(paragraphs)
        sep = "" if self.world.lang == "zh" else " "
        return "\n".join(sep.join(x.strip() for x in par if x.strip()) for par in paragraphs if any(par))


def compose(world: World, cast: Cast, seed: int, announce: bool = False) -> str:
    """One whole story for `cast`; the same seed gives the same story."""
    return _Teller(world, cast, random.Random(seed), announce).story()


def compose_with(world: World, cast: Cast, seed: int, announce: bool = False,
                 tokens: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """(story, picks): the story with `tokens` written in place of those values (slot tokens, for a
    model that fills them itself), and the values the story was composed with (monster, place …).
    The same seed picks the same values and passages as `compose`."""
    teller = _Teller(world, cast, random.Random(seed), announce, tokens)
    return teller.story(), teller.picks


def casts(lang: str, rng: random.Random) -> Iterator[Cast]:
    """Catalog dynasty, hero, power and style, every combination in turn, shuffled per round."""
    cat = get_catalog()
    combos = [(d, h, p, s) for d in cat.dynasties for h in d.heroes for p in cat.powers for s in cat.styles]
    while True:
        rng.shuffle(combos)
        for d, h, p, s in combos:
            yield Cast(d.name(lang), h.name(lang), p.zh, s.zh, h.fact(lang), h.name(lang))


def compose_many(world: World, n: int, seed: int = 0, typed_share: float = 0.0,
                 announce: bool = False) -> Iterator[tuple[Cast, str]]:
    """`n` stories over the whole catalog; deterministic for a seed. A `typed_share` of them get a
    made-up power (told with the generic "*" passages), as a child may type one."""
    for cast, story, _ in compose_many_with(world, n, seed, typed_share, announce):
        yield cast, story


def compose_many_with(world: World, n: int, seed: int = 0, typed_share: float = 0.0, announce: bool = False,
                      tokens: dict[str, str] | None = None,
                      typed_dynasty_share: float = 0.0) -> Iterator[tuple[Cast, str, dict[str, str]]]:
    """`compose_many` with `tokens` written in place of those values, and each story's picks. A
    `typed_dynasty_share` of them are told as the app tells a dynasty the catalog does not know."""
    rng = random.Random(seed)
    for i, cast in zip(range(n), casts(world.lang, rng)):
        if typed_share and rng.random() < typed_share:
            cast = replace(cast, power=made_up_power(rng, world))
        if typed_dynasty_share and rng.random() < typed_dynasty_share:
            cast = typed_dynasty(cast, rng, world)
        yield cast, *compose_with(world, cast, seed * 1_000_003 + i, announce, tokens)


def typed_dynasty(cast: Cast, rng: random.Random, world: World) -> Cast:
    """`cast` moved to a made-up dynasty, with the app's stand-in hero, the generic hero passages and
    no fact beat. Blind readers found the stand-in hero of a typed dynasty (周, 魏) telling a catalog
    hero's life (the Silk Road): the model had only ever seen made-up dynasties in headers over
    catalog heroes' stories."""
    return replace(cast, dynasty=made_up_dynasty(rng, world), hero=STAND_IN_HERO[world.lang], fact=None,
                   hero_key=None)


def made_up_dynasty(rng: random.Random, world: World) -> str:
    """One or two common hanzi (in pinyin for English) that no catalog dynasty has and that the
    world's text never writes where a dynasty would stand (X朝, X代, XY; the word in English), so
    turning the dynasty into its slot cannot touch any other word."""
    cat = get_catalog()
    known = {d.name(lang) for d in cat.dynasties for lang in ("zh", "en")}
    chars, text = _hanzi(cached_world("zh")), _world_text(world)
    while True:
        name = "".join(rng.choice(chars) for _ in range(rng.choice((1, 1, 2))))
        if world.lang == "en":
            name = in_latin(name, "dynasty")
            clash = re.search(rf"\b{name}\b", text, re.I) is not None
        elif len(name) == 1:
            clash = name + "朝" in text or name + "代" in text
        else:
            clash = name in text
        if name not in known and not clash:
            return name


def made_up_power(rng: random.Random, world: World) -> str:
    """A power no catalog has: a few of the world's own hanzi (so no new characters enter the
    vocabulary), or a made-up English word."""
    if world.lang == "en":
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 9)))
    return "".join(rng.choice(_hanzi(world)) for _ in range(rng.randint(2, 4)))


def _world_text(world: World) -> str:
    return "\n".join(text for _, text in templates(world)) + "\n".join(world.kids)


def _hanzi(world: World) -> str:
    chars = sorted({c for m in world.monsters for c in m.name} | {c for p in world.places for c in p.name})
    return "".join(c for c in chars if "\u4e00" <= c <= "\u9fff")

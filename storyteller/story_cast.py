"""A story's cast beyond the request: the monster, the place today, the thing it messes up, the child
who helps, the hero's prop and the hero's pronoun.

Blind readers of the power-token model found these drifting inside one story: the monster renamed
halfway, the gourd that carried the hero home turned into a ball of yarn, a new child's name in every
paragraph, a male hero called 她. A model built with cast slots writes them as slot tokens, like the
hero's name, and `SlotFiller` puts in the one value picked for the story; the monster and the place
also go into the header as words, so the model tells *that* monster's mischief at *that* place.

The pick is seeded (a telling's seed gives the same cast), and a story being continued keeps the
cast its text already names.
"""

from __future__ import annotations

import random
from typing import Any

from storyteller.prompts import StoryRequest
from storyteller.world.schema import GENERIC, cached_world

MONSTER, PLACE, THING, KID, PROP = "<|monster|>", "<|place|>", "<|thing|>", "<|kid|>", "<|prop|>"
TA, HE, HIS, HIM = "<|ta|>", "<|he|>", "<|his|>", "<|him|>"  # the hero's pronoun: 他/她; he, his, him
CAST_SLOTS = {MONSTER: "monster", PLACE: "place", THING: "thing", KID: "kid", PROP: "prop",
              TA: "ta", HE: "he", HIS: "his", HIM: "him"}
IN_HEADER = ("monster", "place")  # also written as words in the header: the story depends on which


def has_cast(tokenizer: Any) -> bool:
    """True for a model built with cast slots (its tokenizer knows the monster slot)."""
    added = tokenizer.get_added_vocab() if hasattr(tokenizer, "get_added_vocab") else {}
    return MONSTER in added


def pronouns(she: bool) -> dict[str, str]:
    return {"ta": "她" if she else "他", "he": "she" if she else "he", "his": "her" if she else "his",
            "him": "her" if she else "him"}


def pick_cast(req: StoryRequest, seed: int | None = None, text: str = "") -> dict[str, str]:
    """The cast of one telling, from the story world of the request's language. What `text` (a story
    being continued) already names is kept; the rest is drawn with `seed` (None: at random)."""
    world = cached_world(req.lang)
    rng = random.Random(seed)

    def choose(options: list, name=lambda o: o):
        named = [o for o in options if name(o) and name(o) in text]
        return rng.choice(named or options)

    hero = world.heroes.get(req.resolved_hero() or "") or world.heroes[GENERIC]
    monster = choose(world.monsters, lambda m: m.name)
    place = choose(world.places, lambda p: p.name)
    return {"monster": monster.name, "place": place.name, "thing": choose(place.things), "kid": choose(world.kids),
            "prop": choose(hero.prop)} | pronouns(hero.pronoun == "she")


def slot_form(values: dict[str, str]) -> dict[str, str]:
    """The composer's values with the cast slots in place of the cast (a composed story in the
    form a cast model learns from). `values` are the composer's, keyed like CAST_SLOTS."""
    return values | {name: token for token, name in CAST_SLOTS.items()}

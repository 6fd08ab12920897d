"""The story's first two paragraphs, written from the story world: the hero at home in the dynasty,
doing what that hero does, and the magic trip to the telling's place today. The model tells the rest.

The trip is the world's too: readers of r42 refused a story whose trip the model garbled ("a warm
wind blew through time, through time, Twirlywhirl There was held on a giant asked"), and the model
only ever retold the world's trip lines there. Blind readers found heroes the model never learnt
(孔子, 曹冲, a typed hero) borrowing another hero's pastime in the first line ("孔子正在给一只小老虎看病",
孙思邈's). The world knows each catalog hero's own pastimes (and plain ones for anyone else), and the
first paragraph is written from the same
`home` passages the model learnt its openings from, so what follows reads on from it.
"""

from __future__ import annotations

import random

from storyteller.catalog import get_catalog
from storyteller.prompts import StoryRequest
from storyteller.story_cast import CAST_SLOTS, pronouns
from storyteller.story_era import Rephrase, era_phrases
from storyteller.story_format import slot_values, story_in_slots
from storyteller.world.compose import STYLE_WEIGHT, era, fill
from storyteller.world.schema import GENERIC, cached_world
from storyteller.world.seen import invisible


TODAY = 0.3  # how often the trip adds a wonder of today (a pocket that sings): ten tellings of one request
# shared it too often when the world told it as half of the stories the model learnt from did

# Arrivals in which someone sees the hero (takes a picture, hands them a drink, splashes back). Readers
# of r39 and r41 marked them before invisibility ("photographed, then invisible", "the baker waves at
# him, then nobody can see him").
SEES_HERO = {"zh": ("的样子就被装了进去", "递给{hero}"),
             "en": ("picture of {hero}", "splashed back", "smiled and let {him}", "told {him}", "waved a claw at {him}")}


def opening(req: StoryRequest, cast: dict[str, str] | None = None, seed: int | None = None) -> tuple[str, str]:
    """(text, slot form) of the first paragraphs of one telling (the same seed gives the same one):
    the words a reader sees, and the same words as the model writes them (its hero, dynasty and
    pronoun slots), for it to go on from."""
    world = cached_world(req.lang)
    rng = random.Random(f"opening-{seed}" if seed is not None else None)
    v = slot_values(req)
    hero = world.heroes.get(req.resolved_hero() or "") or world.heroes[GENERIC]
    she = (cast or {}).get("he", hero.pronoun) == "she"
    style = get_catalog().style(req.style or "")

    unseen = invisible(req.power)  # nobody sees the hero arrive who is about to find that nobody can

    def fits(text: str) -> bool:
        return not (unseen and any(s in text for s in SEES_HERO.get(req.lang, ())))

    def pick(beat: str) -> str:
        fit = [b for b in world.beats[beat] if (not b.styles or (style is not None and style.zh in b.styles))
               and fits(b.text)]
        return rng.choices(fit, [STYLE_WEIGHT if b.styles else 1 for b in fit])[0].text

    template = pick("home")
    values = {"era": era(v["dynasty"], req.lang), "hero": v["hero"], "dynasty": v["dynasty"],
              "activity": rng.choice(hero.activity)} | pronouns(she)
    place = next((p for p in world.places if p.name == (cast or {}).get("place")), None)
    if place is not None and (cast or {}).get("prop"):  # the trip, as the composed stories tell it
        sep = "" if req.lang == "zh" else " "
        trip = [pick("trip"), rng.choice([a for a in place.arrive if fits(a)] or place.arrive)]
        trip += [pick("today")] if rng.random() < TODAY else []
        template += "\n" + sep.join(trip)
        values |= {"place": place.name, "prop": cast["prop"]}
    slots = {name: token for token, name in CAST_SLOTS.items() if name in values}  # the pronouns
    told = Rephrase(era_phrases(req.dynasty, req.lang))  # "many hundreds of years ago" only where true
    return told.feed(fill(template, values)) + told.flush(), story_in_slots(req, fill(template, values | slots), cast=cast)

"""The hero's own idea line, shown in place of the general one the model wrote.

Blind readers called the hero's fact "tacked on": a child tells it, then the hero "had an idea" that
owes it nothing. The world writes, for each catalog hero, idea lines in which what the hero is known
for tells them how to go about the monster (`ideas` in assets/world/*/ideas.json). The model learnt the
general idea lines word for word, so the slot filler shows the hero's line in their place, as it shows
a climax (story_climax.py); a line written for the style is left as it is.
"""

from __future__ import annotations

from storyteller.world.compose import fill, own_idea
from storyteller.world.schema import cached_world


def hero_idea(lang: str, values: dict[str, str]) -> dict[str, str]:
    """{each general idea line as the story shows it: the hero's own line for it}; empty for a hero
    the world has no lines for (a stand-in, a typed hero)."""
    world = cached_world(lang)
    hero = values.get("hero") or ""
    if not world.ideas.get(hero):
        return {}
    return {fill(v.text, values): fill(own_idea(world, hero, v), values)
            for v in world.beats["idea"] if not v.styles}

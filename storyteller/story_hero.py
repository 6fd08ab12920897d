"""Another hero's pastime, shown as this hero's own.

The English model learnt the heroes' pastimes as words, not slots, and in about one story in ten it
ends with another hero's: Yelu Abaoji back home "drawing an arched stone bridge again" (Li Chun's),
which a reader of r43 refused. Every catalog hero's pastime is shown, wherever the story says it, as
one of this hero's (a hero the world does not know has the plain ones).
"""

from __future__ import annotations

from storyteller.world.schema import GENERIC, cached_world


def own_pastimes(lang: str, hero: str) -> dict[str, str]:
    """{another hero's pastime: one of this hero's}, for `Rephrase`."""
    world = cached_world(lang)
    mine = (world.heroes.get(hero) or world.heroes[GENERIC]).activity
    out = {}
    for name, other in world.heroes.items():
        if name == hero:
            continue
        for i, pastime in enumerate(other.activity):
            if pastime not in mine:
                out[pastime] = mine[i % len(mine)]
    return out

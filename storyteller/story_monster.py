"""Another monster's line, shown as the telling's monster's own.

The monster is a slot, so the model may write a line it learnt for a different monster with this
telling's name in it: in a blind reading (r41) two of ten English stories did, and both were refused
("a bouncing monster suddenly breathes its air back in"; Boingo "let go of its stretchy magic" on
sandcastles it never stretched). A line the model learnt that the world now says otherwise
(`rewritten`) may also be said now by one monster only, which need not be this one. Such a line is
shown as this monster's line for the same part of the story (how it looks, its mischief, why
Ultraman cannot stop it, the mess put right, why it did it, what it does now as a friend); a line
that lets Ultraman go from another monster's trap is left out.
"""

from __future__ import annotations

from functools import lru_cache

from storyteller.world.schema import Monster, World, cached_world, fill

PARTS = ("looks", "mischief", "ultraman", "fixed", "need", "calm")


def telling_monster(world: World, values: dict[str, str]) -> Monster | None:
    return next((m for m in world.monsters if m.name == values.get("monster")), None)


def owners(world: World) -> dict[str, tuple[str, str, int]]:
    """{monster template: (monster id, part, index)} for lines that one monster alone says."""
    return _owners(world.lang) if world is cached_world(world.lang) else _index(world)


@lru_cache(maxsize=4)
def _owners(lang: str) -> dict[str, tuple[str, str, int]]:
    return _index(cached_world(lang))


def _index(world: World) -> dict[str, tuple[str, str, int]]:
    seen: dict[str, set[tuple[str, str, int]]] = {}
    for m in world.monsters:
        for part in PARTS:
            for i, t in enumerate(getattr(m, part)):
                seen.setdefault(t, set()).add((m.id, part, i))
    return {t: min(who) for t, who in seen.items() if len({w[0] for w in who}) == 1}  # min: the same on every run


def as_own(world: World, me: Monster, template: str, index: dict[str, tuple[str, str, int]]) -> str:
    """`template`, or this monster's line for the same part where another monster alone says it."""
    who = index.get(template)
    if who is None or who[0] == me.id:
        return template
    mine = getattr(me, who[1])
    return mine[who[2] % len(mine)]


def own_lines(lang: str, values: dict[str, str]) -> dict[str, str]:
    """{another monster's line as the story shows it: this monster's line for that part}."""
    world = cached_world(lang)
    me = telling_monster(world, values)
    if me is None:
        return {}
    index = owners(world)
    mine = {fill(t, values) for part in PARTS for t in getattr(me, part)}
    out = {}
    for template in index:
        said = fill(template, values)
        if said not in mine:
            out[said] = fill(as_own(world, me, template, index), values)
    return out


def foreign_freed(lang: str, values: dict[str, str]) -> list[str]:
    """Other monsters' lines that free Ultraman from their own trap (the goo, the knot): left out."""
    world = cached_world(lang)
    me = telling_monster(world, values)
    if me is None:
        return []
    mine = {fill(f.text, values) for f in me.freed}
    return [s for m in world.monsters if m.id != me.id for f in m.freed
            if (s := fill(f.text, values)) not in mine]

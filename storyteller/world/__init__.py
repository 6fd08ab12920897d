"""The story world: the team's stories cut into beats, with slots, and a seeded composer.

`load_world(lang)` reads assets/world/<lang>/*.json; `compose(world, request, seed)` writes one
whole story that stays true (one monster and one place, beats in order, the mischief and its fix
from the same monster, the power used to solve it). See assets/world/README.md for the format.
"""

from storyteller.world.compose import compose, compose_many
from storyteller.world.schema import BEATS, World, WorldError, load_world

__all__ = ["BEATS", "World", "WorldError", "compose", "compose_many", "load_world"]

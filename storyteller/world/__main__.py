"""python -m storyteller.world check zh|en   |   python -m storyteller.world sample zh|en [N] [SEED]

`check` lists every problem in the world's files; `sample` prints N composed stories.
"""

import sys

from storyteller.world.compose import compose_many
from storyteller.world.schema import WorldError, check, load_world


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("check", "sample"):
        print(__doc__)
        return 2
    try:
        world = load_world(argv[1], strict=argv[0] == "sample")
    except WorldError as e:
        print(e)
        return 1
    if argv[0] == "check":
        problems = check(world)
        for p in problems:
            print(p)
        print(f"{len(world.places)} places, {len(world.monsters)} monsters, {len(world.powers)} powers, "
              f"{len(world.heroes)} heroes, {sum(len(v) for v in world.beats.values())} beat variants; "
              f"{len(problems)} problem(s)")
        return 1 if problems else 0
    n = int(argv[2]) if len(argv) > 2 else 3
    seed = int(argv[3]) if len(argv) > 3 else 0
    for cast, story in compose_many(world, n, seed):
        print(f"# {cast.dynasty} · {cast.hero} · {cast.power} · {cast.style}\n{story}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

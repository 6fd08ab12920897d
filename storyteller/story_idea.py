"""What the hero's fact does for the story: it gives the hero heart, and they turn to their power.

Blind readers marked the fact a child recites ("我在书上读过！李白被称为‘诗仙’…") followed by "我知道该怎么
做了！": the fact seems to give the plan, and the plan then owes it nothing. Lines that let the craft
suggest the plan read looser still (the climax uses the power, not the craft). So a general idea line
the model wrote is shown as its counterpart here: the same gesture, with the fact giving courage and
the plan being the power the climax then uses. Where the world has the hero's own `heart` lines, the
courage comes from that very feat ("当年我连洪水都引进了大海…"), so the fact just told leads somewhere.
A line written for the style, and any line for a typed power (which no line here can name well), keeps
the model's words, after the hero's own line where there is one.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from storyteller.catalog import get_catalog

# general idea line of the world (assets/world/*/story.json, beat "idea", no style) ->
# (its counterpart, what follows the hero's own heart line in its place)
HEART = {
    "zh": {
        "{hero}托着下巴想了想，忽然眼睛一亮：“有办法了！”": (
            "{hero}心里一下子有了勇气。{ta}托着下巴想了想，忽然眼睛一亮：“有办法了！我知道怎么用{power}的本领了！”",
            "{ta}托着下巴想了想，忽然眼睛一亮：“有办法了！我知道怎么用{power}的本领了！”"),
        "{hero}看了看{monster}，又看了看自己，心里有了一个主意。": (
            "{hero}挺起了胸膛。{ta}看了看{monster}，又看了看自己，想好了怎么用{power}的本领。",
            "{ta}看了看{monster}，又看了看自己，想好了怎么用{power}的本领。"),
        "“我知道该怎么做了！”{hero}对奥特曼眨了眨眼睛。": (
            "“我知道该怎么做了！”{hero}一下子有了勇气，对奥特曼眨了眨眼睛，“看我怎么用{power}的本领！”",
            "“我知道该怎么做了！”{ta}对奥特曼眨了眨眼睛，“看我怎么用{power}的本领！”"),
        "{hero}眼珠一转，想到了一个好办法。": (
            "{hero}心里有了底气，眼珠一转，想到了怎么用{power}的本领。",
            "{ta}眼珠一转，想到了怎么用{power}的本领。"),
    },
    "en": {
        '{Hero} tapped {his} chin and thought hard. Then {his} eyes lit up. "I know what to do!"': (
            '{Hero} felt brave. {He} tapped {his} chin and thought hard. Then {his} eyes lit up. '
            '"I know just how to use my power!"',
            '{He} tapped {his} chin and thought hard. Then {his} eyes lit up. "I know just how to use my power!"'),
        "{Hero} took a deep breath and looked at {monster} carefully. Slowly, a clever plan began to grow in {his} head.": (
            "That gave {hero} courage. {He} took a deep breath and looked at {monster} carefully. Slowly, a "
            "clever plan for {his} power began to grow in {his} head.",
            "{He} took a deep breath and looked at {monster} carefully. Slowly, a clever plan for {his} power "
            "began to grow in {his} head."),
        "A little smile spread across {hero}'s face. {He} had a plan.": (
            "{Hero} stood up tall, and a little smile spread across {his} face. Now {he} knew how to use {his} power.",
            "A little smile spread across {his} face. Now {he} knew how to use {his} power."),
        "{Hero} smiled. {He} had an idea.": (
            "{Hero} smiled, feeling brave. {He} had an idea for {his} power.",
            "{He} had an idea for {his} power."),
    },
}


# A style's idea line that is itself a pep talk, as it follows the hero's own heart line: r43 readers
# marked "two back-to-back self-pep lines" ("A little trouble like this won't scare me!" then "Every
# adventure needs a bold plan … And I have one!").
QUIET_AFTER_HEART = {
    "en": {
        '"Every adventure needs a bold plan," said {hero}, and {his} eyes sparkled. "And I have one!"':
            "{His} eyes sparkled. {He} had a bold plan.",
        '{Hero} was tired, but {he} stood up tall. "Trying is how we learn," {he} said. "Now I know what to do."':
            "{Hero} was tired, but {he} stood up tall. Now {he} knew what to do.",
        "{Hero}'s legs were wobbly, and {his} clothes were crumpled. But {he} did not give up. \"One more try,\" "
        "{he} whispered, \"and this time I will be clever.\"":
            "{Hero}'s legs were wobbly, and {his} clothes were crumpled. But now {he} had a clever idea.",
    },
}


def own_heart(lang: str, values: dict[str, str]) -> str | None:
    """The hero's own line of courage from their feat, picked by the telling's cast (a retold story
    keeps it); None for a hero the world has no such lines for (a typed hero, the stand-in)."""
    from storyteller.world.compose import fill
    from storyteller.world.schema import cached_world

    name = values.get("hero") or ""
    told = next((h.fact(lang) for d in get_catalog().dynasties for h in d.heroes if h.name(lang) == name), None)
    hero = cached_world(lang).heroes.get(name)
    if hero is None or not hero.heart or told is None or values.get("fact") != told:
        return None  # the lines recall the catalog's main fact: not after a fact for younger children
    rng = random.Random("|".join(f"{k}={values.get(k)}" for k in ("hero", "power", "monster", "kid", "place")))
    return fill(rng.choice(hero.heart), values)


def take_heart(lang: str, values: dict[str, str]) -> dict[str, str | Callable[[str], str]]:
    """{each idea line of the world as the story shows it: as shown here}. A general line becomes its
    counterpart for a catalog power; with the hero's own heart line, every idea line (one written for
    a style, or any line for a typed power) follows it, unless the hero has just recalled the fact
    themself (then the line is shown without it). Empty when neither applies."""
    from storyteller.world.compose import FRANTIC, era, fill, recollections
    from storyteller.world.schema import cached_world

    if lang not in HEART:
        return {}
    if values.get("dynasty") and not values.get("era"):
        values = values | {"era": era(values["dynasty"], lang)}  # as the world's lines name the time
    world = cached_world(lang)
    catalog_power = get_catalog().power(values.get("power") or "") is not None
    own, sep = own_heart(lang, values), "" if lang == "zh" else " "
    memories = recollections(world, values)

    def unless_recalled(with_own: str, without: str) -> Callable[[str], str]:
        return lambda told: without if any(m in told.rsplit("\n", 1)[-1] for m in memories) else with_own

    out: dict[str, str | Callable[[str], str]] = {}
    for v in world.beats.get("idea", []):
        said = v.text
        if v.styles and set(v.styles) <= FRANTIC:
            continue  # a calm memory before "挠挠头，把头发都挠成了鸟窝" reads as two heroes
        if catalog_power and said in HEART[lang]:
            shown, rest = HEART[lang][said]
            generic = fill(shown, values)
            out[fill(said, values)] = generic if own is None else unless_recalled(own + sep + fill(rest, values), generic)
        elif own is not None:
            after = QUIET_AFTER_HEART.get(lang, {}).get(said, said)
            out[fill(said, values)] = unless_recalled(own + sep + fill(after, values), fill(said, values))
    return out

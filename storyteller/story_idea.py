"""What the hero's fact does for the story: it gives the hero heart, and they turn to their power.

Blind readers marked the fact a child recites ("我在书上读过！李白被称为‘诗仙’…") followed by "我知道该怎么
做了！": the fact seems to give the plan, and the plan then owes it nothing. Lines that let the craft
suggest the plan read looser still (the climax uses the power, not the craft). So a general idea line
the model wrote is shown as its counterpart here: the same gesture, with the fact giving courage and
the plan being the power the climax then uses. A line written for the style is left as it is, and a
typed power, which no line here can name well, keeps the model's line.
"""

from __future__ import annotations

from storyteller.catalog import get_catalog

# general idea line of the world (assets/world/*/story.json, beat "idea", no style) -> its counterpart
HEART = {
    "zh": {
        "{hero}托着下巴想了想，忽然眼睛一亮：“有办法了！”":
            "{hero}心里一下子有了勇气。{ta}托着下巴想了想，忽然眼睛一亮：“有办法了！我知道怎么用{power}的本领了！”",
        "{hero}看了看{monster}，又看了看自己，心里有了一个主意。":
            "{hero}挺起了胸膛。{ta}看了看{monster}，又看了看自己，想好了怎么用{power}的本领。",
        "“我知道该怎么做了！”{hero}对奥特曼眨了眨眼睛。":
            "“我知道该怎么做了！”{hero}一下子有了勇气，对奥特曼眨了眨眼睛，“看我怎么用{power}的本领！”",
        "{hero}眼珠一转，想到了一个好办法。": "{hero}心里有了底气，眼珠一转，想到了怎么用{power}的本领。",
    },
    "en": {
        '{Hero} tapped {his} chin and thought hard. Then {his} eyes lit up. "I know what to do!"':
            '{Hero} felt brave. {He} tapped {his} chin and thought hard. Then {his} eyes lit up. '
            '"I know just how to use my power!"',
        "{Hero} took a deep breath and looked at {monster} carefully. Slowly, a clever plan began to grow in {his} head.":
            "That gave {hero} courage. {He} took a deep breath and looked at {monster} carefully. Slowly, a "
            "clever plan for {his} power began to grow in {his} head.",
        "A little smile spread across {hero}'s face. {He} had a plan.":
            "{Hero} stood up tall, and a little smile spread across {his} face. Now {he} knew how to use {his} power.",
        "{Hero} smiled. {He} had an idea.": "{Hero} smiled, feeling brave. {He} had an idea for {his} power.",
    },
}


def take_heart(lang: str, values: dict[str, str]) -> dict[str, str]:
    """{each general idea line as the story shows it: its counterpart}; empty for a typed power."""
    from storyteller.world.compose import fill

    power = get_catalog().power(values.get("power") or "")
    if power is None or lang not in HEART:
        return {}
    return {fill(said, values): fill(shown, values) for said, shown in HEART[lang].items()}

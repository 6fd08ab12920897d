"""Another hero's pastime is shown as this hero's own (r43: Yelu Abaoji back home "drawing an arched
stone bridge again", Li Chun's)."""

from __future__ import annotations

import random

import pytest

from storyteller.prompts import StoryRequest
from storyteller.story_cast import pick_cast
from storyteller.story_format import HERO, SlotFiller
from storyteller.story_hero import own_pastimes
from storyteller.world import load_world
from storyteller.world.schema import GENERIC


def stream(f: SlotFiller, text: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 9)
        out.append(f.feed(text[i:i + n]))
        i += n
    return "".join(out) + f.flush()


@pytest.mark.parametrize("lang, dynasty, hero, other", [("en", "Liao", "Yelu Abaoji", "Li Chun"),
                                                        ("zh", "辽", "耶律阿保机", "李春")])
def test_another_hero_s_pastime_is_shown_as_this_hero_s(lang, dynasty, hero, other):
    world = load_world(lang)
    req = StoryRequest(dynasty=dynasty, power="飞行", style="轻松", lang=lang)
    theirs, mine = world.heroes[other].activity[0], world.heroes[hero].activity
    sep = " " if lang == "en" else ""
    ending = (f"The next day, back home, {HERO} {theirs} again." if lang == "en" else f"第二天，{HERO}{theirs}。")
    for seed in range(5):
        got = stream(SlotFiller(req, pick_cast(req, seed)), "Good." + sep + ending if lang == "en" else "好。" + ending,
                     random.Random(seed))
        assert theirs not in got and any(m in got for m in mine), got
        assert hero in got


def test_every_other_catalog_hero_s_pastime_maps_to_one_of_this_hero_s_and_a_typed_hero_gets_plain_ones():
    world = load_world("en")
    mine = world.heroes["Li Bai"].activity
    shown = own_pastimes("en", "Li Bai")
    others = {a for name, h in world.heroes.items() if name != "Li Bai" for a in h.activity} - set(mine)
    assert set(shown) == others and set(shown.values()) <= set(mine)
    assert set(own_pastimes("en", "Little Ming").values()) <= set(world.heroes[GENERIC].activity)

"""A line the model learnt for another monster is shown as the telling's monster's own line for the
same part of the story. Readers of r41 refused two English stories that told Boingo, a bouncing
monster, breathing its puff of air back in and letting go of its stretchy magic."""

from __future__ import annotations

import random

import pytest

from storyteller.prompts import StoryRequest
from storyteller.story_cast import MONSTER, THING, pick_cast
from storyteller.story_format import SlotFiller, slot_values
from storyteller.story_monster import PARTS, foreign_freed, own_lines, owners
from storyteller.world import load_world
from storyteller.world.compose import era, fill


def stream(f: SlotFiller, text: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 7)
        out.append(f.feed(text[i:i + n]))
        i += n
    return "".join(out) + f.flush()


def telling(lang: str, monster_id: str, seed: int = 0):
    req = StoryRequest(dynasty="唐" if lang == "zh" else "Tang", power="隐形" if lang == "zh" else "invisibility",
                       style="轻松" if lang == "zh" else "funny", lang=lang)
    world = load_world(lang)
    me = next(m for m in world.monsters if m.id == monster_id)
    cast = pick_cast(req, seed) | {"monster": me.name}
    return req, cast, world, me, slot_values(req) | cast | {"era": era(req.dynasty, lang)}


@pytest.mark.parametrize("lang, mine, theirs", [("en", "bounce", "balloon"), ("en", "bounce", "stretch"),
                                                ("zh", "gum", "jelly"), ("zh", "popcorn", "mushroom")])
def test_another_monster_s_lines_are_shown_as_this_monster_s_own(lang, mine, theirs):
    req, cast, world, me, values = telling(lang, mine)
    other = next(m for m in world.monsters if m.id == theirs)
    sep = "" if lang == "zh" else " "
    for part in ("ultraman", "fixed", "need", "calm"):
        line = getattr(other, part)[0]
        written = fill(line, {"monster": MONSTER, "thing": THING} | {k: v for k, v in values.items()
                                                                     if k not in ("monster", "thing")})
        before = "好。" if lang == "zh" else "Good."
        got = stream(SlotFiller(req, cast), sep.join([before, written]), random.Random(len(part)))
        shown = got[len(before):].strip()
        assert shown in {fill(t, values) for t in getattr(me, part)}, (part, shown)
        assert fill(line, values) not in got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_line_one_monster_alone_says_maps_to_the_same_part_of_every_other_monster(lang):
    world = load_world(lang)
    index = owners(world)
    for me in world.monsters:
        req, cast, _, _, values = telling(lang, me.id)
        shown = own_lines(lang, values)
        own = {part: {fill(t, values) for t in getattr(me, part)} for part in PARTS}
        for template, (who, part, _) in index.items():
            said = fill(template, values)
            if who != me.id and said not in own[part]:
                assert shown[said] in own[part], (me.id, template)
        assert not set(shown) & {s for lines in own.values() for s in lines}  # its own lines stay


def test_a_line_the_model_learnt_is_said_now_by_the_telling_s_monster():
    """`rewritten` maps an old fix to how one monster says it now; another monster says its own."""
    req, cast, world, me, values = telling("en", "bounce")
    old = next(s for s, now in world.rewritten.items() if now in next(m for m in world.monsters
                                                                       if m.id == "balloon").fixed)
    got = stream(SlotFiller(req, cast), "Good. " + fill(old, values | {"monster": MONSTER, "thing": THING}),
                 random.Random(3))
    assert got[len("Good. "):] in {fill(t, values) for t in me.fixed}


def test_another_monster_letting_ultraman_go_is_left_out_and_its_own_is_not():
    req, cast, world, me, values = telling("zh", "jelly")
    other = next(m for m in world.monsters if m.freed and m.id != me.id)
    assert fill(other.freed[0].text, values) in foreign_freed("zh", values)
    assert not {fill(f.text, values) for f in me.freed} & set(foreign_freed("zh", values))
    got = stream(SlotFiller(req, cast), "好。" + fill(other.freed[0].text, values | {"monster": MONSTER}) + "奥特曼笑了。",
                 random.Random(5))
    assert got == "好。奥特曼笑了。"


def test_an_unknown_monster_keeps_every_line():
    values = slot_values(StoryRequest(dynasty="唐", power="隐形", style="轻松")) | {"monster": "没有这个怪"}
    assert own_lines("zh", values) == {} and foreign_freed("zh", values) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_another_monster_s_climax_for_the_power_is_shown_as_this_monster_s(lang):
    from storyteller.world.compose import climax_line

    req, cast, world, me, values = telling(lang, world_ids(lang)[0])
    own = fill(climax_line(world, me.id, "隐形", cast["place"]), values)
    for other in world.monsters[1:4]:
        written = fill(world.climax[other.id]["隐形"], values | {"monster": MONSTER})
        got = stream(SlotFiller(req, cast), written, random.Random(7))
        assert got.startswith(own.split("。")[0].split(".")[0]), (other.id, got)


def world_ids(lang: str) -> list[str]:
    return [m.id for m in load_world(lang).monsters]

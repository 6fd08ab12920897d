"""The hero's fact leads to the plan: a general idea line ("{hero} had an idea") is told as the hero's
own, in which what they are known for tells them how to go about it; a line written for the style stays.
Readers had called the fact "tacked on"."""

from __future__ import annotations

import random

import pytest

from storyteller.catalog import get_catalog
from storyteller.prompts import StoryRequest
from storyteller.safety import check_text
from storyteller.story_cast import MONSTER, TA, pick_cast, pronouns
from storyteller.story_format import HERO, SlotFiller, slot_values
from storyteller.story_idea import hero_idea
from storyteller.world import compose, load_world
from storyteller.world.compose import Cast, fill
from storyteller.world.schema import check

HEROES = [(d.zh, h) for d in get_catalog().dynasties for h in d.heroes]
POWERS = [(p.zh, p.en.lower()) for p in get_catalog().offered("power")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_catalog_hero_has_idea_lines_of_their_own_that_are_safe_and_name_no_power(lang):
    world = load_world(lang)
    for _, h in HEROES:
        name = h.zh if lang == "zh" else h.en
        lines = world.ideas.get(name) or []
        assert len(lines) >= 2, name
        for line in lines:
            shown = fill(line, pronouns(False) | {"hero": name, "monster": "泡泡怪" if lang == "zh" else "Blob",
                                                  "kid": "小明" if lang == "zh" else "Mia"})
            assert name in shown and "{" not in shown, shown
            assert check_text(shown, lang) is None, shown
            assert not any(p in shown.lower() for pair in POWERS for p in pair), shown
    assert len({line for lines in world.ideas.values() for line in lines}) == sum(map(len, world.ideas.values()))


def test_the_world_check_refuses_idea_lines_for_a_hero_it_does_not_have():
    world = load_world("zh")
    odd = world.model_copy(update={"ideas": world.ideas | {"无名氏": ["{hero}想到了办法。"]}})
    assert "ideas.无名氏: no such hero" in check(odd)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_composed_story_tells_the_hero_s_own_idea_and_keeps_a_line_written_for_the_style(lang):
    world = load_world(lang)
    hero = get_catalog().hero("宋", "毕昇")
    name = hero.zh if lang == "zh" else hero.en
    general = [v.text for v in world.beats["idea"] if not v.styles]
    styled = [v.text for v in world.beats["idea"] if "艰难" in v.styles]
    values = pronouns(False) | {"hero": name}
    own_told = styled_told = 0
    for seed in range(30):
        cast = Cast(dynasty="宋" if lang == "zh" else "Song", hero=name, power="冰冻", style="艰难",
                    fact="x", hero_key=name)
        story = compose(world, cast, seed)
        monster = next(m.name for m in world.monsters if m.name in story)
        vals = values | {"monster": monster}
        assert not any(fill(g, vals) in story for g in general)
        own_told += any(fill(o, vals | {"kid": k}) in story for o in world.ideas[name] for k in world.kids)
        styled_told += any(fill(s, vals | {"kid": k}) in story for s in styled for k in world.kids)
    assert own_told and styled_told and own_told + styled_told == 30


def model_form(template: str) -> str:
    return fill(template, {"hero": HERO, "ta": TA, "monster": MONSTER, "he": "he", "his": "his", "him": "him"})


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lang, dynasty", [("zh", "宋"), ("en", "Song")])
def test_the_slot_filler_shows_the_hero_s_own_idea_where_the_model_wrote_a_general_one(lang, dynasty, seed):
    rng = random.Random(seed)
    req = StoryRequest(dynasty=dynasty, power="冰冻" if lang == "zh" else "freezing",
                       style="轻松" if lang == "zh" else "light-hearted", lang=lang)
    cast = pick_cast(req, seed)
    world = load_world(lang)
    values = slot_values(req) | pronouns(False) | cast
    general = [v for v in world.beats["idea"] if not v.styles]
    line = rng.choice(general)
    sep = "" if lang == "zh" else " "
    before, after = ("好。", "奥特曼笑了。") if lang == "zh" else ("Good.", "Ultraman smiled.")
    f = SlotFiller(req, cast)
    text = sep.join([before, model_form(line.text), after])
    got, i = "", 0
    while i < len(text):
        n = rng.randint(1, 6)
        got += f.feed(text[i:i + n])
        i += n
    got += f.flush()
    own = hero_idea(lang, values)[fill(line.text, values)]
    assert own != fill(line.text, values) and values["hero"] in own
    assert got == sep.join([before, own, after])


def test_a_stand_in_hero_and_a_line_written_for_the_style_are_left_as_the_model_wrote_them():
    req = StoryRequest(dynasty="西夏", power="冰冻", style="艰难")
    values = slot_values(req) | pick_cast(req, 1)
    assert hero_idea("zh", values) == {}
    world = load_world("zh")
    shown = hero_idea("zh", pronouns(False) | {"hero": "毕昇", "monster": "泡泡怪"})
    styled = {fill(v.text, {"hero": "毕昇", "ta": "他", "monster": "泡泡怪"}) for v in world.beats["idea"] if v.styles}
    assert shown and not (set(shown) & styled)

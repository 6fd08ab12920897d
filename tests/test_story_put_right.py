"""After the climax the hero leads the putting-right the way of their own feat, Ultraman helping by
hand, and the mess is undone by everyone (or the monster), never by Ultraman's light. Blind readers of
r37 marked the hero's fact that led nowhere and the light doing the real fixing."""

from __future__ import annotations

import random

import pytest

from storyteller.catalog import STAND_IN_HERO, get_catalog
from storyteller.prompts import StoryRequest
from storyteller.safety import check_text
from storyteller.story_cast import KID, MONSTER, PLACE, THING, pick_cast, pronouns
from storyteller.story_format import HERO, SlotFiller, slot_values
from storyteller.story_idea import put_right
from storyteller.world import load_world
from storyteller.world.compose import Cast, compose_with, fill, fixes_led

CATALOG_HEROES = [h for d in get_catalog().dynasties for h in d.heroes]
ULTRAMAN = {"zh": "奥特曼", "en": "Ultraman"}
SEP = {"zh": "", "en": " "}


def by_light(line: str) -> bool:
    return "奥特曼" in line or "Ultraman" in line


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_catalog_hero_leads_the_putting_right_in_lines_that_fit_any_mess(lang):
    world = load_world(lang)
    for h in CATALOG_HEROES:
        hero = world.heroes[h.name(lang)]
        assert len(hero.craft) >= 2, h.name(lang)
        for line in hero.craft:
            shown = fill(line, pronouns(hero.pronoun == "she") | {"hero": h.name(lang), "monster": "泡泡糖怪",
                                                                  "kid": "乐乐", "place": "图书馆"})
            assert "{" not in shown and check_text(shown, lang) is None, shown
            # any monster's mess: no thing or power of one story; Ultraman helps, by hand, not by light
            assert not any(s in line for s in ("{thing}", "{power}", "{fact}")), line
            assert ULTRAMAN[lang] in line, line
            assert not any(w in line.lower() for w in ("的光", "光线", " light", "beam", "sparkle")), line


def told(lang: str, req: StoryRequest, seed: int, parts: list[str]) -> tuple[str, dict]:
    """What the slot filler shows for the model's `parts` (slot form), and the story's values."""
    cast = pick_cast(req, seed)
    tokens = pronouns(False) | {"hero": HERO, "monster": MONSTER, "thing": THING, "kid": KID, "place": PLACE}
    f, rng, out = SlotFiller(req, cast), random.Random(seed), []
    text = SEP[lang].join(fill(p, tokens) for p in parts)
    i = 0
    while i < len(text):
        n = rng.randint(1, 6)
        out.append(f.feed(text[i:i + n]))
        i += n
    return "".join(out) + f.flush(), pronouns(False) | slot_values(req) | cast


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_success_line_after_the_climax_is_the_hero_s_own_lead_and_the_light_never_fixes(lang, seed):
    world = load_world(lang)
    req = StoryRequest(dynasty="宋" if lang == "zh" else "Song", power="飞行", style="轻松", lang=lang)
    values = pronouns(False) | slot_values(req) | pick_cast(req, seed)
    monster = next(m for m in world.monsters if m.name == values["monster"])
    rng = random.Random(seed)
    success = rng.choice(world.beats["success"]).text
    fixed = next((f for f in monster.fixed if by_light(f)), monster.fixed[0])
    before = "好。" if lang == "zh" else "Good."
    got, values = told(lang, req, seed, [before, success, fixed])
    own = {fill(t, values) for t in world.heroes[values["hero"]].craft}  # 宋: 毕昇 / Bi Sheng
    led = {fill(f, values) for f in fixes_led(monster)}
    assert any(got == SEP[lang].join([before, o, f]) for o in own for f in led), got
    assert not by_light(got.split(next(o for o in own if o in got))[-1])


def test_a_hero_without_lines_of_their_own_keeps_the_model_s_words():
    req = StoryRequest(dynasty="宋", hero="小明", power="飞行", style="轻松")
    values = pronouns(False) | slot_values(req) | pick_cast(req, 2)
    assert put_right("zh", values) == {}
    success = load_world("zh").beats["success"][0].text
    got, values = told("zh", req, 2, ["好。", success])
    assert got == "好。" + fill(success, values)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_composed_story_of_a_catalog_hero_has_the_hero_s_lead_and_no_fix_by_the_light(lang):
    world, cat = load_world(lang), get_catalog()
    for seed in range(12):
        d = cat.dynasties[seed % len(cat.dynasties)]
        h = d.heroes[0]
        cast = Cast(d.name(lang), h.name(lang), "飞行", "轻松", h.fact(lang), h.name(lang))
        story, picks = compose_with(world, cast, seed)
        hero = world.heroes[h.name(lang)]
        values = pronouns(hero.pronoun == "she") | picks
        monster = next(m for m in world.monsters if m.name == picks["monster"])
        climax_on = story.split("\n")[-2]  # the climax, the hero's lead, the fix
        assert any(fill(t, values) in climax_on for t in hero.craft), climax_on
        assert not any(fill(v.text, values) in climax_on for v in world.beats["success"]), climax_on
        assert any(climax_on.endswith(fill(f, values)) for f in fixes_led(monster)), climax_on
    # a story with no fact (a dynasty the catalog does not know) keeps the success beat
    cast = Cast("周" if lang == "zh" else "Zhou", STAND_IN_HERO[lang], "飞行", "轻松", None, None)
    story, picks = compose_with(world, cast, 3)
    assert any(fill(v.text, pronouns(False) | picks) in story for v in world.beats["success"]), story


def test_an_old_line_the_model_learnt_that_now_reads_as_a_fix_by_the_light_is_shown_as_a_fix_by_everyone():
    world = load_world("zh")
    req = StoryRequest(dynasty="宋", power="飞行", style="轻松")
    for seed in range(40):
        values = pronouns(False) | slot_values(req) | pick_cast(req, seed)
        monster = next(m for m in world.monsters if m.name == values["monster"])
        old = [said for said, now in world.rewritten.items() if now in monster.fixed and by_light(now)]
        if old:
            break
    got, values = told("zh", req, seed, ["好。", world.beats["success"][0].text, old[0]])
    assert got.endswith(tuple(fill(f, values) for f in fixes_led(monster))), got
    assert "奥特曼的光" not in got

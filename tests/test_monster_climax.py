"""A catalog power's climax is that power used on the telling's own monster: the model's solve line,
which only calms or distracts the monster, is shown as the world's line for that monster and power,
however the text arrives. Readers had refused stories whose mess was undone with no cause."""

from __future__ import annotations

import random

import pytest

from storyteller.catalog import get_catalog
from storyteller.prompts import StoryRequest
from storyteller.safety import check_text
from storyteller.story_cast import MONSTER, PLACE, TA, THING, pick_cast, pronouns
from storyteller.story_climax import climax_instead, monster_climax
from storyteller.story_format import HERO, SlotFiller, slot_values
from storyteller.world import compose, load_world
from storyteller.world.compose import Cast, climax_line, era, fill
from storyteller.world.schema import GENERIC, check

POWERS = [p.zh for p in get_catalog().offered("power")]


def stream(feed, text: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 7)
        out.append(feed(text[i:i + n]))
        i += n
    return "".join(out)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_monster_has_a_safe_climax_for_every_catalog_power(lang):
    world = load_world(lang)
    assert set(world.climax) == {m.id for m in world.monsters}
    assert set(POWERS) <= {p for p in world.powers if p != GENERIC}
    for monster in world.monsters:
        lines = world.climax[monster.id]
        assert set(lines) == set(world.powers) - {GENERIC}
        for power, line in lines.items():
            for she in (False, True):
                values = pronouns(she) | {"hero": "李白" if lang == "zh" else "Li Bai", "monster": monster.name,
                                          "thing": "滑梯" if lang == "zh" else "the slides", "place": "公园",
                                          "era": era("唐", lang)}
                shown = fill(line, values)
                assert "{" not in shown and values["hero"] in shown, (monster.id, power, shown)
                assert check_text(shown, lang) is None, (monster.id, power, shown)
    assert len({line for lines in world.climax.values() for line in lines.values()}) == len(world.monsters) * 12


def test_the_world_check_refuses_a_missing_climax_an_unknown_monster_and_an_unknown_power():
    world = load_world("zh")
    first = world.monsters[0].id
    gone = world.model_copy(update={"climax": world.climax | {first: {k: v for k, v in world.climax[first].items()
                                                                     if k != "隐形"}}})
    assert any(f"climax.{first}: no climax for ['隐形']" in p for p in check(gone))
    assert any("no such monster" in p for p in check(world.model_copy(update={"climax": world.climax | {"nobody": {}}})))
    odd = world.climax | {first: world.climax[first] | {"喷火": "{hero}笑了。"}}
    assert any("no such catalog power" in p for p in check(world.model_copy(update={"climax": odd})))
    assert check(world.model_copy(update={"climax": {}})) == []  # a world without climax lines keeps the solve lines


def model_form(template: str, lang: str, dynasty: str) -> str:
    """A solve template as a cast model writes it: the cast as slot tokens, the time in words."""
    tokens = {"hero": HERO, "monster": MONSTER, "ta": TA, "thing": THING, "place": PLACE, "era": era(dynasty, lang)}
    return fill(template, tokens)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lang, dynasty", [("zh", "唐"), ("en", "Tang")])
def test_the_slot_filler_shows_the_monster_s_own_climax_where_the_model_wrote_a_solve_line(lang, dynasty, seed):
    rng = random.Random(seed)
    power = rng.choice(get_catalog().offered("power"))
    req = StoryRequest(dynasty=dynasty, power=power.name(lang), style="轻松" if lang == "zh" else "funny", lang=lang)
    cast = pick_cast(req, seed)
    world = load_world(lang)
    monster = next(m for m in world.monsters if m.name == cast["monster"])
    solve = rng.choice(world.powers[power.zh].solve)
    sep = "" if lang == "zh" else " "
    before, after = ("好。", "奥特曼笑了。") if lang == "zh" else ("Good.", "Ultraman smiled.")
    f = SlotFiller(req, cast)
    got = stream(f.feed, sep.join([before, model_form(solve, lang, dynasty), after]), rng) + f.flush()
    values = slot_values(req) | cast | {"era": era(dynasty, lang)}
    own = fill(climax_line(world, monster.id, power.zh, cast["place"]), values)
    assert got == sep.join([before, own, after])


def test_the_climax_depends_on_the_monster_and_the_power_and_a_typed_power_keeps_its_own_lines():
    world = load_world("zh")
    req = StoryRequest(dynasty="宋", power="冰冻", style="轻松")
    values = slot_values(req) | pick_cast(req, 1)
    shown = set(monster_climax("zh", values).values())
    assert len(shown) == 1
    assert {fill(t, values) for t in world.powers["冰冻"].solve} <= set(monster_climax("zh", values))
    other = next(m.name for m in world.monsters if m.name != values["monster"])
    assert set(monster_climax("zh", values | {"monster": other}).values()) != shown
    assert set(monster_climax("zh", values | {"power": "飞行"}).values()) != shown
    assert monster_climax("zh", values | {"monster": "没有这个怪"}) == {}
    typed = slot_values(StoryRequest(dynasty="宋", power="喷火", style="轻松")) | pick_cast(req, 1)
    assert monster_climax("zh", typed) == {} and climax_instead("zh", typed)  # the typed power's own lines


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_composed_story_tells_the_monster_s_own_climax(lang):
    """The world as a dataset source and a teller: its stories carry the climax that follows."""
    world = load_world(lang)
    cat = get_catalog()
    hero = cat.hero("宋", "毕昇")
    name = "毕昇" if lang == "zh" else hero.en
    for seed in range(6):
        cast = Cast(dynasty="宋" if lang == "zh" else "Song", hero=name, power="冰冻",
                    style="轻松", fact=None, hero_key=name)
        story = compose(world, cast, seed)
        monster = next(m for m in world.monsters if m.name in story)
        line = world.climax[monster.id]["冰冻"]
        head = fill(line.split("{thing}")[0].split("{place}")[0], {"hero": name, "monster": monster.name,
                                                                   "ta": "他", "he": "he", "his": "his", "him": "him",
                                                                   "era": era(cast.dynasty, lang)})
        assert head in story or head.capitalize() in story, (seed, head)


# Words that put a mess right: the climax stops the trick and the monster's "fixed" line, after
# Ultraman's, puts the mess right. Readers marked a first version that did both ("put right twice").
RESTORING = {"zh": ("恢复", "原样", "放回", "干干净净", "擦干净", "洗干净", "回到原来"),
             "en": ("clean again", "put back", "as good as new", "back in place", "restored", "back to normal")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_climax_stops_the_trick_and_leaves_putting_the_mess_right_to_the_lines_after_it(lang):
    world = load_world(lang)
    found = [(m, p, line) for m, lines in world.climax.items() for p, line in lines.items()
             if any(w in line.lower() for w in RESTORING[lang])]
    assert found == []


@pytest.mark.parametrize("lang, monster_id", [("zh", "gum"), ("en", "goo")])
def test_ultraman_stuck_in_the_monster_s_trick_is_let_go_after_the_climax_and_only_then(lang, monster_id):
    """Readers marked Ultraman's fingers stuck in the bubble gum and never freed."""
    world = load_world(lang)
    monster = next(m for m in world.monsters if m.id == monster_id)
    stuck = next(u for u in monster.ultraman if monster.freed[0].when in u)
    req = StoryRequest(dynasty="唐" if lang == "zh" else "Tang", power="冰冻" if lang == "zh" else "freezing",
                       style="轻松" if lang == "zh" else "funny", lang=lang)
    cast = pick_cast(req, 0) | {"monster": monster.name}
    values = slot_values(req) | cast | {"era": era(req.dynasty, lang)}
    solve = model_form(world.powers["冰冻"].solve[0], lang, req.dynasty)
    climax = fill(climax_line(world, monster.id, "冰冻", cast["place"]), values)
    freed = fill(monster.freed[0].text, values)
    sep = "" if lang == "zh" else " "
    for before, let_go in ((fill(stuck, {"monster": MONSTER}), True), ("好。" if lang == "zh" else "Good.", False)):
        f = SlotFiller(req, cast)
        got = stream(f.feed, sep.join([before, solve]), random.Random(1)) + f.flush()
        assert got.endswith(sep.join([climax, freed]) if let_go else climax), got
    for seed in range(60):  # a composed story lets him go where it left him stuck
        story = compose(world, Cast(dynasty=req.dynasty, hero="李白" if lang == "zh" else "Li Bai", power="冰冻",
                                    style="轻松", fact=None, hero_key="李白" if lang == "zh" else "Li Bai"), seed)
        if monster.name in story:
            assert (fill(stuck, {"monster": monster.name}) in story) == (freed in story), seed


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_what_tells_that_ultraman_is_stuck_is_said_by_that_ultraman_line_only(lang):
    world = load_world(lang)
    freed = [(m, f) for m in world.monsters for f in m.freed]
    assert freed
    for m, f in freed:
        assert any(f.when in u for u in m.ultraman), (m.id, f.when)
        others = [t for part in ("looks", "mischief", "fixed", "need", "calm") for t in getattr(m, part)]
        others += [v.text for beat in world.beats.values() for v in beat]
        assert not any(f.when in t for t in others), (m.id, f.when)

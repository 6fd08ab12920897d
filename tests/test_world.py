"""The story world: its files load clean, and composed stories stay true to their cast."""

from __future__ import annotations

import json
import re

import pytest

from storyteller.catalog import get_catalog
from storyteller.world import compose, compose_many, load_world
from storyteller.world.compose import compose_many_with
from storyteller.world.compose import Cast
from storyteller.world.schema import WorldError, check, fill, first_sentence


@pytest.fixture(scope="module", params=["zh", "en"])
def world(request):
    return load_world(request.param)


def test_shipped_worlds_have_no_problems_and_cover_the_catalog(world):
    assert check(world) == []
    cat = get_catalog()
    assert {p.zh for p in cat.powers} <= set(world.powers)
    assert {h.name(world.lang) for d in cat.dynasties for h in d.heroes} <= set(world.heroes)
    assert len(world.monsters) >= 20 and len(world.places) >= 16


def test_composed_stories_keep_one_monster_one_place_and_the_request(world):
    lang, ultraman = world.lang, {"zh": "奥特曼", "en": "Ultraman"}[world.lang]
    monsters = [m.name for m in world.monsters]
    places = [p.name for p in world.places]
    for cast, story in compose_many(world, 120, seed=5):
        assert "{" not in story and "}" not in story
        named = [m for m in monsters if m in story]
        assert len(named) == 1 or len(set(named)) == 1 or all(m in max(named, key=len) for m in named), named
        assert sum(p in story for p in places if not any(p in q and p != q for q in places)) <= 1
        power = get_catalog().translate("power", cast.power, lang)
        assert cast.hero in story and power in story and ultraman in story
        assert cast.fact in story
        paragraphs = story.split("\n")
        assert cast.dynasty in paragraphs[0] or (lang == "zh" and cast.dynasty[:1] in paragraphs[0])
        assert len(paragraphs) >= 7


def test_the_same_seed_tells_the_same_story_and_another_seed_another(world):
    cast = next(compose_many(world, 1, seed=1))[0]
    assert compose(world, cast, 7) == compose(world, cast, 7)
    assert len({compose(world, cast, s) for s in range(10)}) == 10


def test_a_typed_power_and_hero_use_the_generic_entries(world):
    power = "喷火" if world.lang == "zh" else "breathing fire"
    cast = Cast(dynasty="魏" if world.lang == "zh" else "Wei", hero="小飞" if world.lang == "zh" else "Kiki",
                power=power, style="幽默")
    story = compose(world, cast, 3)
    assert power in story and ("小飞" in story or "Kiki" in story)


def test_a_hard_won_story_fails_before_it_succeeds():
    world = load_world("zh")
    fails = {f for p in world.powers.values() for f in p.fail}
    cat = get_catalog()
    cast = Cast(dynasty="唐", hero="李白", power="隐形", style="艰难", fact=cat.hero("唐", "李白").fact_zh, hero_key="李白")
    story = compose(world, cast, 11)
    values = {"hero": "李白", "ta": "他", "power": "隐形"}
    tried = [f for f in world.powers["隐形"].fail if re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "\0"),
                                                           f).split("\0")[0] in story]
    assert len(tried) >= 2 and fails


@pytest.mark.parametrize("template", ["{length:>999999999}", "{hero.__class__}", "{secret}", "{hero"])
def test_a_template_with_an_unknown_slot_or_a_format_spec_is_refused(tmp_path, template):
    folder = tmp_path / "zh"
    folder.mkdir()
    seed = json.loads((load_world.__globals__["WORLD_DIR"] / "zh" / "seed.json").read_text(encoding="utf-8"))
    seed["beats"]["home"].append({"text": template})
    (folder / "seed.json").write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(WorldError, match="unknown slot|stray brace"):
        load_world("zh", folder)


def test_a_broken_world_file_says_which_file(tmp_path):
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(WorldError, match="bad.json"):
        load_world("zh", tmp_path / "zh")


def test_a_share_of_composed_stories_get_a_made_up_power_told_with_the_generic_passages(world):
    from storyteller.world.compose import _hanzi

    catalog = {p.zh for p in get_catalog().powers}
    typed = [(c, s) for c, s in compose_many(world, 200, seed=3, typed_share=0.2) if c.power not in catalog]
    assert 20 <= len(typed) <= 60
    for cast, story in typed:
        assert cast.power in story  # the generic passages and the `named` beat say it
        if world.lang == "zh":
            assert set(cast.power) <= set(_hanzi(world))  # no new characters for the tokenizer
    assert all(c.power in catalog for c, _ in compose_many(world, 50, seed=3))  # off by default


def test_announce_names_the_power_before_the_story_shows_it(world):
    from storyteller.world.compose import ANNOUNCE

    stops = re.compile(r"[。！.!]")
    for cast, story in compose_many(world, 20, seed=4, announce=True):
        name = get_catalog().translate("power", cast.power, world.lang)
        third = story.split("\n")[2]  # home, the trip, then the power: named in its first sentence
        first = stops.split(third)[0]
        assert name.lower() in first.lower(), third
        assert any(first.startswith(a.split("{")[0]) for a in ANNOUNCE[world.lang]), third
    firsts = [stops.split(s.split("\n")[2])[0] for _, s in compose_many(world, 20, seed=4)]
    assert not any(f.startswith(a.split("{")[0]) for f in firsts for a in ANNOUNCE[world.lang] if a.split("{")[0])


def test_the_child_who_helps_is_introduced_before_the_story_needs_them(world):
    """Readers marked down a child named for the first time halfway through ("Sam pointed and shouted")."""
    from storyteller.world.compose import INTRODUCED

    told = 0
    for cast, story, picks in compose_many_with(world, 60, seed=5):
        kid = picks["kid"]
        at = story.find(kid)
        if at < 0:
            continue
        told += 1
        first_paragraphs = "\n".join(story.split("\n")[:2])
        introduced = any(story[:at + len(kid)].endswith(m.format(kid=kid)) for m in INTRODUCED[world.lang])
        assert kid in first_paragraphs or introduced, story
    assert told > 40


def test_a_share_of_composed_stories_are_told_as_the_app_tells_a_dynasty_it_does_not_know(world):
    """Readers found the stand-in hero of a typed dynasty telling a catalog hero's life: the model
    had never seen the stand-in. These stories have the stand-in hero, the generic hero passages and
    no fact; their made-up dynasty turns into its slot without touching any other word."""
    from storyteller.catalog import STAND_IN_HERO
    from storyteller.story_format import DYNASTY, HERO, to_slots

    cat = get_catalog()
    known = {d.name(lang) for d in cat.dynasties for lang in ("zh", "en")}
    facts = [h.fact(world.lang) for d in cat.dynasties for h in d.heroes]
    told = list(compose_many_with(world, 300, seed=6, typed_dynasty_share=0.1))
    typed = [(c, s) for c, s, _ in told if c.dynasty not in known]
    assert 15 <= len(typed) <= 50
    for cast, story in typed:
        assert cast.hero == STAND_IN_HERO[world.lang] and cast.fact is None
        assert STAND_IN_HERO[world.lang] in story and not any(f in story for f in facts)
        slotted = to_slots(story, world.lang, cast.dynasty, cast.hero, "", "")
        assert DYNASTY in slotted and slotted.replace(DYNASTY, cast.dynasty).replace(HERO, cast.hero) == story
    assert all(c.dynasty in known for c, _ in compose_many(world, 50, seed=6))  # off by default


# How a mess is undone by chance, not by anyone in the story (r34: "cleared by a convenient breeze").
CHANCE = {"zh": ("一阵风", "风吹", "小雨", "阳光", "太阳", "自己拼好", "自己飞"), "en": ("breeze", "wind", "the sun", "by itself")}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_mess_is_undone_by_someone_in_the_story_not_by_chance(lang):
    for m in load_world(lang).monsters:
        for line in m.fixed:
            assert not any(w in line.lower() for w in CHANCE[lang]), (m.id, line)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_line_the_model_learnt_is_shown_as_the_world_says_it_now(lang):
    """The shipped model learnt the old fixes ("一阵小雨轻轻落下来，泥点全被冲走了"); it still writes them,
    and the slot filler shows the line the world says now."""
    from storyteller.prompts import StoryRequest
    from storyteller.story_cast import KID, MONSTER, PLACE, THING, pick_cast, pronouns
    from storyteller.story_format import HERO, SlotFiller, slot_values
    from storyteller.story_monster import as_own, owners

    world = load_world(lang)
    from storyteller.world.schema import templates

    current = {t for where, t in templates(world) if where != "rewritten"}
    firsts = {first_sentence(t) for t in current}  # a sentence the model writes on its own ("…想起了自己的家乡。")
    assert len(world.rewritten) >= 20
    for said, now in world.rewritten.items():
        assert (now in current or now in firsts) and said not in current, said  # said once, said otherwise now
    req = StoryRequest(dynasty="唐" if lang == "zh" else "Tang", power="飞行" if lang == "zh" else "flying",
                       style="轻松" if lang == "zh" else "light-hearted", lang=lang)
    cast = pick_cast(req, 1)
    values = pronouns(False) | slot_values(req) | cast
    tokens = pronouns(False) | {"hero": HERO, "monster": MONSTER, "place": PLACE, "thing": THING, "kid": KID}
    before = "好。" if lang == "zh" else "Good."
    sep = "" if lang == "zh" else " "
    me = next(m for m in world.monsters if m.name == cast["monster"])  # another monster's line: this one's
    for said, now in list(world.rewritten.items())[:12]:
        f = SlotFiller(req, cast, told=before + "\n")
        got = f.feed(fill(said, tokens) + sep + before) + f.flush()
        assert got == fill(as_own(world, me, now, owners(world)), values) + sep + before, got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_after_the_climax_ultraman_helps_by_hand_and_no_mess_is_undone_by_his_light(lang):
    """Readers of r37 to r39 marked "Ultraman's light does the real fix" and light that did nothing: the
    hero's climax stops the monster, Ultraman helps by hand, and the monster or everyone puts it right.
    Lines the model learnt otherwise are shown as the world says them now."""
    from storyteller.prompts import StoryRequest
    from storyteller.story_cast import KID, MONSTER, PLACE, THING, pick_cast, pronouns
    from storyteller.story_format import HERO, SlotFiller, slot_values
    from storyteller.story_monster import as_own, owners

    world = load_world(lang)
    light = ("光", "亮") if lang == "zh" else ("light", "sparkle", "shone", "glow")
    for v in world.beats["success"]:
        assert not any(w in v.text for w in light), v.text
    for m in world.monsters:
        assert m.fixed and not any("奥特曼" in f or "Ultraman" in f for f in m.fixed), m.id
    learnt = [said for said in world.rewritten if "奥特曼的光" in said or "Ultraman's" in said and "light" in said]
    assert len(learnt) >= (30 if lang == "zh" else 8)
    req = StoryRequest(dynasty="唐" if lang == "zh" else "Tang", power="飞行" if lang == "zh" else "flying",
                       style="轻松" if lang == "zh" else "light-hearted", lang=lang)
    cast = pick_cast(req, 2)
    values = pronouns(False) | slot_values(req) | cast
    tokens = pronouns(False) | {"hero": HERO, "monster": MONSTER, "place": PLACE, "thing": THING, "kid": KID}
    me = next(m for m in world.monsters if m.name == cast["monster"])
    for said in learnt[:6]:
        f = SlotFiller(req, cast)
        got = f.feed(fill(said, tokens)) + f.flush()
        now = as_own(world, me, world.rewritten[said], owners(world))  # said by this telling's monster
        assert got == fill(now, values) and "奥特曼的光" not in got and "Ultraman's" not in got, got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hero_who_recalls_the_fact_thinks_of_what_they_did_not_of_home(lang):
    """Readers of r38 to r40 marked "thought of home" followed by a fact about pi or a poem as a non
    sequitur: the hero now thinks back to what they did, and the line the model learnt is shown so."""
    from storyteller.prompts import StoryRequest
    from storyteller.story_cast import pick_cast, pronouns
    from storyteller.story_format import HERO, SlotFiller, slot_values

    world = load_world(lang)
    old = "{hero}轻轻吸了一口气，想起了自己的家乡。" if lang == "zh" else "{Hero} thought about home for a moment."
    assert not any(old in v.text for v in world.beats["fact"])
    req = StoryRequest(dynasty="南北朝" if lang == "zh" else "Northern and Southern Dynasties", power="飞行",
                       style="努力", lang=lang)
    cast = pick_cast(req, 1)
    values = pronouns(False) | slot_values(req) | cast
    f = SlotFiller(req, cast)
    got = f.feed(fill(old, pronouns(False) | {"hero": HERO})) + f.flush()
    assert got == fill(world.rewritten[old], values) and ("家乡" not in got and "home" not in got), got

"""Details readers caught that break a story's own world: a child who recognises a hero who is
invisible, and a hero who grows mountain-tall in a bakery. Both are mended where the story is shown
(the slot filler) and where the world composes stories."""

from __future__ import annotations

import random
import re

import pytest

from storyteller.prompts import StoryRequest
from storyteller.story_cast import KID, pick_cast, pronouns
from storyteller.story_format import HERO, SlotFiller, slot_values
from storyteller.world.seen import hidden, reveal, seen_again
from storyteller.world import compose, load_world
from storyteller.world.compose import Cast, climax_line, fill

# How far a giant reaches, compared with something that does not fit under a roof.
TALL = {"zh": re.compile(r"(?:像|比)(?:大树|树|楼房|大山|小山|山|房子)"), "en": re.compile(r"as (?:tall|big) as an? ")}


def stream(f: SlotFiller, text: str, seed: int) -> str:
    rng, out, i = random.Random(seed), [], 0
    while i < len(text):
        n = rng.randint(1, 6)
        out.append(f.feed(text[i:i + n]))
        i += n
    return "".join(out) + f.flush()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hero_who_grows_indoors_reaches_the_ceiling_and_outdoors_keeps_the_world_s_line(lang):
    world = load_world(lang)
    indoors = [p for p in world.places if p.indoors]
    outdoors = [p for p in world.places if not p.indoors]
    assert indoors and outdoors
    grew = 0
    for m in world.monsters:
        line = world.climax[m.id]["变大变小"]
        assert climax_line(world, m.id, "变大变小", outdoors[0].name) == line
        inside = climax_line(world, m.id, "变大变小", indoors[0].name)
        assert not TALL[lang].search(inside), inside
        grew += inside != line
        assert climax_line(world, m.id, "冰冻", indoors[0].name) == world.climax[m.id]["冰冻"]
        shown = fill(inside, pronouns(False) | {"hero": "李白", "monster": m.name, "thing": "x", "place": "y"})
        assert "{" not in shown and "，，" not in shown and ",," not in shown
    assert grew >= len(world.monsters) // 2  # most lines compared the giant with a tree or a mountain


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_line_for_growing_needs_the_sky_or_a_lawn(lang):
    """The world's growing climaxes are told in a library as well as a park."""
    outside = ("云", "草坪", "沙坑", "上空") if lang == "zh" else ("clouds", "the hills", "lawn", "the sky")
    for m, lines in load_world(lang).climax.items():
        assert not any(w in lines["变大变小"] for w in outside), (m, lines["变大变小"])


REQUESTS = {"zh": dict(dynasty="唐", power="隐形", style="轻松", lang="zh"),
            "en": dict(dynasty="Tang", power="invisibility", style="funny", lang="en")}
LOOKS = {"zh": "<|kid|>认出了<|hero|>：“我在书上读过！”", "en": "<|kid|> looked up at <|hero|> with big eyes. \"I know you!\""}
BEFORE = {"zh": "<|hero|>低头一看，自己竟然不见了！", "en": "<|hero|> looked down. Nobody could see <|hero|> at all!"}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_invisible_hero_shows_themself_before_a_child_recognises_them(lang, seed):
    req = StoryRequest(**REQUESTS[lang])
    cast = pick_cast(req, seed)
    sep = "" if lang == "zh" else " "
    got = stream(SlotFiller(req, cast), sep.join([BEFORE[lang], LOOKS[lang]]), seed)
    hero = slot_values(req)["hero"]
    shown = f"{hero}悄悄现出了身子。" if lang == "zh" else f"{hero} let everyone see "
    assert shown in got, got
    assert got.index(shown) > got.index(hero) and got.index(shown) < got.index(cast["kid"]), got
    assert got.count(cast["kid"]) == 1  # the child is named once, as before


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_visible_hero_is_recognised_as_before(lang):
    req = StoryRequest(**(REQUESTS[lang] | {"power": "飞行" if lang == "zh" else "flying"}))
    cast = pick_cast(req, 1)
    got = stream(SlotFiller(req, cast), LOOKS[lang], 1)
    assert "现出" not in got and "let everyone see" not in got
    assert seen_again(lang, {"power": "飞行", "hero": "李白", "kid": "小雨"}) == {}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_composed_invisible_story_shows_the_hero_before_a_child_looks(lang):
    world = load_world(lang)
    name = "李白" if lang == "zh" else "Li Bai"
    looked = 0
    for seed in range(40):
        cast = Cast(dynasty="唐" if lang == "zh" else "Tang", hero=name, power="隐形", style="轻松",
                    fact="李白是诗人。" if lang == "zh" else "Li Bai was a poet.", hero_key=name)
        story = compose(world, cast, seed)
        kid = next((k for k in world.kids if k in story), "")
        if not kid:
            continue
        values = pronouns(False) | {"hero": name, "kid": kid, "power": "隐形"}
        for said, shown in seen_again(lang, values).items():
            if said in story:
                looked += 1
                before = story[:story.index(said)]
                assert (shown in story) == hidden(before.removesuffix(shown[:-len(said)]), lang), (seed, said)
    assert looked >= 5
    assert reveal("好。", "zh", {"power": "隐形", "hero": "李白", "kid": "小雨"}) == "好。"


@pytest.mark.parametrize("lang, told, seen", [
    ("zh", "李白低头一看，自己竟然不见了！他想绕过去，可是一着急，只隐住了半个身子。", False),
    ("zh", "李白拍了拍手，整个人都不见了。", False),
    ("zh", "李白拍了拍手，整个人都不见了。再拍一下，又出现了！", True),
    ("zh", "李白拍了拍手，整个人都不见了。再拍一下，又出现了！原来他学会了隐形。", True),
    ("zh", "原来他学会了隐形。李白隐了身，悄悄跟在后面。", False),
    ("en", "Nobody could see him at all! He tiptoed closer, but a giggle slipped out, and he popped back into sight.", True),
    ("en", "He popped back into sight. Then he turned invisible again.", False),
])
def test_whether_the_hero_is_seen_is_the_last_thing_the_story_said_about_it(lang, told, seen):
    assert hidden(told, lang) is not seen


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hero_already_back_in_sight_is_not_shown_again(lang):
    req = StoryRequest(**REQUESTS[lang])
    cast = pick_cast(req, 3)
    back = {"zh": "<|hero|>拍了拍手，“噗”的一下不见了。再拍一下，又出现了！",
            "en": "Nobody could see <|hero|>. Then a giggle slipped out, and <|hero|> popped back into sight."}[lang]
    sep = "" if lang == "zh" else " "
    got = stream(SlotFiller(req, cast), sep.join([back, LOOKS[lang]]), 3)
    assert "现出" not in got and "let everyone see" not in got and cast["kid"] in got, got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_child_the_story_never_met_is_not_met_in_its_last_paragraph(lang):
    req = StoryRequest(**REQUESTS[lang])
    cast = pick_cast(req, 5)
    kid = cast["kid"]
    end = {"zh": "<|hero|>和<|kid|>一起跳起了舞。", "en": "<|hero|> danced a little dance with <|kid|>."}[lang]
    early = "\n".join(["好。" if lang == "zh" else "Good."] * 7)
    got = stream(SlotFiller(req, cast), early + "\n" + end, 5)
    assert kid not in got and ("小朋友们" in got if lang == "zh" else "the children" in got), got
    met = {"zh": "<|kid|>跑了过来。", "en": "<|kid|> ran over."}[lang]
    got = stream(SlotFiller(req, cast), met + "\n" + early + "\n" + end, 5)
    assert got.count(kid) == 2 and "小朋友们" not in got and "the children" not in got, got
    called = {"zh": "一个叫<|kid|>的小朋友笑了。", "en": "A child called <|kid|> laughed."}[lang]
    got = stream(SlotFiller(req, cast), early + "\n" + called, 5)
    assert kid in got, got


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_fact_told_right_after_a_sentence_about_the_hero_starts_with_a_pronoun(lang):
    """Readers marked "李白想起了从前。李白被称为…": the name said twice in a row."""
    from storyteller.story_format import FACT

    req = StoryRequest(**(REQUESTS[lang] | {"power": "飞行" if lang == "zh" else "flying",
                                            "dynasty": "汉" if lang == "zh" else "Han"}))
    cast = pick_cast(req, 2)
    hero, fact = slot_values(req)["hero"], slot_values(req)["fact"]
    assert fact.startswith(hero)
    think = {"zh": f"<|hero|>想起了从前。{FACT}", "en": f"<|hero|> thought about home. {FACT}"}[lang]
    got = stream(SlotFiller(req, cast), think, 2)
    rest = fact[len(hero):]
    assert got.endswith(("他" if lang == "zh" else "He") + rest), got
    for said in ({"zh": f"小朋友说：“{FACT}”", "en": f"A child said, \"{FACT}\""}[lang],
                 {"zh": f"奥特曼笑了。{FACT}", "en": f"Ultraman smiled. {FACT}"}[lang]):
        got = stream(SlotFiller(req, cast), said, 2)
        assert hero + rest in got, got  # in speech, or after a sentence about someone else


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_invisible_hero_seen_again_hides_before_a_climax_that_takes_them_unseen(lang):
    """r33: "Li Bai let everyone see him again" and then "Gloopsy could not see Li Bai, so he crept up"."""
    from storyteller.story_cast import MONSTER, PLACE, THING
    from storyteller.world.seen import _HIDE_AGAIN, _HIDES

    world, req = load_world(lang), StoryRequest(**REQUESTS[lang])
    tokens = pronouns(False) | {"hero": HERO, "monster": MONSTER, "place": PLACE, "thing": THING}
    say = fill(world.powers["隐形"].solve[1], tokens)
    sep = "" if lang == "zh" else " "
    first = kept = 0
    for seed in range(40):
        cast = pick_cast(req, seed)
        values = pronouns(False) | slot_values(req) | cast
        monster = next(m for m in world.monsters if m.name == cast["monster"])
        line = climax_line(world, monster.id, "隐形", cast["place"])
        again = fill(_HIDE_AGAIN[lang], values)
        got = stream(SlotFiller(req, cast), sep.join([BEFORE[lang], LOOKS[lang]]) + "\n" + say, seed)
        if any(h in line for h in _HIDES[lang]):  # the line hides the hero itself
            assert again not in got and fill(line, values) in got, got
            kept += 1
        else:
            assert again + fill(line, values) in got, got
            assert got.index(again) > got.index("现出" if lang == "zh" else "let everyone see")
            first += 1
        # a hero nobody has seen since they vanished: the line as it is
        unseen = stream(SlotFiller(req, cast), BEFORE[lang] + "\n" + say, seed)
        assert again not in unseen and fill(line, values) in unseen, unseen
    assert first and kept


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_composed_invisible_story_hides_the_hero_again_for_the_climax(lang):
    from storyteller.world.seen import _HIDE_AGAIN

    world = load_world(lang)
    name = "李白" if lang == "zh" else "Li Bai"
    again = fill(_HIDE_AGAIN[lang], pronouns(False) | {"hero": name})
    hid = 0
    for seed in range(40):
        cast = Cast(dynasty="唐" if lang == "zh" else "Tang", hero=name, power="隐形", style="轻松",
                    fact="李白是诗人。" if lang == "zh" else "Li Bai was a poet.", hero_key=name)
        paragraphs = compose(world, cast, seed).split("\n")
        if again in paragraphs[6]:
            hid += 1
            assert not hidden("\n".join(paragraphs[:6]), lang), seed  # the story so far left the hero seen
            assert paragraphs[6].startswith(again.strip()), seed
        else:
            assert again not in "\n".join(paragraphs), seed
    assert hid >= 3

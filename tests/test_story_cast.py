"""Cast slots: one monster, place, child, prop and pronoun per story, picked once and filled in."""

from __future__ import annotations

import re

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from storyteller.engines.base import Prompt
from storyteller.prompts import StoryRequest
from storyteller.story_cast import CAST_SLOTS, HE, HIS, KID, MONSTER, PLACE, PROP, TA, has_cast, pick_cast
from storyteller.story_format import END, HERO, SlotFiller, prompt_text, slot_values, story_in_slots
from storyteller.story_opening import opening
from storyteller.world import compose, load_world
from storyteller.world.compose import Cast, compose_with, fill

ZH = StoryRequest(dynasty="唐", power="隐形", style="轻松")
EN = StoryRequest(dynasty="唐", power="flying", style="轻松", lang="en")


def stream(filler: SlotFiller, chunks: list[str]) -> str:
    return "".join(filler.feed(c) for c in chunks) + filler.flush()


def test_the_pick_is_seeded_from_the_world_and_keeps_what_a_story_already_names():
    world = load_world("zh")
    a, b = pick_cast(ZH, seed=3), pick_cast(ZH, seed=3)
    assert a == b and a["monster"] in {m.name for m in world.monsters} and a["kid"] in world.kids
    assert len({pick_cast(ZH, seed=s)["monster"] for s in range(30)}) > 5  # tellings differ
    named = world.monsters[4].name
    assert all(pick_cast(ZH, seed=s, text=f"这时，{named}来了。")["monster"] == named for s in range(10))
    assert pick_cast(ZH, seed=1)["ta"] == "他"
    she = StoryRequest(dynasty="宋", hero="李清照", power="飞行", style="轻松")
    assert pick_cast(she, seed=1)["ta"] == "她" and pick_cast(she, seed=1)["prop"] in world.heroes["李清照"].prop


def test_header_names_monster_and_place_and_the_filler_keeps_them_the_same_all_story():
    cast = pick_cast(ZH, seed=7)
    head = prompt_text(ZH, cast)
    assert head.endswith(f"|{cast['monster']}|{cast['place']}<|story|>")
    assert prompt_text(ZH) == prompt_text(ZH, None) and cast["monster"] not in prompt_text(ZH)  # old models
    text = stream(SlotFiller(ZH, cast), [f"{HERO}的{PROP}亮了，", f"{TA}来到{PLACE}。{MON[:4]}", f"{MON[4:]}来了，",
                                         f"{KID}笑了。{KID}说：“{MONSTER}别怕！”"])
    assert text == (f"李白的{cast['prop']}亮了，他来到{cast['place']}。{cast['monster']}来了，"
                    f"一个叫{cast['kid']}的小朋友笑了。{cast['kid']}说：“{cast['monster']}别怕！”")  # met once, then by name


MON = MONSTER  # split across chunks above


def test_english_pronoun_slots_start_sentences_with_a_capital():
    cast = pick_cast(EN, seed=2)
    text = stream(SlotFiller(EN, cast), [f"{HERO} smiled. {HE} held {HIS} {PROP}. ", f'"{HE} is here!" said {KID}.'])
    assert text == f'Li Bai smiled. He held his {cast["prop"]}. "He is here!" said a child called {cast["kid"]}.'
    text = stream(SlotFiller(EN, cast), [f'"Keep trying," {HE} said. {KID} said, "{HE} is back!"'])
    assert text == f'"Keep trying," he said. A child called {cast["kid"]} said, "He is back!"'  # a closing quote starts nothing


@pytest.mark.parametrize("lang, pieces, want", [
    ("zh", ["忽然，", KID, "拉拉他的衣角。", KID, "笑了。"], "忽然，一个叫小雨的小朋友拉拉他的衣角。小雨笑了。"),
    ("zh", ["摸摸", "<|ki", "d|>", "的头。"], "摸摸小朋友小雨的头。"),  # the next character decides, even split
    ("zh", ["一个叫", KID, "的小朋友笑了。"], "一个叫小雨的小朋友笑了。"),  # the story introduces them itself
    ("zh", ["“", KID, "，别怕！”"], "“小雨，别怕！”"),  # called to in speech
    ("zh", ["他看着", KID], "他看着一个叫小雨的小朋友"),  # the story's last word
    ("en", ["It ran. ", KID, " shouted. ", KID, " smiled."], "It ran. A child called Ava shouted. Ava smiled."),
    ("en", ["He held ", KID, "'s hand."], "He held little Ava's hand."),
    ("en", ["A child named ", KID, " waved."], "A child named Ava waved."),
])
def test_the_child_who_helps_is_met_as_someone_new_the_first_time(lang, pieces, want):
    """Readers marked every story whose child speaks up by name without ever being introduced."""
    req = ZH if lang == "zh" else EN
    assert stream(SlotFiller(req, {"kid": "小雨" if lang == "zh" else "Ava"}), pieces) == want


def test_a_continued_story_whose_child_was_met_names_them_plainly():
    filler = SlotFiller(ZH, {"kid": "小雨"}, told="一个叫小雨的小朋友来了。")
    assert stream(filler, [KID, "笑了。"]) == "小雨笑了。"


def test_a_continued_story_goes_back_into_cast_slots_but_not_its_pronouns():
    cast = pick_cast(ZH, seed=5)
    told = f"李白来到{cast['place']}。他看见{cast['monster']}。奥特曼说他也来了。"
    again = story_in_slots(ZH, told, cast=cast)
    assert again == f"{HERO}来到{PLACE}。他看见{MONSTER}。奥特曼说他也来了。"


def test_composed_story_in_slot_form_fills_back_to_the_plain_story():
    world = load_world("zh")
    cast = Cast("唐", "李白", "隐形", "温馨", "李白写了很多诗。", "李白")
    tokens = {name: token for token, name in CAST_SLOTS.items()}
    slotted, picks = compose_with(world, cast, seed=11, tokens=tokens)
    assert MONSTER in slotted and TA in slotted and picks["monster"] not in slotted
    plain = slotted
    for token, name in CAST_SLOTS.items():
        plain = plain.replace(token, picks[name])
    assert plain == compose(world, cast, seed=11)  # the same passages, only the cast written as slots
    assert fill("{Monster}", {"monster": MONSTER}) == MONSTER  # a slot token is never "capitalised"


def test_engine_picks_one_cast_per_telling_for_a_cast_model(tmp_path):
    """The header and the filler of one telling agree, a given seed repeats it, and a model without
    cast slots (every earlier build, a family's fine-tune of one) is told as before."""
    from storyteller.engines.local_hf import LocalHFEngine
    from tests.fakes.tiny_model import build_tiny_model

    folder = build_tiny_model(tmp_path / "m", storyteller=True)
    engine = LocalHFEngine("m", source=str(folder))
    loaded = engine.load()
    assert not has_cast(loaded.tokenizer)
    assert engine.build_input(loaded, Prompt.for_story(ZH))[0] == prompt_text(ZH)

    tok = AutoTokenizer.from_pretrained(folder)
    tok.add_tokens(list(CAST_SLOTS))
    model = AutoModelForCausalLM.from_pretrained(folder)
    model.resize_token_embeddings(len(tok))
    cast_folder = tmp_path / "cast"
    model.save_pretrained(cast_folder)
    tok.save_pretrained(cast_folder)
    engine = LocalHFEngine("cast", source=str(cast_folder))
    loaded = engine.load()
    assert has_cast(loaded.tokenizer)
    prompt = Prompt.for_story(ZH)
    text, filler = engine.build_input(loaded, prompt)
    assert text == engine.build_input(loaded, prompt)[0]  # one telling, one cast
    assert filler.values["monster"] in text
    seeded = Prompt.for_story(ZH, seed=4)
    cast = pick_cast(ZH, 4)  # a new story starts from the world's first paragraph (story_opening.py)
    assert engine.build_input(loaded, seeded)[0] == prompt_text(ZH, cast) + opening(ZH, cast, 4)[1]
    told = "".join(engine.stream(seeded.model_copy(update={"params": seeded.params.model_copy(
        update={"max_new_tokens": 3})})))
    assert told.startswith(opening(ZH, cast, 4)[0])  # what the reader sees first
    going_on = seeded.model_copy(update={"prefix": "唐朝的一天，李白正在写诗。"})
    assert engine.build_input(loaded, going_on)[0] == prompt_text(ZH, cast) + "<|dynasty|>朝的一天，<|hero|>正在写诗。"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_world_monster_and_place_fits_in_a_header_field(lang):
    world = load_world(lang)
    assert all("|" not in m.name and "<" not in m.name for m in world.monsters)
    assert all("|" not in p.name and "<" not in p.name for p in world.places)


@pytest.mark.parametrize("lang, dynasty, hero, want_dynasty, want_hero", [
    ("zh", "金", None, "金", "阿福"),  # a dynasty the catalog does not know: a child's name, not "这位英雄"
    ("en", "西夏", None, "Xixia", "A-Fu"),  # an English story writes a typed Chinese name in pinyin
    ("en", "北周", "曹冲", "Beizhou", "Cao Chong"),
    ("en", "Zhou dynasty", "Confucius", "Zhou", "Confucius"),
    ("en", "唐", None, "Tang", "Li Bai"),  # the catalog's own names are kept
])
def test_a_dynasty_outside_the_catalog_gets_a_named_hero_and_english_gets_pinyin(lang, dynasty, hero, want_dynasty,
                                                                                   want_hero):
    req = StoryRequest(dynasty=dynasty, hero=hero, power="飞行", style="轻松", lang=lang)
    v = slot_values(req)
    assert (v["dynasty"], v["hero"]) == (want_dynasty, want_hero)
    filler = SlotFiller(req)
    told = filler.feed(f"{HERO}{'坐下了。' if lang == 'zh' else ' sat down.'}") + filler.feed(END)
    assert told.startswith(want_hero)
    if lang == "en":  # no hanzi in what the model reads either
        assert not re.search(r"[\u3400-\u9fff]", prompt_text(req))


def test_the_world_engine_names_the_stand_in_hero_for_an_unknown_dynasty():
    from storyteller.engines.base import GenerationParams
    from storyteller.engines.world import WorldEngine

    req = StoryRequest(dynasty="西夏", power="flying", style="轻松", lang="en")
    story = "".join(WorldEngine().stream(Prompt(messages=[], request=req, params=GenerationParams(seed=3))))
    assert "A-Fu" in story and "Xixia dynasty" in story
    assert "our hero" not in story.lower() and not re.search(r"[\u3400-\u9fff]", story)

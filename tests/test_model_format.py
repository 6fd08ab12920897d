"""The storyteller model format: header, slot filling while streaming, corpus -> slots."""

from __future__ import annotations

from transformers import GPT2Config

from storyteller.story_format import (
    DYNASTY, END, FACT, HERO, POWER, STORY, SlotFiller, is_storyteller_model, prompt_text, to_slots,
)
from storyteller.prompts import StoryRequest


def req(**kw) -> StoryRequest:
    base = {"dynasty": "唐", "power": "隐形", "style": "轻松"}
    return StoryRequest(**(base | kw))


def fill(r: StoryRequest, chunks: list[str]) -> str:
    f = SlotFiller(r)
    return "".join(f.feed(c) for c in chunks) + f.flush()


def test_is_storyteller_model_accepts_dicts_and_configs():
    assert is_storyteller_model({"storyteller_format": 1})
    assert is_storyteller_model(GPT2Config(storyteller_format=1))
    assert not is_storyteller_model(GPT2Config())
    assert not is_storyteller_model({"storyteller_format": "x"})
    assert not is_storyteller_model(None)


def test_prompt_text_carries_values_and_language():
    zh = prompt_text(req())
    assert zh.startswith("<|zh|>") and zh.endswith(STORY)
    assert "唐|李白|隐形|轻松" in zh
    en = prompt_text(req(lang="en", dynasty="唐朝", power="flying", style="幽默"))
    assert en == "<|en|>Tang|Li Bai|flying|funny<|story|>"


def test_slots_filled_even_when_split_across_chunks():
    r = req(power="喷火")
    chunks = ["<|her", "o|>来自", "<", "|dynasty|>朝，", "学会了<|power|>", "，和奥特曼", END, "多余"]
    f = SlotFiller(r)
    shown = [f.feed(c) for c in chunks]
    assert shown[0] == ""  # partial slot held back
    assert "".join(shown) + f.flush() == "李白来自唐朝，学会了喷火，和奥特曼"
    assert f.ended


def test_fact_slot_uses_catalog_fact():
    text = fill(req(), [f"大家都知道，{FACT}{HERO}笑了。"])
    assert text == "大家都知道，" + req().hero_fact() + "李白笑了。" and "“诗仙”" in text


def test_a_fact_said_inside_speech_gets_inner_quotation_marks():
    """Readers stumbled on “我知道！李白被称为“诗仙”……”: inside speech the fact's marks are ‘ ’."""
    fact = req().hero_fact()
    assert "“" in fact
    said = fill(req(), ["甜甜抢着回答：“我知", "道！", FACT, "”", f"{HERO}点点头。"])
    assert said == "甜甜抢着回答：“我知道！" + fact.replace("“", "‘").replace("”", "’") + "”李白点点头。"
    assert said.count("“") == 1 and said.count("”") == 1
    after = fill(req(), ["“你好！”", HERO, "说。大家都知道，", FACT])  # the speech closed before the fact
    assert after.endswith(fact)
    continued = SlotFiller(req(), told="甜甜说：“我知道！")  # a story being continued, inside speech
    assert "‘诗仙’" in continued.feed(FACT + "”") + continued.flush()
    assert to_slots(said, "zh", "唐", "李白", "隐形", fact) == f"甜甜抢着回答：“我知道！{FACT}”{HERO}点点头。"


def test_a_hero_without_a_fact_gets_a_true_line_about_where_they_come_from():
    """A typed hero (or a stand-in) has no catalog fact: the fact slot says where they come from, so a
    child's "我读过！" or "It was true." is never left hanging."""
    r = req(hero="小明")
    assert r.hero_fact() is None
    line = "小明来自很久很久以前的唐朝。"
    assert fill(r, [f"{HERO}飞起来了。", "大家都知道，", FACT, f"{HERO}笑了。"]) == f"小明飞起来了。大家都知道，{line}小明笑了。"
    assert fill(r, ["她说：“我读过！", FACT, "”\n好。"]) == f"她说：“我读过！{line}”\n好。"
    en = fill(req(lang="en", hero="Sam"), [f"{HERO} had an idea. ", FACT, " He smiled."])
    assert en == "Sam had an idea. He came from the Tang dynasty, long, long ago. He smiled."  # not the name twice
    assert fill(req(dynasty="金"), ["“我在书上读过！", FACT, "”"]) == "“我在书上读过！阿福来自很久很久以前的金朝。”"
    assert fill(req(dynasty="三国", hero="小乔"), [FACT]) == "小乔来自很久很久以前的三国时期。"
    assert fill(req(lang="en", dynasty="Three Kingdoms", hero="Xiao Qiao"), [FACT]) == (
        "Xiao Qiao came from the Three Kingdoms, long, long ago.")


def test_unknown_dynasty_loses_suffix_and_nan_bei_chao_not_doubled():
    assert fill(req(dynasty="魏朝"), [f"{DYNASTY}朝"]) == "魏朝"
    assert fill(req(dynasty="南北朝"), [f"{DYNASTY}朝的人"]) == "南北朝的人"
    assert fill(req(lang="en", dynasty="Wei dynasty"), [f"the {DYNASTY} dynasty"]) == "the Wei dynasty"


def test_to_slots_is_inverse_of_filling():
    r = req()
    fact = r.hero_fact()
    story = f"唐朝的李白很聪明，他会隐形。大家都知道，{fact}奥特曼说：“谢谢李白！”"
    slotted = to_slots(story, "zh", "唐", "李白", "隐形", fact)
    assert slotted == f"{DYNASTY}朝的{HERO}很聪明，他会{POWER}。{FACT}奥特曼说：“谢谢{HERO}！”"
    assert fill(r, [slotted]) == story.replace("大家都知道，", "")
    # single-character dynasties are replaced only where they name the dynasty
    assert to_slots("明朝的人很聪明，明天见。", "zh", "明", "郑和", "飞行", "") == f"{DYNASTY}朝的人很聪明，明天见。"


def test_to_slots_english_word_boundaries():
    text = "In the Song dynasty, Su Shi sang a song. Flying was fun; flying is his power."
    out = to_slots(text, "en", "Song", "Su Shi", "flying", "")
    assert out == f"In the {DYNASTY} dynasty, {HERO} sang a song. {POWER} was fun; {POWER} is his power."


def test_models_with_power_tokens_keep_a_catalog_power_and_slot_a_typed_one():
    from storyteller.story_format import POWER, to_slots

    assert to_slots("他学会了冰冻。", "zh", "唐", "李白", "冰冻", "", keep_power=True) == "他学会了冰冻。"
    assert to_slots("他学会了冰冻。", "zh", "唐", "李白", "冰冻", "") == f"他学会了{POWER}。"
    assert to_slots("他学会了喷火。", "zh", "唐", "李白", "喷火", "", keep_power=True) == f"他学会了{POWER}。"


def test_a_typed_power_that_starts_with_a_verb_is_not_doubled_after_the_same_verb():
    """Readers found "你会会变色" in a story for the typed power 会变色."""
    r = req(power="会变色")
    assert fill(r, ["小明问：“你会", POWER, "？”", HERO, "有了", POWER, "的本领。"]) == "小明问：“你会变色？”李白有了会变色的本领。"
    assert fill(req(power="变色"), ["你会", POWER]) == "你会变色"

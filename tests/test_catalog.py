"""The catalog's other names: what a child types for a preset (北宋, 会飞, talk to animals) gets the
preset's hero, fact and power, so the story is told from what the catalog knows."""

from __future__ import annotations

import pytest

from storyteller.catalog import STAND_IN_HERO, get_catalog
from storyteller.prompts import StoryRequest
from storyteller.story_format import prompt_text, slot_values


@pytest.mark.parametrize("typed, dynasty, hero", [
    ("东汉", "汉", "蔡伦"), ("西汉", "汉", "张骞"), ("南宋", "宋", "李清照"), ("北魏", "南北朝", "贾思勰"),
    ("大唐", "唐", "李白"), ("  明代 ", "明", "郑和"), ("唐朝", "唐", "李白"), ("周", "周", "孔子"), ("春秋", "周", "孔子"),
    ("战国", "周", "墨子"), ("魏", "三国", "曹冲"), ("曹魏", "三国", "曹冲"), ("蜀", "三国", "诸葛亮"),
])
def test_another_name_of_a_dynasty_finds_it_and_a_hero_of_that_part(typed, dynasty, hero):
    cat = get_catalog()
    assert cat.dynasty(typed).zh == dynasty
    assert cat.hero(typed).zh == hero
    v = slot_values(StoryRequest(dynasty=typed, power="飞行", style="轻松"))
    assert (v["dynasty"], v["hero"]) == (dynasty, hero) and v["fact"] == cat.hero(typed).fact("zh")


def test_english_names_of_parts_are_found_whatever_the_case():
    cat = get_catalog()
    assert cat.dynasty("eastern han").zh == "汉" and cat.hero("Eastern Han").en == "Cai Lun"
    assert cat.hero("Southern Song").en == "Li Qingzhao" and cat.hero("Northern Wei").zh in ("贾思勰", "郦道元")
    assert cat.hero("wei").en == "Cao Chong" and cat.hero("Warring States").en == "Mozi" and cat.hero("Zhou").en == "Confucius"
    en = StoryRequest(dynasty="Eastern Han", power="fly", style="funny", lang="en")
    assert prompt_text(en) == "<|en|>Han|Cai Lun|flying|funny<|story|>"


def test_a_dynasty_the_catalog_does_not_know_still_gets_the_stand_in():
    for typed in ("西夏", "金", "金朝", "恐龙时代"):
        assert get_catalog().dynasty(typed) is None
        assert slot_values(StoryRequest(dynasty=typed, power="飞行", style="轻松"))["hero"] == STAND_IN_HERO["zh"]


@pytest.mark.parametrize("typed, power", [("会飞", "飞行"), ("隐身", "隐形"), ("瞬移", "瞬间移动"), ("和动物说话", "听懂动物说话"),
                                          ("Talk to animals", "听懂动物说话"), ("ice", "冰冻"), ("healing", "治愈之光")])
def test_another_name_of_a_power_is_told_as_the_catalog_power(typed, power):
    """The model is conditioned exactly as for the preset, so it shows the power it knows (a typed
    power is told with generic passages that readers found never show it)."""
    cat = get_catalog()
    assert cat.power(typed).zh == power
    for lang in ("zh", "en"):
        req = StoryRequest(dynasty="唐", power=typed, style="轻松", lang=lang)
        same = StoryRequest(dynasty="唐", power=power, style="轻松", lang=lang)
        assert prompt_text(req) == prompt_text(same) and slot_values(req)["power"] == cat.power(power).name(lang)


@pytest.mark.parametrize("typed, style", [("搞笑", "幽默"), ("开心", "轻松"), ("Warm", "温馨"), ("difficult", "艰难")])
def test_another_name_of_a_style_is_told_as_the_catalog_style(typed, style):
    """A style is in the header too: a typed "搞笑" is told as 幽默 (the world's style passages follow it)."""
    for lang in ("zh", "en"):
        req = StoryRequest(dynasty="唐", power="飞行", style=typed, lang=lang)
        assert prompt_text(req) == prompt_text(StoryRequest(dynasty="唐", power="飞行", style=style, lang=lang))


def test_a_typed_power_that_is_no_other_name_stays_as_typed():
    for typed in ("读心术", "喷火", "会变色", "reading minds"):
        assert get_catalog().power(typed) is None
        assert slot_values(StoryRequest(dynasty="唐", power=typed, style="轻松"))["power"] == typed


def test_every_other_name_is_unique_and_names_real_heroes():
    cat, names = get_catalog(), {}
    for d in cat.dynasties:
        for name in [d.zh, d.en, *d.aliases]:
            assert names.setdefault(name.lower(), d.zh) == d.zh, f"{name} names two dynasties"
        for alias, heroes in d.aliases.items():
            assert set(heroes) <= {h.zh for h in d.heroes}, f"{alias}: {heroes}"
    for terms in (cat.powers, cat.styles):
        names = {}
        for t in terms:
            for name in [t.zh, t.en, *t.aliases]:
                assert names.setdefault(name.lower(), t.zh) == t.zh, f"{name} names two of them"


@pytest.mark.parametrize("typed, lang, kept, hero", [
    ("东汉", "zh", "东汉", "蔡伦"), ("南宋", "zh", "南宋", "李清照"), ("魏", "zh", "魏", "曹冲"),
    ("战国", "zh", "战国", "墨子"), ("Eastern Han", "en", "Eastern Han", "蔡伦"),
    ("北宋", "zh", "宋", "毕昇"), ("大唐", "zh", "唐", "李白"), ("唐朝", "en", "Tang", "李白"),
])
def test_the_app_keeps_a_part_of_a_dynasty_so_its_own_heroes_tell_it(typed, lang, kept, hero):
    """The app names presets in the story's language; a part with heroes of its own stays as typed
    (under the dynasty's name 东汉 would be told by 张骞, the Han's first hero)."""
    from storyteller import studio

    req = studio.build_request(typed, "飞行", "轻松", lang)
    assert req.dynasty == kept
    assert slot_values(req)["hero"] == next(h for d in get_catalog().dynasties for h in d.heroes if h.zh == hero).name(lang)


@pytest.mark.parametrize("typed, lang, dynasty, hero", [
    ("夏", "zh", "夏", "大禹"), ("夏朝", "zh", "夏", "大禹"), ("Xia dynasty", "en", "Xia", "Yu the Great"),
    ("殷商", "zh", "商", "妇好"), ("Shang", "en", "Shang", "Fu Hao"),
    ("辽", "zh", "辽", "耶律阿保机"), ("契丹", "zh", "辽", "耶律阿保机"), ("Liao", "en", "Liao", "Yelu Abaoji"),
])
def test_the_oldest_dynasties_and_the_liao_have_a_real_hero_with_a_true_fact(typed, lang, dynasty, hero):
    """Readers refused a made-up child (阿福) as the hero of 夏 or 辽: a child who types a real dynasty
    gets one of its real people, their own pastimes and a fact, like any preset."""
    v = slot_values(StoryRequest(dynasty=typed, power="飞行", style="轻松", lang=lang))
    h = get_catalog().hero(typed)
    assert (v["dynasty"], v["hero"]) == (dynasty, hero) and v["fact"] == h.fact(lang)
    assert hero in v["fact"] and STAND_IN_HERO[lang] not in v["fact"]


def test_known_but_unlearnt_dynasties_are_not_offered_in_the_lists():
    """The lists offer what the corpus (and so the shipped model) covers; 夏, 商 and 辽 are only typed."""
    cat = get_catalog()
    for lang in ("zh", "en"):
        shown = cat.choices("dynasty", lang)
        assert len(shown) == 13 and {"夏", "商", "辽", "Xia", "Shang", "Liao"}.isdisjoint(shown)
        assert cat.dynasty("夏" if lang == "zh" else "Xia").heroes[0].zh == "大禹"

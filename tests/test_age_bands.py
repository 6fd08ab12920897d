"""Age bands 3–5, 6–8 and 9–12: validated on the way in, and they set the length, the system
prompt, the facts told and the vocabulary grade; stories are saved with their band."""

from __future__ import annotations

import pytest

from storyteller import studio
from storyteller.catalog import AGE_BANDS, band_allows, get_catalog, parse_band
from storyteller.errors import InputError
from storyteller.prompts import StoryRequest, build_messages, system_prompt, user_message
from storyteller.safety import age
from storyteller.story_format import FACT, SlotFiller
from storyteller.store import Store
from tests.fakes.scripted_engine import ScriptedEngine

OPIUM_ZH, OPIUM_EN = "鸦片", "opium"


@pytest.mark.parametrize("raw,band", [("3-5", "3-5"), ("3–5岁", "3-5"), ("ages 9 to 12", "9-12"), ("7", "6-8"),
                                      (None, "6-8"), ("", "6-8"), ("6~8", "6-8")])
def test_band_is_read_from_what_people_type(raw, band):
    assert parse_band(raw) == band


@pytest.mark.parametrize("raw", ["13", "2-9", "teen", "0"])
def test_an_unknown_band_is_a_friendly_error_in_both_languages(raw):
    with pytest.raises(InputError) as e:
        studio.build_request("唐", "隐形", "轻松", "zh", 300, age_band=raw)
    assert "3-5, 6-8 or 9-12" in str(e.value) and "年龄段" in str(e.value)


def test_the_default_band_is_6_to_8():
    assert StoryRequest(dynasty="唐", power="隐形", style="轻松").age_band == "6-8"
    assert studio.build_request("唐", "隐形", "轻松").age_band == "6-8"


@pytest.mark.parametrize("band", AGE_BANDS)
def test_band_sets_the_default_and_the_most_length(band):
    spec = age.band(band)
    assert studio.build_request("唐", "隐形", "轻松", "zh", None, age_band=band).length == spec.length
    assert studio.build_request("唐", "隐形", "轻松", "zh", 5000, age_band=band).length == spec.length_max
    assert studio.build_request("唐", "隐形", "轻松", "zh", 120, age_band=band).length == min(120, spec.length_max)
    assert age.band("3-5").length < age.band("6-8").length < age.band("9-12").length


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_band_has_its_own_system_prompt(lang):
    prompts = {b: system_prompt(lang, b) for b in AGE_BANDS}
    assert len(set(prompts.values())) == 3
    assert ("3到5岁" if lang == "zh" else "aged 3 to 5") in prompts["3-5"]
    assert ("9到12岁" if lang == "zh" else "aged 9 to 12") in prompts["9-12"]
    req = StoryRequest(dynasty="唐", power="隐形", style="轻松", lang=lang, age_band="3-5")
    assert build_messages(req)[0]["content"] == prompts["3-5"]


def test_every_fact_has_a_band_and_opium_waits_for_9_to_12():
    heroes = [h for d in get_catalog().dynasties for h in d.heroes]
    assert all(h.fact_band in AGE_BANDS for h in heroes)
    lin = get_catalog().hero("清", "林则徐")
    assert lin.fact_band == "9-12" and OPIUM_ZH in lin.fact_zh
    assert {h.fact_band for h in heroes} == set(AGE_BANDS)  # every band has facts of its own


@pytest.mark.parametrize("band", AGE_BANDS)
def test_a_younger_child_never_hears_an_older_bands_fact(band):
    """For every hero and language: the request's fact, the chat prompt and the embedded model's
    fact slot all leave out a fact marked for an older band."""
    for d in get_catalog().dynasties:
        for h in d.heroes:
            for lang in ("zh", "en"):
                req = StoryRequest(dynasty=d.zh, power="隐形", style="轻松", lang=lang, hero=h.name(lang),
                                   age_band=band)
                allowed = band_allows(h.fact_band, band)
                assert (req.hero_fact() == h.fact(lang)) is allowed
                assert (h.fact(lang) in user_message(req)) is allowed
                told = SlotFiller(req).feed(f"大家都知道，{FACT}后来他们成了好朋友。") + SlotFiller(req).flush()
                assert (h.fact(lang) in told) is allowed


def test_lin_zexu_story_for_a_six_year_old_has_no_opium(settings_env):
    """A 6-year-old hears 林则徐's fact for younger children (readers marked the bare 'came from the Qing'
    line as empty); a 3-year-old hears none; a 9-year-old hears the opium one."""
    lin = get_catalog().hero("清", "林则徐")
    req = studio.build_request("清", "隐形", "轻松", "en", age_band="6-8")
    assert req.hero_fact() == lin.young_en and OPIUM_EN not in user_message(req).lower()
    assert lin.young_en in user_message(req)
    filler = SlotFiller(req)
    shown = filler.feed(f"<|hero|> smiled. Long ago, {FACT} Then they played.") + filler.flush()
    assert OPIUM_EN not in shown.lower() and shown.startswith("Lin Zexu smiled.") and lin.young_en in shown
    assert studio.build_request("清", "隐形", "轻松", "zh", age_band="6-8").hero_fact() == lin.young_zh
    assert studio.build_request("清", "隐形", "轻松", "en", age_band="3-5").hero_fact() is None
    older = studio.build_request("清", "隐形", "轻松", "en", age_band="9-12")
    assert OPIUM_EN in older.hero_fact().lower()


@pytest.mark.parametrize("band, told", [("3-5", None), ("6-8", "young"), ("9-12", "fact")])
def test_the_world_storyteller_tells_each_band_its_own_fact(band, told):
    """The offline story world, too, never tells a younger child an older band's fact."""
    from storyteller.engines.base import Prompt
    from storyteller.engines.world import WorldEngine

    lin = get_catalog().hero("清", "林则徐")
    for lang in ("zh", "en"):
        req = StoryRequest(dynasty="清", power="隐形", style="轻松", lang=lang, hero=lin.name(lang), age_band=band)
        story = "".join(WorldEngine().stream(Prompt.for_story(req, seed=3)))
        young, fact = (lin.young_en, lin.fact_en) if lang == "en" else (lin.young_zh, lin.fact_zh)
        assert (young in story, fact in story) == (told == "young", told == "fact")
        assert (OPIUM_EN in story.lower() or OPIUM_ZH in story) is (told == "fact")


@pytest.mark.parametrize("lang,simple,hard", [
    ("zh", "小猫很开心。我们一起去玩。大家都笑了。", "这项研究揭示了神经网络的内在缺陷，引发了广泛争议。"),
    ("en", "The cat sat on the mat. It was fun. We all ran.",
     "Notwithstanding considerable institutional opposition, the commissioner implemented comprehensive reforms."),
])
def test_grade_orders_a_simple_and_a_hard_text(lang, simple, hard):
    easy, tough = age.grade(simple, lang), age.grade(hard, lang)
    assert easy.value < tough.value and easy.fits and not tough.fits
    if lang == "zh":
        assert easy.easy > tough.easy and "HSK1–3" in easy.line()
    assert age.grade("", lang) is None


def test_grade_leaves_names_out():
    text = "诸葛亮来了。他很开心。"
    assert age.grade(text, "zh", names=["诸葛亮"]).value <= age.grade(text, "zh").value


def test_story_stats_show_band_and_grade_and_the_story_is_saved_with_its_band(settings_env):
    req = studio.build_request("唐", "隐形", "轻松", "zh", age_band="3-5")
    run = studio.tell(req, engine=ScriptedEngine("小猫很开心。我们一起去玩。"))
    list(run)
    line = run.stats_line("zh")
    assert "3–5岁" in line and "词汇 HSK" in line and "ages 3–5" in run.stats_line("en")
    saved = Store().stories()[0]
    assert saved["age_band"] == "3-5" and saved["request"]["age_band"] == "3-5"


def test_band_column_is_added_by_the_migration(settings_env):
    import sqlite3

    from storyteller.finetune.base import JobStore

    JobStore()
    store = Store()
    sid = store.save_story("m", studio.build_request("唐", "隐形", "轻松", age_band="9-12").model_dump(), "x", "done")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT age_band FROM stories WHERE id=?", (sid,)).fetchone()[0] == "9-12"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 6

"""The hero's fact gives the hero heart, and the plan is their power: a general idea line the model
wrote ("我知道该怎么做了！") is shown as its counterpart, which names the power the climax then uses.
Readers had found the fact a child recites followed by a plan that owes it nothing."""

from __future__ import annotations

import random

import pytest

from storyteller.catalog import get_catalog
from storyteller.prompts import StoryRequest
from storyteller.safety import check_text
from storyteller.story_cast import MONSTER, pick_cast, pronouns
from storyteller.story_format import HERO, SlotFiller, slot_values
from storyteller.story_idea import HEART, take_heart
from storyteller.world import load_world
from storyteller.world.compose import fill

POWERS = get_catalog().offered("power")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_general_idea_line_of_the_world_has_a_counterpart_and_it_is_safe(lang):
    general = {v.text for v in load_world(lang).beats["idea"] if not v.styles}
    assert set(HEART[lang]) == general
    for p in POWERS:
        values = pronouns(False) | {"hero": "李白" if lang == "zh" else "Li Bai", "monster": "泡泡怪",
                                    "power": p.name(lang)}
        for shown in take_heart(lang, values).values():
            assert "{" not in shown and check_text(shown, lang) is None, shown
            if lang == "zh":
                assert f"{p.zh}的本领" in shown  # the plan is the power the climax uses


def stream(f: SlotFiller, text: str, seed: int) -> str:
    rng, out, i = random.Random(seed), [], 0
    while i < len(text):
        n = rng.randint(1, 6)
        out.append(f.feed(text[i:i + n]))
        i += n
    return "".join(out) + f.flush()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_slot_filler_shows_a_general_idea_line_as_its_counterpart(lang, seed):
    rng = random.Random(seed)
    power = rng.choice(POWERS)
    req = StoryRequest(dynasty="宋" if lang == "zh" else "Song", power=power.name(lang),
                       style="轻松" if lang == "zh" else "funny", lang=lang)
    cast = pick_cast(req, seed)
    said, shown = rng.choice(list(HEART[lang].items()))
    tokens = pronouns(False) | {"hero": HERO, "monster": MONSTER}
    before = "好。" if lang == "zh" else "Good."
    sep = "" if lang == "zh" else " "
    got = stream(SlotFiller(req, cast), sep.join([before, fill(said, tokens)]), seed)
    values = pronouns(False) | slot_values(req) | cast
    assert got == sep.join([before, fill(shown, values)])


def test_a_typed_power_and_a_line_written_for_the_style_keep_the_model_s_words():
    req = StoryRequest(dynasty="宋", power="喷火", style="艰难")
    assert take_heart("zh", slot_values(req) | pick_cast(req, 1)) == {}
    styled = next(v.text for v in load_world("zh").beats["idea"] if "艰难" in v.styles)
    text = fill(styled, pronouns(False) | {"hero": HERO, "monster": MONSTER})
    req = StoryRequest(dynasty="宋", power="冰冻", style="艰难")
    cast = pick_cast(req, 2)
    assert stream(SlotFiller(req, cast), text, 2) == fill(styled, pronouns(False) | slot_values(req) | cast)

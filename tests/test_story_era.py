"""How long ago, told true: "hundreds of years" only for a dynasty that ended hundreds of years ago
(a reader marked Yu the Great of the Xia carried "hundreds of years into the future")."""

from __future__ import annotations

import random

import pytest

from storyteller.prompts import StoryRequest
from storyteller.story_cast import pick_cast
from storyteller.story_era import Rephrase, era_phrases, how_long, years_ago
from storyteller.story_format import SlotFiller
from storyteller.story_opening import opening


@pytest.mark.parametrize("dynasty, told", [("Xia", "thousands of years"), ("秦", "thousands of years"),
                                           ("Tang", "more than a thousand years"), ("汉", "more than a thousand years"),
                                           ("Song", "hundreds of years"), ("Qing", "hundreds of years"),
                                           ("Atlantis", "hundreds of years")])
def test_how_long_ago_follows_the_catalog_s_years(dynasty, told):
    assert how_long(dynasty) == told


def test_years_ago_reads_bc_and_ad():
    assert years_ago("Xia", today=2026) == 2026 + 1600
    assert years_ago("Han", today=2026) == 2026 - 220
    assert years_ago("Tang", today=2026) == 2026 - 907
    assert years_ago("nowhere") is None


@pytest.mark.parametrize("seed", range(5))
def test_the_phrase_is_shown_truer_however_the_stream_cuts_it(seed):
    text = "Many hundreds of years ago, Yu was digging. It carried him hundreds of years into the future. Hundreds!"
    r, rng, out, i = Rephrase(era_phrases("Xia", "en")), random.Random(seed), [], 0
    while i < len(text):
        n = rng.randint(1, 5)
        out.append(r.feed(text[i:i + n]))
        i += n
    got = "".join(out) + r.flush()
    assert got == "Thousands of years ago, Yu was digging. It carried him thousands of years into the future. Hundreds!"


def test_the_slot_filler_and_the_first_paragraph_tell_it_true_and_chinese_is_left_alone():
    req = StoryRequest(dynasty="Xia", power="flying", style="funny", lang="en")
    f = SlotFiller(req, pick_cast(req, 1))
    assert f.feed("It carried <|hero|> hundreds of years into the future.") + f.flush() == (
        "It carried Yu the Great thousands of years into the future.")
    for seed in range(20):
        assert "hundreds" not in opening(req, pick_cast(req, seed), seed)[0].lower()
    assert era_phrases("夏", "zh") == {} and era_phrases("Qing", "en") == {}

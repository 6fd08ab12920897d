"""The story book's handlers as Gradio calls them, in process: a row that is not there, a pick with
no pair, the parent's clear-all, 👍 under the story tab, and the read-aloud WAV kept with its story."""

from __future__ import annotations

import wave
from types import SimpleNamespace

import pytest

from storyteller.library import Library
from storyteller.ui import library as tab
from storyteller.ui import pick
from storyteller.ui.visitor import Visitor

REQ = {"dynasty": "唐", "power": "隐形", "style": "轻松", "lang": "zh", "length": 300, "age_band": "6-8"}


@pytest.fixture
def lib(settings_env) -> Library:
    lib = Library()
    for i in range(3):
        lib.save_story("m", REQ, f"第{i}个故事。", "done")
    return lib


def test_a_row_that_is_not_there_opens_nothing(lib):
    _, _, state = tab.show_page("", False, 1)
    assert state["ids"] == [3, 2, 1]
    for index in ([7, 0], [-1, 0], None, "x"):
        out = tab.open_story(state, None, SimpleNamespace(index=index))
        assert out[0]["visible"] is False and out[-1] is None
    opened = tab.open_story(state, None, SimpleNamespace(index=[2, 0]))
    assert opened[2] == "第0个故事。" and opened[-1] == 1 and opened[6]["visible"] is False  # no audio yet: no player


def test_another_family_s_row_is_not_opened_even_with_its_id_in_the_state(lib):
    visitor = Visitor(public=True)
    out = tab.open_story({"ids": [1]}, visitor, SimpleNamespace(index=[0, 0]))  # a forged state
    assert out[0]["visible"] is False and out[2] == ""


def test_clear_all_needs_the_box_ticked(lib):
    said = tab.clear_all(False)[0]
    assert "我确定" in said and lib.count() == 3
    assert "3" in tab.clear_all(True)[0] and lib.count() == 0


def test_thumbs_under_the_story_tab_rate_the_story_just_told(lib):
    session = SimpleNamespace(run=None)
    assert "先讲一个故事" in tab.rate_told("up")(session, [])
    session.run = SimpleNamespace(story_id=2)
    assert "记住啦" in tab.rate_told("down")(session, ["scary", "<b>"])
    assert (lib.get(2).rating, lib.get(2).reasons) == (-1, ["scary"])


def test_a_pick_with_no_pair_yet_says_tell_first(lib):
    said, *buttons = pick.choose("left")(pick.PairSession())
    assert "讲两个故事" in said and all(b["interactive"] is False for b in buttons)
    session = pick.PairSession()
    session.pair_id = lib.new_pair(1, 2).id
    said, *_ = pick.choose("both_bad")(session)
    assert "记住啦" in said and lib.pairs()[0].choice == "both_bad"


def test_the_read_aloud_wav_of_a_finished_story_is_kept_once(lib, tmp_path):
    wav = tmp_path / "story.wav"
    with wave.open(str(wav), "wb") as w:
        w.setparams((1, 2, 16000, 0, "NONE", "not compressed"))
        w.writeframes(b"\x00\x01" * 800)
    done, stopped = SimpleNamespace(status="done", story_id=1), SimpleNamespace(status="stopped", story_id=2)
    tab.keep_told_audio(done, ("text", "status", None, str(wav)), None)
    tab.keep_told_audio(stopped, ("text", "status", None, str(wav)), None)  # what was heard before Stop: not kept
    tab.keep_told_audio(done, ("text", "status", None, None), None)  # read-aloud off
    assert lib.audio_path(1) is not None and lib.audio_path(2) is None
    player, files = tab.read_again(1)  # played from the kept file: nothing is synthesised
    assert player["value"] == str(lib.audio_path(1)) and files[-1].endswith("story-1.wav")

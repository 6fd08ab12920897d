"""The story tab's flow, through its handlers: a new Tell takes over a running story at once,
Regenerate tells what is on screen, speech never holds up the text, and Stop silences the voice
and keeps what was heard. (The same flow in a browser: test_story_layout.py.)"""

from __future__ import annotations

import shutil
import threading
import wave

import gradio as gr
import pytest

from storyteller import studio
from storyteller.store import Store
from storyteller.tts.worker import get_speaker
from storyteller.ui import readaloud, story
from tests.ui.conftest import ReplayEngine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
STORY = "唐朝的李白来到了今天。他学会了隐形！奥特曼说：“我们一起帮助大家吧。”泡泡怪变小了，大家都笑了。" * 6
TANG = ("唐", "隐形", "轻松", "zh", 300, "replay", 0.8)
SONG = ("宋", "飞行", "搞笑", "zh", 200, "replay", 0.8)


@pytest.fixture
def engine(settings_env, listed_replay, monkeypatch) -> ReplayEngine:
    engine = ReplayEngine(text=STORY, delay_s=0.01)  # ~2.5 s a story: long enough to interrupt
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    return engine


class Collector:
    """Runs a handler's frames in a thread, like Gradio's worker, keeping each frame."""

    def __init__(self, frames):
        self.frames, self.done = [], threading.Event()
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(frames,), daemon=True)
        self.thread.start()

    def _run(self, frames):
        for frame in frames:
            self.frames.append(frame)
            if frame[0]:
                self.first.set()
        self.done.set()


def wav_seconds(path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def take(frames) -> list[tuple[tuple, float | None]]:
    """Each frame with its download's seconds, read before the next frame is asked for (then
    Gradio has copied it; the story's folder goes once its frames end)."""
    return [(f, wav_seconds(f[3]) if isinstance(f[3], str) else None) for f in frames]


def test_tell_during_a_story_stops_it_and_starts_the_new_one(engine):
    session = story.TellSession()
    old = Collector(story.tell_story(*TANG, session))
    assert old.first.wait(10)
    new = story.tell_story(*SONG, session)
    first_new = next(new)  # the old story is stopped and has sent its last frame by now
    assert old.done.wait(5), "the old story did not end when a new one was told"
    sent_by_old = len(old.frames)
    rest = list(new)
    assert first_new[0] == "" and rest[-1][0] == STORY and "讲完啦" in rest[-1][1]
    assert len(old.frames) == sent_by_old and 0 < len(old.frames[-1][0]) < len(STORY)
    old_prompt, new_prompt = engine.prompts
    assert (old_prompt.request.dynasty, new_prompt.request.dynasty) == ("唐", "宋")
    saved = {s["request"]["dynasty"]: s["status"] for s in Store().stories()}
    assert saved == {"唐": "stopped", "宋": "done"}  # the old story is kept, as far as it got


def test_regenerate_after_the_dropdowns_changed_tells_the_new_choices(engine):
    session = story.TellSession()
    list(story.tell_story(*TANG, session))
    list(story.regenerate(*SONG, session))
    assert [(p.request.dynasty, p.request.power) for p in engine.prompts] == [("唐", "隐形"), ("宋", "飞行")]


def test_a_new_story_clears_the_last_ones_audio(engine):
    """Read-aloud on or off, the first frame replaces the player and empties the download."""
    for read in (False, True):
        first = next(story.tell_story(*TANG, story.TellSession(), read))
        assert first[3] is None
        assert first[2] == gr.update(value=None) or str(first[2]).endswith(".wav")  # emptied, or a new stream


@needs_espeak
def test_speech_never_holds_up_the_text(engine):
    """The speech worker is busy (another family's story holds it): the whole text still streams,
    and its audio follows once the worker is free."""
    speaker = get_speaker().start()
    frames = story.tell_story(*TANG, story.TellSession(), True, readaloud.AUTO, 170)
    taken = []
    with speaker._lock:  # what a synthesis for another session holds
        for frame in frames:
            taken.append(frame)
            if "讲完啦" in frame[1]:
                break
        assert taken[-1][0] == STORY, "the text waited for speech"
        assert not any(isinstance(f[2], str) and f[0] for f in taken), "no sentence could have been spoken yet"
        assert len({f[0] for f in taken}) > 10  # it streamed, frame by frame
    rest = take(frames)
    chunks = [f[2] for f, _ in rest if isinstance(f[2], str)]
    assert chunks and rest[-1][0][3].endswith(".wav") and rest[-1][1] > 5


@needs_espeak
def test_stop_silences_the_voice_and_keeps_what_was_heard(engine):
    session = story.TellSession()
    engine.delay_s = 0.03  # long enough to Stop mid-story
    frames = story.tell_story(*TANG, session, True, readaloud.AUTO, 170)
    heard = 0.0
    for frame in frames:
        if isinstance(frame[2], str) and frame[0]:
            heard += wav_seconds(frame[2])
            if heard > 2:
                break
    assert heard > 2, "no voice before the story ended"
    story.stop_story("zh", session)
    rest = take(frames)
    assert not any(isinstance(f[2], str) for f, _ in rest), "audio was sent after Stop"
    last, kept = rest[-1]
    assert last[2] == gr.update(value=None), "the player is not silenced"
    assert "已停止" in last[1] and len(last[0]) < len(STORY)
    assert kept >= heard * 0.9, "the download lacks what was heard"
    assert Store().stories()[0]["status"] == "stopped"


def test_every_press_is_answered_in_the_browser_first():
    """Every press has its browser-side answer: words for the status line in both languages."""
    for status in ("waiting", "stopping"):
        js = story.press_js(status)
        assert story.LABELS["zh"][status] in js and story.LABELS["en"][status] in js
        assert "pause()" in js and "return args" in js
    assert "scrollIntoView" in story.press_js("waiting", scroll=True)

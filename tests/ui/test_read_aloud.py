"""Read-aloud on the story tab: audio arrives while the text is still growing, in story order,
the whole story is offered as one WAV, without a speech engine the story still streams, and a
story leaves no temp folder behind."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import wave
import warnings

import gradio as gr
import pytest

from storyteller import studio
from storyteller.errors import TTSUnavailable
from storyteller.ui import readaloud, story
from tests.ui.conftest import ReplayEngine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
STORY = "唐朝的李白来到了今天。他学会了隐形！奥特曼说：“我们一起帮助大家吧。”泡泡怪变小了，大家都笑了。" * 3
CHOICES = ("唐", "隐形", "轻松", "zh", 300, "replay", 0.8)


@pytest.fixture
def engine(settings_env, listed_replay, monkeypatch) -> ReplayEngine:
    engine = ReplayEngine(text=STORY, delay_s=0.01)
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    return engine


def wav_seconds(path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def take_frames(frames) -> list[tuple[tuple, dict[int, float]]]:
    """Each frame with the seconds of its audio files, read before the next frame is asked for:
    Gradio copies a frame's files into its cache then, and they may be gone after."""
    return [(f, {i: wav_seconds(f[i]) for i in (2, 3) if isinstance(f[i], str)}) for f in frames]


@needs_espeak
def test_audio_streams_while_the_text_grows(engine):
    taken = take_frames(story.tell_story(*CHOICES, story.TellSession(), True, readaloud.AUTO, 160))
    frames, seconds = [f for f, _ in taken], [s for _, s in taken]
    final_text = frames[-1][0]
    assert final_text == STORY
    with_audio = [i for i, f in enumerate(frames) if isinstance(f[2], str) and "/lead-" not in f[2]]
    assert len(with_audio) >= 3
    first = frames[with_audio[0]]
    assert len(first[0]) < len(final_text) / 2  # the first sentence is heard long before the end
    assert seconds[with_audio[0]][2] >= readaloud.CHUNK_S * 0.99  # a piece of speech, in the player's chunk size
    assert frames[-1][3].endswith(".wav") and seconds[-1][3] > sum(seconds[i][2] for i in with_audio) * 0.9


@needs_espeak
def test_a_told_or_dropped_story_leaves_no_temp_folder(engine, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def left() -> list[str]:
        return [p.name for p in tmp.iterdir() if p.name.startswith("storyteller")]

    taken = take_frames(story.tell_story(*CHOICES, story.TellSession(), True, readaloud.AUTO, 160))
    assert taken[-1][1][3] > 1.0 and left() == []  # the whole story was handed on, then its folder went
    frames = story.tell_story(*CHOICES, story.TellSession(), True, readaloud.AUTO, 160)
    for frame in frames:
        if isinstance(frame[2], str):
            break  # dropped at the first sentence heard (a new Tell, a closed tab)
    frames.close()
    for t in threading.enumerate():
        if t.name == "read-aloud":
            t.join(60)  # a sentence being spoken when the story was dropped is finished first
    assert left() == []


def test_no_speech_engine_still_tells_the_story(engine, monkeypatch):
    class NoSpeaker:
        def start(self):
            raise TTSUnavailable("No speech engine is available.")

    monkeypatch.setattr(readaloud, "get_speaker", lambda: NoSpeaker())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = list(story.tell_story(*CHOICES, story.TellSession(), True, readaloud.AUTO, 150))
    assert frames[-1][0] == STORY and not any(isinstance(f[2], str) for f in frames)
    assert any("espeak-ng" in str(w.message) for w in caught)


def test_reading_aloud_off_sends_no_audio(engine):
    frames = list(story.tell_story(*CHOICES, story.TellSession()))
    assert frames[-1][0] == STORY and not any(isinstance(f[2], str) or isinstance(f[3], str) for f in frames)
    # The player is cleared once by an update (a plain None would open a media stream), then left alone;
    # the download is None throughout (cheaper for Gradio than a skip on every frame).
    assert frames[0][2] == gr.update(value=None) and all(f[2] == gr.skip() for f in frames[1:])
    assert all(f[3] is None for f in frames)


@needs_espeak
def test_client_gets_the_whole_story_as_a_wav(app):
    from gradio_client import Client

    job = Client(app.url, verbose=False).submit("唐", "隐形", "轻松", "zh", 50, app.model, 0.8, True,
                                                 readaloud.AUTO, 220, api_name="/tell")
    outputs = list(job)
    final = job.outputs()[-1]
    assert final[0] and len(outputs) >= 5
    assert final[3] and str(final[3]).endswith(".wav") and wav_seconds(final[3]) > 0.5


@pytest.mark.browser
@pytest.mark.slow
@needs_espeak
def test_browser_player_appears_while_text_still_grows(app):
    from tests.ui.test_browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400}, locale="zh-CN")  # a Chinese page
        page.goto(app.url)
        page.wait_for_selector("#tell")
        length = page.locator("#length input[type=number]")
        length.fill("1000")
        length.press("Enter")
        page.click("#read-aloud input")
        page.click("#tell")
        clip_link = page.locator("#story-audio a[data-testid=download-link]")
        deadline = time.monotonic() + 60
        while clip_link.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert clip_link.count() == 1, "no audio reached the player"
        heard_at = len(page.locator("#story-text textarea").input_value())
        assert page.locator("#story-audio audio").count() == 1
        grew = False
        while time.monotonic() < deadline and not grew:
            time.sleep(0.2)
            grew = len(page.locator("#story-text textarea").input_value()) > heard_at + 20
        assert grew, "the text did not keep growing after the audio started"
        page.click("#stop")
        # Tell answers again once the story stopped (or, this model being fast, had already ended)
        try:
            page.locator("#story-stats", has_text=re.compile("已停止|讲完啦")).wait_for(timeout=30_000)
        except Exception:
            raise AssertionError(f"no end status; the line says {page.locator('#story-stats').inner_text()!r}, "
                                 f"the story {page.locator('#story-text textarea').input_value()[-80:]!r}") from None
        page.click("#read-aloud input")  # off: the next story empties the player and opens no stream
        # The story's last sentences may still be read aloud after its text ended, and a Tell pressed
        # while that event closes is dropped: press again, as a child would, until a new story starts.
        deadline = time.monotonic() + 30
        while clip_link.count() and time.monotonic() < deadline:
            page.click("#tell")
            for _ in range(30):
                if not clip_link.count():
                    break
                time.sleep(0.1)
        assert clip_link.count() == 0 and page.locator("#story-audio audio").count() == 0
        browser.close()


def test_while_the_text_streams_the_player_is_kept_only_a_little_ahead(settings_env):
    """Each chunk costs the text frame that carries it, so during the text the player gets only what
    keeps it AHEAD_S ahead of the voice (a clock stands in for time); the rest follows at the end."""
    now = [100.0]
    audio = readaloud.AudioFrames("zh", None, 150, clock=lambda: now[0])
    try:
        audio.params = wave._wave_params(1, 2, 22050, 0, "NONE", "not compressed")
        audio.pcm += b"\x00\x00" * 22050 * 10  # ten seconds made at once
        sent = [audio.chunk() if audio.due() else None for _ in range(20)]
        ahead = int(readaloud.AHEAD_S / readaloud.CHUNK_S)
        assert sum(p is not None for p in sent) == ahead  # no further ahead than AHEAD_S
        now[0] += 1.0  # a second of the voice has played
        assert audio.due() and audio.chunk()
        assert len(audio.pcm) == 22050 * 2 * (10 - (ahead + 1) * readaloud.CHUNK_S)  # nothing was lost
    finally:
        audio.reader.close()


"""Read-aloud: real WAVs from the real speech engine, in order, per session, with friendly failure."""

from __future__ import annotations

import array
import shutil
import threading
import wave
from pathlib import Path

import pytest

from storyteller.errors import StorytellerError, TTSUnavailable
from storyteller.tts.readaloud import ReadAloud, speak_text
from storyteller.tts.sentences import SentenceSplitter, split_sentences
from storyteller.tts.speakable import detect_lang, to_pinyin
from storyteller.tts.worker import Speaker, wav_is_complete

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

ZH = "唐朝的李白穿越到了今天。他获得了隐形的超能力！奥特曼说：“我们一起打败泡泡怪吧。”最后，大家都成了好朋友。"
EN = 'Li Bai came from the Tang dynasty. He could fly! "Let us help," said Ultraman. Everyone smiled.'


def wav_stats(path: Path) -> tuple[float, float]:
    """(duration in seconds, RMS of the 16-bit samples)."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        frames = w.readframes(w.getnframes())
        duration = w.getnframes() / w.getframerate()
    samples = array.array("h", frames)
    rms = (sum(s * s for s in samples[::4]) / max(1, len(samples[::4]))) ** 0.5
    return duration, rms


@pytest.fixture(scope="module")
def speaker():
    sp = Speaker(timeout_s=20)
    try:
        sp.start()
    except TTSUnavailable as e:
        pytest.skip(str(e))
    yield sp
    sp.close()


# --- sentence splitting ----------------------------------------------------------------------
def test_split_chinese_keeps_quotes_with_their_sentence():
    assert split_sentences("他说：“你好！”我们走吧。好") == ["他说：“你好！”", "我们走吧。", "好"]


def test_split_english_respects_numbers_and_abbreviations():
    assert split_sentences("Dr. Li saw pi as 3.14 today. Wow! Done") == ["Dr. Li saw pi as 3.14 today.", "Wow!", "Done"]


def test_streamed_splitting_matches_whole_text_splitting():
    splitter, streamed = SentenceSplitter(), []
    for ch in ZH:
        streamed += splitter.feed(ch)
    streamed += splitter.flush()
    assert streamed == split_sentences(ZH)
    assert len(streamed) == 4


def test_sentence_waits_for_the_next_character():
    splitter = SentenceSplitter()
    assert splitter.feed("一年有365.") == []  # could still become 365.2425
    assert splitter.feed("2425天。") == []
    assert splitter.feed("好") == ["一年有365.2425天。"]


def test_pinyin_with_tone_numbers_and_digits():
    assert to_pinyin("李白飞了3天。") == "li3 bai2 fei1 le5 san1 tian1."
    assert detect_lang(ZH) == "zh" and detect_lang(EN) == "en"


# --- real speech -----------------------------------------------------------------------------
@needs_espeak
@pytest.mark.parametrize("text,lang", [(ZH, "zh"), (EN, "en")])
def test_real_wav_has_plausible_duration_and_is_not_silent(speaker, tmp_path, text, lang):
    out = speak_text(text, tmp_path / f"story-{lang}.wav", lang, speaker=speaker)
    duration, rms = wav_stats(out)
    assert 2.0 < duration < 30.0
    assert rms > 300  # speech, not silence
    assert wav_is_complete(out) == pytest.approx(duration, rel=0.05)


def test_chinese_is_read_as_pinyin_on_espeak_only():
    """Debian's espeak-ng mispronounces hanzi: on espeak, Chinese goes out as tone-numbered pinyin."""
    from storyteller.tts.speakable import speakable

    assert speakable("李白。", "zh", "pyttsx3.drivers.espeak") == "li3 bai2."
    assert speakable("李白。", "zh", "pyttsx3.drivers.sapi5") == "李白。"
    assert speakable("Li Bai.", "en", "pyttsx3.drivers.espeak") == "Li Bai."


@needs_espeak
def test_chinese_uses_the_pinyin_voice(speaker):
    from storyteller.tts.worker import _pick_voice

    assert _pick_voice(speaker.voices, "zh", None).endswith("cmn-latn-pinyin")
    assert "en" in _pick_voice(speaker.voices, "en", None)


@needs_espeak
def test_read_aloud_clips_come_in_story_order_while_streaming(speaker, tmp_path):
    reader = ReadAloud("zh", out_dir=tmp_path, speaker=speaker)
    seen = []
    for ch in ZH:
        reader.feed(ch)
        seen += reader.ready()
    reader.finish()
    seen += list(reader.drain())
    assert [c.index for c in seen] == [0, 1, 2, 3]
    assert [c.text for c in seen] == split_sentences(ZH)
    assert all(c.path and c.path.exists() and c.error is None for c in seen)
    joined = reader.story_wav()
    assert wav_stats(joined)[0] == pytest.approx(sum(c.duration_s for c in seen) + 4 * 0.25, rel=0.05)


@needs_espeak
def test_two_sessions_at_once_each_get_their_own_audio(speaker, tmp_path):
    results = {}

    def session(name, text, lang):
        reader = ReadAloud(lang, out_dir=tmp_path / name, speaker=speaker)
        for word in text.split("。" if lang == "zh" else " "):
            reader.feed(word + ("。" if lang == "zh" else " "))
        reader.finish()
        results[name] = (list(reader.drain()), reader.story_wav())

    threads = [threading.Thread(target=session, args=("zh", ZH, "zh")),
               threading.Thread(target=session, args=("en", EN, "en"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    zh_clips, zh_wav = results["zh"]
    en_clips, en_wav = results["en"]
    assert zh_wav.parent == tmp_path / "zh" and en_wav.parent == tmp_path / "en"
    assert {c.text for c in zh_clips}.isdisjoint({c.text for c in en_clips})
    assert all(c.path and c.path.parent == tmp_path / "zh" for c in zh_clips), [c.error for c in zh_clips]
    assert wav_stats(zh_wav)[1] > 300 and wav_stats(en_wav)[1] > 300


def test_missing_speech_engine_is_a_friendly_error(tmp_path):
    broken = Speaker(timeout_s=10, driver="no-such-speech-driver")
    with pytest.raises(TTSUnavailable) as err:
        broken.synthesize("你好。", tmp_path / "x.wav")
    assert "espeak-ng" in str(err.value)  # the hint says how to fix it
    assert not (tmp_path / "x.wav").exists()


def test_empty_text_says_so(speaker, tmp_path):
    with pytest.raises(StorytellerError) as err:
        speak_text("   ", tmp_path / "empty.wav", speaker=speaker)
    assert "empty" in str(err.value).lower()


# --- CLI -------------------------------------------------------------------------------------
@needs_espeak
def test_cli_speak_writes_a_wav_and_fails_friendly(tmp_path):
    from typer.testing import CliRunner

    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401

    runner = CliRunner()
    ok = runner.invoke(app, ["speak", "李白帮助奥特曼打败了泡泡怪。大家都笑了！", "--out", str(tmp_path / "s.wav")])
    assert ok.exit_code == 0, ok.output
    assert wav_stats(tmp_path / "s.wav")[0] > 1.0
    bad = runner.invoke(app, ["speak", "@" + str(tmp_path / "missing.txt"), "--out", str(tmp_path / "x.wav")])
    assert bad.exit_code == 1
    assert "Could not read" in bad.output and "Traceback" not in bad.output

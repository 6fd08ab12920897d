"""pyttsx3 in a process of its own, one synthesis at a time.

pyttsx3's engine is a process-wide singleton that is not safe across threads, and its
`runAndWait()` can return before the WAV file is written. So the engine lives in a dedicated
worker process fed through a pipe; a request is done only when the WAV on disk is whole (its
header's frame count matches its size and the size has stopped changing). Now and then the
engine drops a request and never writes the file: after a short grace it is asked once more. A
worker that hangs past the timeout is killed and replaced on the next request.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
import wave
from pathlib import Path

from pydantic import BaseModel

from storyteller.errors import ServiceError, TTSUnavailable
from storyteller.tts.speakable import speakable

# Best first. Matched against the end of a voice id (espeak-ng: "sit/cmn-latn-pinyin") or the
# start of a voice name (SAPI5: "Microsoft Huihui Desktop", macOS: "Ting-Ting").
VOICE_HINTS = {"zh": ["cmn-latn-pinyin", "zh-cn", "zh_cn", "microsoft huihui", "ting-ting", "tingting"],
               "en": ["en-us", "en_us", "/en", "microsoft zira", "microsoft david", "samantha", "alex"]}


def _matches(v: "Voice", hint: str) -> bool:
    return v.id.lower().endswith(hint) or v.name.lower().startswith(hint)


class Voice(BaseModel):
    id: str
    name: str
    languages: list[str] = []


def wav_is_complete(path: Path) -> float | None:
    """Duration in seconds if `path` holds a whole, non-empty WAV; None if not (yet)."""
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as w:
            frames, width, channels, rate = w.getnframes(), w.getsampwidth(), w.getnchannels(), w.getframerate()
    except (OSError, EOFError, wave.Error):
        return None
    if frames == 0 or size < 44 + frames * width * channels:
        return None
    return frames / rate


def _wait_for_wav(path: Path, timeout_s: float) -> float:
    deadline, last_size = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        duration = wav_is_complete(path)
        size = path.stat().st_size if path.exists() else -1
        if duration is not None and size == last_size:
            return duration
        last_size = size
        time.sleep(0.01)
    raise TimeoutError(f"no complete WAV at {path} after {timeout_s}s")


def _pick_voice(voices: list[Voice], lang: str, wanted: str | None) -> str | None:
    if wanted:
        for v in voices:
            if wanted in (v.id, v.name):
                return v.id
    ranked = voices_ranked(voices, lang)
    return ranked[0].id if ranked else None


def voices_ranked(voices: list[Voice], lang: str) -> list[Voice]:
    return [v for hint in VOICE_HINTS[lang] for v in voices if _matches(v, hint)]


def _serve(conn, driver_name: str | None = None) -> None:
    """Worker process main loop: init the engine, then answer requests until the pipe closes."""
    import contextlib
    import sys

    sys.stdout = open(os.devnull, "w")  # the espeak driver prints "Audio saved to ..." per file
    with contextlib.suppress(Exception):
        os.nice(5)  # speech must not starve the story stream of CPU
    try:
        import pyttsx3

        engine = pyttsx3.init(driver_name)
        driver = type(engine.proxy._driver).__module__
        voices = [Voice(id=v.id, name=v.name or v.id, languages=[str(x) for x in (v.languages or [])])
                  for v in engine.getProperty("voices")]
    except Exception as e:  # no espeak-ng / SAPI5 / NSSpeechSynthesizer
        conn.send({"error": "unavailable", "detail": f"{type(e).__name__}: {e}"})
        return
    conn.send({"ok": True, "driver": driver, "voices": [v.model_dump() for v in voices]})
    while True:
        try:
            req = conn.recv()
        except EOFError:
            return
        try:
            voice = _pick_voice(voices, req["lang"], req.get("voice"))
            if voice:
                engine.setProperty("voice", voice)
            engine.setProperty("rate", int(req["rate"]))
            path, text = Path(req["path"]), speakable(req["text"], req["lang"], driver)
            grace = max(1.0, req["timeout_s"] / 4)  # a sentence takes tens of ms; far more means it was dropped
            for last, wait_s in ((False, grace), (True, max(grace, req["timeout_s"] - grace))):
                path.unlink(missing_ok=True)
                engine.save_to_file(text, str(path))
                engine.runAndWait()
                try:
                    duration = _wait_for_wav(path, wait_s)
                    break
                except TimeoutError:
                    if last:
                        raise
            conn.send({"ok": True, "path": str(path), "duration": duration})
        except Exception as e:
            conn.send({"error": "failed", "detail": f"{type(e).__name__}: {e}"})


class Speaker:
    """Client side of the worker. Thread-safe: callers queue on a lock, one request at a time."""

    def __init__(self, timeout_s: float = 20.0, driver: str | None = None):
        self.timeout_s = timeout_s
        self.driver_name = driver
        self._lock = threading.Lock()
        self._proc: mp.process.BaseProcess | None = None
        self._conn = None
        self.driver = ""
        self.voices: list[Voice] = []

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, self.driver_name), daemon=True, name="storyteller-tts")
        proc.start()
        child.close()
        if not parent.poll(self.timeout_s):
            proc.kill()
            raise TTSUnavailable("The speech engine was too slow to start (the computer is busy).",
                                 hint="Try reading aloud again in a moment.")
        hello = parent.recv()
        if "error" in hello:
            proc.join(timeout=1)
            raise TTSUnavailable(f"No speech engine is available ({hello['detail']}).")
        self._proc, self._conn = proc, parent
        self.driver = hello["driver"]
        self.voices = [Voice(**v) for v in hello["voices"]]

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(timeout=2)
        self._proc = self._conn = None

    @property
    def ready(self) -> bool:
        """Started and alive: a sentence now is spoken without waiting for the worker to start."""
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> "Speaker":
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
        return self

    def synthesize(self, text: str, out: Path, lang: str = "zh", voice: str | None = None,
                   rate: int = 150) -> float:
        """Write `text` spoken to the WAV file `out`; returns its duration in seconds."""
        req = {"text": text, "path": str(out), "lang": lang, "voice": voice, "rate": rate,
               "timeout_s": self.timeout_s}
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            try:
                self._conn.send(req)
                if not self._conn.poll(self.timeout_s + 1):
                    raise TimeoutError
                reply = self._conn.recv()
            except (TimeoutError, EOFError, OSError, BrokenPipeError):
                self._stop()
                raise ServiceError("Reading aloud took too long and was skipped for this sentence.") from None
        if "error" in reply:
            raise ServiceError(f"Could not read this sentence aloud ({reply['detail']}).")
        return float(reply["duration"])

    def close(self) -> None:
        with self._lock:
            self._stop()


_speaker: Speaker | None = None
_speaker_lock = threading.Lock()


def get_speaker(timeout_s: float | None = None) -> Speaker:
    """The process-wide speaker (one worker process serves every session, in turn)."""
    global _speaker
    with _speaker_lock:
        if _speaker is None:
            from storyteller.config import get_settings

            tts = get_settings().tts
            _speaker = Speaker(timeout_s or tts.timeout_s, tts.driver)
        return _speaker


def voices_for(lang: str, speaker: Speaker | None = None) -> list[Voice]:
    """Installed voices that suit `lang`, best first (empty when TTS is unavailable)."""
    try:
        sp = (speaker or get_speaker()).start()
    except TTSUnavailable:
        return []
    return voices_ranked(sp.voices, lang) or sp.voices[:5]

"""Speak a story while it streams: each sentence is synthesised as soon as it is complete.

`ReadAloud` takes text chunks as they arrive, hands finished sentences to a background thread
that synthesises them in order through the shared `Speaker`, and hands back the clips that are
ready, so listening starts within about a second of the first sentence while the text keeps
coming. Nothing here blocks the caller: the speech engine is started by the worker thread (its
first start takes seconds), and a missing engine shows up as `unavailable`, never as a wait.
`story_wav()` joins every clip into one downloadable file, `spoken_wav()` only those handed on so
far (what a listener heard before Stop). `close()` deletes the temp folder a reader made once its
audio has been handed on (a UI copies what it serves).
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel

from storyteller.errors import StorytellerError, TTSUnavailable
from storyteller.tts.sentences import SentenceSplitter
from storyteller.tts.worker import Speaker, get_speaker

GAP_S = 0.25  # silence between sentences in the joined file


class Clip(BaseModel):
    index: int
    text: str
    path: Path | None = None
    duration_s: float = 0.0
    sentence_end_at: float = 0.0  # perf_counter when the sentence was complete in the stream
    ready_at: float = 0.0  # perf_counter when its audio was written
    error: str | None = None

    @property
    def latency_s(self) -> float:
        return self.ready_at - self.sentence_end_at


class ReadAloud:
    def __init__(self, lang: str = "zh", voice: str | None = None, rate: int = 150,
                 out_dir: Path | None = None, speaker: Speaker | None = None):
        self.lang, self.voice, self.rate = lang, voice, rate
        self.owns_dir = out_dir is None  # only a folder it made itself is deleted by close()
        self.out_dir = Path(out_dir or tempfile.mkdtemp(prefix="storyteller-audio-"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.speaker = speaker or get_speaker()
        self.run_id = uuid.uuid4().hex[:8]
        self.splitter = SentenceSplitter()
        self.clips: list[Clip] = []
        self.handed = 0  # clips handed on by ready()/drain(), in story order
        self.unavailable: TTSUnavailable | None = None  # why no speech engine could start (worker thread)
        self._todo: queue.Queue[Clip | None] = queue.Queue()
        self._done: queue.Queue[Clip] = queue.Queue()
        self._finished = self._closed = self._stopped = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, daemon=True, name="read-aloud")
        self._thread.start()

    def feed(self, chunk: str) -> None:
        for sentence in self.splitter.feed(chunk):
            self._submit(sentence)

    def finish(self) -> None:
        """No more text is coming: speak what is left, then let the worker thread end."""
        if not self._finished:
            for sentence in self.splitter.flush():
                self._submit(sentence)
            self._finished = True
            self._todo.put(None)

    def cancel(self) -> None:
        """Drop sentences not yet spoken (the story was stopped)."""
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        self._finished = True
        self._todo.put(None)

    def close(self) -> None:
        """Stop speaking and delete the temp folder this reader made, clips and joined files with it.
        If a sentence is being spoken, the worker thread deletes the folder when it is done."""
        self.cancel()
        with self._lock:
            self._closed = True
            if self._stopped:
                self._remove()

    def _remove(self) -> None:
        if self.owns_dir:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    def ready(self) -> list[Clip]:
        """Clips finished since the last call, in story order."""
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                self.handed += len(out)
                return out

    @property
    def all_handed(self) -> bool:
        """After finish(): every clip is made and handed on (or the reader was stopped)."""
        return not self._thread.is_alive() and self._done.empty()

    def drain(self, timeout_s: float = 60.0, stop: Callable[[], bool] = lambda: False) -> Iterator[Clip]:
        """After finish(): yield the remaining clips as they become ready; end early once `stop()`
        says so (checked at least every 50 ms)."""
        deadline = time.monotonic() + timeout_s
        while (self._thread.is_alive() or not self._done.empty()) and not stop():
            try:
                clip = self._done.get(timeout=max(0.01, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > deadline:
                    return
                continue
            self.handed += 1
            yield clip

    def story_wav(self, out: Path | None = None) -> Path | None:
        """All spoken clips joined into one WAV (None if nothing was spoken)."""
        return self._join(self.clips, out or self.out_dir / f"story-{self.run_id}.wav")

    def spoken_wav(self, out: Path | None = None) -> Path | None:
        """The clips handed on so far joined into one WAV: what was heard before a Stop."""
        # clips are made and handed on in story order, so the first `handed` ones went out
        return self._join(self.clips[:self.handed], out or self.out_dir / f"spoken-{self.run_id}.wav")

    def _join(self, clips: list[Clip], out: Path) -> Path | None:
        with self._lock:  # close() may be deleting the folder
            if self._closed and self._stopped:
                return None
            spoken = [c.path for c in clips if c.path and c.path.exists()]
            return join_wavs(spoken, out) if spoken else None

    def _submit(self, sentence: str) -> None:
        clip = Clip(index=len(self.clips), text=sentence, sentence_end_at=time.perf_counter())
        self.clips.append(clip)
        self._todo.put(clip)

    def _work(self) -> None:
        try:
            self.speaker.start()  # seconds the first time; here, so the text never waits for it
        except TTSUnavailable as e:
            self.unavailable = e
        try:
            while (clip := self._todo.get()) is not None:
                if self.unavailable:
                    continue
                path = self.out_dir / f"{self.run_id}-{clip.index:03d}.wav"
                try:
                    clip.duration_s = self.speaker.synthesize(clip.text, path, self.lang, self.voice, self.rate)
                    clip.path = path
                except StorytellerError as e:
                    clip.error = str(e)
                clip.ready_at = time.perf_counter()
                self._done.put(clip)
        finally:
            with self._lock:
                self._stopped = True
                if self._closed:
                    self._remove()


def join_wavs(paths: list[Path], out: Path, gap_s: float = GAP_S) -> Path:
    """Concatenate WAV files of one format, with a short silence after each."""
    with wave.open(str(paths[0]), "rb") as first:
        params = first.getparams()
    gap = b"\x00" * int(params.framerate * gap_s) * params.sampwidth * params.nchannels
    with wave.open(str(out), "wb") as joined:
        joined.setparams(params)
        for path in paths:
            with wave.open(str(path), "rb") as w:
                joined.writeframes(w.readframes(w.getnframes()))
            joined.writeframes(gap)
    return out


def speak_text(text: str, out: Path, lang: str = "zh", voice: str | None = None, rate: int = 150,
               speaker: Speaker | None = None) -> Path:
    """Speak a whole text into one WAV file (the CLI's `storyteller speak`)."""
    reader = ReadAloud(lang, voice, rate, out_dir=Path(out).parent / f".{Path(out).stem}-clips", speaker=speaker)
    reader.feed(text)
    reader.finish()
    errors = [c.error for c in reader.drain() if c.error]
    joined = reader.story_wav(Path(out))
    for clip in reader.clips:
        if clip.path:
            clip.path.unlink(missing_ok=True)
    reader.out_dir.rmdir() if not any(reader.out_dir.iterdir()) else None
    if joined is None:
        raise StorytellerError("Nothing could be read aloud.", errors[0] if errors else "The text was empty.")
    return joined

"""Read-aloud on the story tab: a checkbox, a voice, a speed, a streaming player and a download.

`speak_frames` wraps the story tab's (text, status) frames: each new piece of text goes to
`ReadAloud`, and every sentence whose audio is ready is sent to the streaming player while the
text keeps growing (speech is made in the reader's worker thread and process, never in the way
of the text). When the story ends, the rest is spoken and the whole story is offered as one WAV
file; after Stop, what was sent to the player is. Without a speech engine the story still
streams and a friendly note says why.
Gradio copies each file into its own cache before it asks for the next frame, so the story's
temp folder is deleted as soon as the last frame is taken (or the story is dropped).
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Iterator

import gradio as gr

from storyteller.config import get_settings
from storyteller.errors import TTSUnavailable
from storyteller.tts.readaloud import Clip, ReadAloud
from storyteller.tts.worker import get_speaker, voices_for
from storyteller.ui import i18n
from storyteller.ui.context import UIContext

AUTO = "auto"
RATES = {"normal": 150, "bedtime": 110}
LABELS = i18n.table("read")  # {lang: {name: words}}, from strings/<lang>.toml
CHUNK_S = 0.5  # seconds of sound handed to the player per frame (see AudioFrames)
AHEAD_S = 1.5  # while the text streams, the player is kept this far ahead of the voice, no further
LEAD_S, LEAD_RATE = 0.2, 22050  # the silence that opens the player's stream (AudioFrames.lead_in)


class AudioFrames:
    """Holds one story's reader; hands the audio made so far to the streaming player in small
    chunks, CHUNK_S of sound at most per frame.

    Small chunks because of how the player is fed: Gradio encodes each chunk in a long-lived
    encoder and sends what has come out of it a few ms later, so most of a big chunk (a whole
    sentence) would reach the browser only with the next chunk, seconds later, and the listener
    would wait in silence. Chunks of half a second keep the encoder's backlog short, and keep the
    playlist's segments short, so the browser looks for new ones often."""

    def __init__(self, lang: str, voice: str | None, rate: int, clock: Callable[[], float] = time.monotonic):
        self.reader = ReadAloud(lang, None if voice in (None, "", AUTO) else voice, int(rate), speaker=get_speaker())
        self.fed = self.sent = 0
        self.pcm = bytearray()  # made, not yet handed to the player
        self.params: wave._wave_params | None = None
        self.clock, self.started = clock, None  # when the first chunk went to the player

    def feed(self, text: str) -> str | None:
        """Give the reader the new text; the next chunk of audio for the player, if one is ready and
        due. Each chunk costs the text frame that carries it (Gradio encodes it before it asks for
        the next frame), so while the text streams the player gets only what keeps it AHEAD_S ahead
        of the voice; the rest follows once the text is done (`finish`)."""
        if len(text) > self.fed:
            self.reader.feed(text[self.fed:])
            self.fed = len(text)
        self._take(self.reader.ready())
        return self.chunk() if self.due() else None

    def due(self) -> bool:
        """Whether the player needs more sound now to stay AHEAD_S ahead of what it has played."""
        if self.started is None:
            return True
        return self.sent * CHUNK_S - (self.clock() - self.started) < AHEAD_S

    def _take(self, clips: list[Clip]) -> None:
        for clip in clips:
            if clip.path:
                with wave.open(str(clip.path), "rb") as w:
                    self.params = self.params or w.getparams()
                    self.pcm += w.readframes(w.getnframes())

    def lead_in(self) -> str:
        """A moment of silence that opens the player's stream as the story starts: Gradio's encoder
        (a process) is up by the time the first sentence is spoken, and the browser is already
        watching the playlist, so the first words are heard as soon as they are made."""
        path = self.reader.out_dir / f"lead-{self.reader.run_id}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(LEAD_RATE)  # espeak-ng's own rate, so no chunk needs resampling
            w.writeframes(b"\x00\x00" * int(LEAD_RATE * LEAD_S))
        return str(path)

    def chunk(self) -> str | None:
        """Up to CHUNK_S of the audio not yet handed on, as a WAV file (None: nothing waiting)."""
        if not self.pcm:
            return None
        p = self.params
        size = int(p.framerate * CHUNK_S) * p.sampwidth * p.nchannels
        data, self.pcm = bytes(self.pcm[:size]), self.pcm[size:]
        path = self.reader.out_dir / f"chunk-{self.reader.run_id}-{self.sent:04d}.wav"
        self.sent += 1
        if self.started is None:
            self.started = self.clock()
        with wave.open(str(path), "wb") as w:
            w.setparams(p)
            w.writeframes(data)
        return str(path)

    def finish(self, stopped: Callable[[], bool] = lambda: False) -> Iterator[str]:
        """No more text: the rest of the audio, chunk by chunk, as it is made (ends early on Stop)."""
        self.reader.finish()
        while not stopped():
            self._take(self.reader.ready())
            if (chunk := self.chunk()) and not stopped():
                yield chunk
            elif self.reader.all_handed:
                return
            else:
                time.sleep(0.02)


def speak_frames(frames: Iterator[tuple[str, str]], lang: str, voice: str | None, rate: int,
                 stopped: Callable[[], bool] = lambda: False):
    """(text, status, audio chunk, file) frames: the story and its voice, together.

    Speech never holds up the text: sentences go to the reader's worker thread, and a frame takes
    only the audio that is ready, and while the text streams, only what keeps the player a little
    ahead of the voice (`AudioFrames.due`). The first frame clears the last story's player and
    download (and opens the new stream with a lead-in). Frames without new audio skip the player
    (a None would open an empty media stream). Once `stopped()` (Stop), sentences not yet spoken are dropped and the last frame clears the player
    and offers what was sent to it as one WAV. A file in a frame lasts until the next frame is asked
    for: its folder goes when the story's frames end."""
    audio = AudioFrames(lang, voice, rate)
    last, warned = ("", ""), False
    # The first frame replaces the last story's player: with a lead-in when the voice is ready, else
    # empty. (It starts the player's encoder before the first words, which costs them about 0.2 s on a
    # busy two-core machine, and brings the first audio that much sooner.)
    player = audio.lead_in() if getattr(audio.reader.speaker, "ready", False) else gr.update(value=None)
    try:
        for text, status in frames:
            last = (text, status)
            chunk = audio.feed(text) if not stopped() else None
            chunk = None if stopped() else chunk  # Stop while it was made: it is never sent
            warned = warned or _warn_unavailable(audio.reader, lang)
            yield text, status, chunk or player, None
            player = gr.skip()
        if not stopped():
            for path in audio.finish(stopped):
                yield *last, path, None
        if not warned:
            _warn_unavailable(audio.reader, lang)
        if stopped():  # the voice stops now; what was heard is kept
            audio.reader.cancel()
            kept = audio.reader.spoken_wav()
            yield *last, gr.update(value=None), str(kept) if kept else None
            return
        errors = [c.error for c in audio.reader.clips if c.error]
        if errors:
            gr.Warning(i18n.error_text(errors[0], lang))
        whole = audio.reader.story_wav()
        yield *last, gr.skip(), str(whole) if whole else None
    finally:  # also when the story is dropped (GeneratorExit): nothing more will be served from here
        audio.reader.close()


def _warn_unavailable(reader: ReadAloud, lang: str) -> bool:
    """Tell the family once that there is no voice (the story goes on without one)."""
    if reader.unavailable is None:
        return False
    gr.Warning(i18n.error_text(reader.unavailable, lang))
    return True


def warm_up() -> None:
    """Start the speech worker in the background (seconds: a process of its own), so the first
    story read aloud does not wait for it. Nothing happens where read-aloud is off."""
    if get_settings().tts.enabled:
        threading.Thread(target=_start_quietly, name="speech-warm-up", daemon=True).start()


def _start_quietly() -> None:
    try:
        get_speaker().start()
    except TTSUnavailable:
        pass  # each story read aloud says so, in the page's language


def voice_choices(lang: str) -> list[tuple[str, str]]:
    return [(LABELS[i18n.norm(lang)]["auto"], AUTO)] + [(v.name, v.id) for v in voices_for(lang)]


def render_controls(ctx: UIContext) -> dict:
    """The read-aloud switch, voice and speed (at the foot of the choices)."""
    t = LABELS["zh"]
    with gr.Row(elem_classes="read-aloud", visible=ctx.settings.tts.enabled):
        read = gr.Checkbox(False, label=t["read"], elem_id="read-aloud", min_width=150)  # its words stay on a phone
        voice = gr.Dropdown([(t["auto"], AUTO)], value=AUTO, label=t["voice"], elem_id="voice",
                            allow_custom_value=True)
        rate = gr.Slider(80, 220, value=ctx.settings.tts.rate, step=10, label=t["rate"], elem_id="rate")
    return {"read": read, "voice": voice, "rate": rate}


def render_player(ctx: UIContext) -> dict:
    """The streaming player and the whole-story download (placed under the story)."""
    t, visible = LABELS["zh"], ctx.settings.tts.enabled
    player = gr.Audio(label=t["audio"], streaming=True, autoplay=True, interactive=False, elem_id="story-audio",
                      visible=visible)
    download = gr.File(label=t["file"], interactive=False, elem_id="story-audio-file", visible=visible, height=80)
    return {"player": player, "download": download}


def relabel(lang: str):
    """New labels and the voices that suit the language (story tab's language switch)."""
    t = LABELS[lang if lang in LABELS else "zh"]
    return (gr.update(label=t["read"]), gr.update(label=t["voice"], choices=voice_choices(lang), value=AUTO),
            gr.update(label=t["rate"]), gr.update(label=t["audio"]), gr.update(label=t["file"]))

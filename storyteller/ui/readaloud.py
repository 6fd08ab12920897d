"""Read-aloud on the story tab: a checkbox, a voice, a speed, a streaming player and a download.

`speak_frames` wraps the story tab's (text, status) frames: each new piece of text goes to
`ReadAloud`, and every sentence whose audio is ready is sent to the streaming player while the
text keeps growing. When the story ends, the rest is spoken and the whole story is offered as
one WAV file. Without a speech engine the story still streams and a friendly note says why.
Gradio copies each file into its own cache before it asks for the next frame, so the story's
temp folder is deleted as soon as the last frame is taken (or the story is dropped).
"""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from storyteller.errors import TTSUnavailable
from storyteller.tts.readaloud import Clip, ReadAloud, join_wavs
from storyteller.tts.worker import get_speaker, voices_for
from storyteller.ui.context import UIContext

AUTO = "auto"
RATES = {"normal": 150, "bedtime": 110}
LABELS = {
    "zh": {"read": "朗读故事", "voice": "声音", "rate": "语速（睡前可以慢一点）", "audio": "听故事",
           "file": "下载朗读音频"},
    "en": {"read": "Read aloud", "voice": "Voice", "rate": "Speed (slower for bedtime)", "audio": "Listen",
           "file": "Download the audio"},
}


class AudioFrames:
    """Holds one story's reader; turns ready clips into one chunk for the streaming player."""

    def __init__(self, lang: str, voice: str | None, rate: int):
        self.reader = ReadAloud(lang, None if voice in (None, "", AUTO) else voice, int(rate))
        self.fed = 0

    def feed(self, text: str) -> str | None:
        if len(text) > self.fed:
            self.reader.feed(text[self.fed:])
            self.fed = len(text)
        return self._chunk(self.reader.ready())

    def _chunk(self, clips: list[Clip]) -> str | None:
        spoken = [c for c in clips if c.path]
        if not spoken:
            return None
        if len(spoken) == 1:
            return str(spoken[0].path)
        joined = self.reader.out_dir / f"chunk-{spoken[0].index:03d}-{spoken[-1].index:03d}.wav"
        return str(join_wavs([c.path for c in spoken], joined))

    def finish(self) -> Iterator[str]:
        self.reader.finish()
        for clip in self.reader.drain():
            if clip.path:
                yield str(clip.path)


def speak_frames(frames: Iterator[tuple[str, str]], lang: str, voice: str | None, rate: int):
    """(text, status, audio chunk, file) frames: the story and its voice, together. Frames without
    new audio skip the player (a None would open an empty media stream). A file in a frame lasts
    until the next frame is asked for: its folder goes when the story's frames end."""
    try:
        get_speaker().start()
    except TTSUnavailable as e:
        gr.Warning(str(e))
        for text, status in frames:
            yield text, status, gr.skip(), gr.skip()
        return
    audio = AudioFrames(lang, voice, rate)
    last = ("", "")
    try:
        for text, status in frames:
            last = (text, status)
            chunk = audio.feed(text)
            yield text, status, chunk if chunk else gr.skip(), gr.skip()
        for path in audio.finish():
            yield *last, path, gr.skip()
        errors = [c.error for c in audio.reader.clips if c.error]
        if errors:
            gr.Warning(errors[0])
        whole = audio.reader.story_wav()
        yield *last, gr.skip(), str(whole) if whole else None
    finally:  # also when the story is dropped (GeneratorExit): nothing more will be served from here
        audio.reader.close()


def voice_choices(lang: str) -> list[tuple[str, str]]:
    return [("自动 / Auto", AUTO)] + [(v.name, v.id) for v in voices_for(lang)]


def render_controls(ctx: UIContext) -> dict:
    """The read-aloud switch, voice and speed (placed above the Tell button)."""
    t = LABELS["zh"]
    with gr.Row(elem_classes="read-aloud", visible=ctx.settings.tts.enabled):
        read = gr.Checkbox(False, label=t["read"], elem_id="read-aloud")
        voice = gr.Dropdown([("自动 / Auto", AUTO)], value=AUTO, label=t["voice"], elem_id="voice",
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

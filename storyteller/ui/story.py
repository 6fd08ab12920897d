"""The story tab: a child picks a dynasty, a superpower and a style, presses 讲故事 / Tell, and
watches the story grow. Stop keeps the text; every story is saved by `storyteller.studio`.

Handlers are thin: choices -> `studio.build_request` -> `studio.tell` -> yield the growing text.
The story is shown in a read-only text box: model output is never rendered as Markdown or HTML,
so no remote image or link can reach a child. The model id must be one the picker offers (the
"web" policy of `engines.ids`); in public mode a model that costs money needs a parent, and each
session and client address may start settings.public.stories_per_minute stories a minute.
With "read aloud" on, `readaloud.speak_frames` wraps `stream_frames`: each finished sentence is
spoken and streamed to the player while the text keeps growing.
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import time
from collections.abc import Iterator

import gradio as gr

from storyteller import studio
from storyteller.catalog import DEFAULT_BAND, get_catalog
from storyteller.engines.base import TEMPERATURE
from storyteller.engines.ids import costs_money
from storyteller.engines.registry import check_model
from storyteller.errors import StorytellerError
from storyteller.plaintext import escape_markdown
from storyteller.safety import age
from storyteller.ui import i18n, library, readaloud
from storyteller.ui.context import UIContext
from storyteller.ui.status import story_status
from storyteller.ui.visitor import Visitor

LABELS = i18n.table("story")  # {lang: {name: words}}, from strings/<lang>.toml
FRAME_S = 0.04  # seconds between frames while a story streams
DEFAULTS = {"dynasty": "唐", "power": "隐形", "style": "轻松"}


TAKE_OVER_S = 2.0  # longest a new story waits for the one it replaces to stop sending frames


class TellSession:
    """Per-browser-session state (kept in gr.State): the story being told, so Stop can end it and
    a new Tell can take its place."""

    def __init__(self):
        self.run: studio.StoryRun | None = None
        self.cancel = threading.Event()  # ends the story's text (also set when it ends by itself)
        self.stopped = threading.Event()  # Stop or a new story: the voice stops too
        self.ended = threading.Event()  # the current story's frames are over
        self.ended.set()

    def __deepcopy__(self, memo) -> "TellSession":  # gr.State copies its initial value per session
        return TellSession()

    def start(self) -> threading.Event:
        """A fresh stop signal for a new story. A story still running in this session is stopped,
        and its frames end before the new story's begin, so no old frame lands on the new story
        (it stops within a frame or two; a story that never answers is left after TAKE_OVER_S)."""
        self.stop()
        previous, self.ended = self.ended, threading.Event()
        self.cancel, self.stopped = threading.Event(), threading.Event()
        previous.wait(TAKE_OVER_S)
        return self.cancel

    def stop(self) -> None:
        self.stopped.set()
        self.cancel.set()

    def current(self, cancel: threading.Event) -> bool:
        """Whether the story with this stop signal is still this session's story (not replaced)."""
        return self.cancel is cancel


def stream_frames(run: studio.StoryRun, lang: str) -> Iterator[tuple[str, str]]:
    """(story text, status line) as the story grows, then a final frame with timing or the error.
    The first words go out at once; after that at most one frame per FRAME_S, since Gradio does
    real work per frame and nobody reads faster. The partial story always stays on screen."""
    yield "", LABELS[lang]["waiting"]
    shown_at = 0.0
    try:
        for _ in run:
            if (now := time.perf_counter()) - shown_at >= FRAME_S:
                shown_at = now
                yield run.text, LABELS[lang]["waiting"]
    finally:
        run.close()
    status = story_status(run, lang)
    if run.error:
        error = i18n.error_text(run.error, lang)
        gr.Warning(html.escape(error))
        status = f"**{escape_markdown(error)}**\n\n{status}"
    yield run.text, status


def tell_story(dynasty, power, style, lang, length, model, temperature, session: TellSession,
               read_aloud: bool = False, voice: str = readaloud.AUTO, rate: int = 150, age_band: str = DEFAULT_BAND,
               visitor: Visitor | None = None, request: gr.Request | None = None):
    """Tell a story with the choices on screen (the API endpoint /tell). Frames are
    (story, status, audio chunk for the player, whole-story audio file). `visitor` None: the local
    single-user app (direct calls). A story already running in this session is stopped and sends
    no frame after this one's first; Stop (`stop_story`) ends it with a last frame that keeps the
    text and the audio heard so far."""
    lang = lang if lang in LABELS else "zh"
    visitor = visitor or Visitor()
    visitor.seen(request)
    cancel = session.start()
    ended, stopped = session.ended, session.stopped
    try:
        yield from _frames(cancel, stopped, session, dynasty, power, style, lang, length, model, temperature,
                           read_aloud, voice, rate, age_band, visitor)
    finally:
        ended.set()


def _frames(cancel, stopped, session: TellSession, dynasty, power, style, lang, length, model, temperature,
            read_aloud, voice, rate, age_band, visitor: Visitor):
    try:
        req = studio.build_request(dynasty, power, style, lang, length, age_band=age_band)
        model = check_model(model, "web")
        refused = visitor.paid_note() if costs_money(model) and not visitor.trusted else visitor.story_allowed()
        if refused is None:
            session.run = studio.tell(req, model, temperature=temperature, cancel=cancel, store=visitor.stories())
    except StorytellerError as e:
        refused = i18n.error_text(e, lang)
    if refused is not None:  # shown as text: it may quote what was typed
        gr.Warning(html.escape(refused))
        yield gr.update(), f"**{escape_markdown(refused)}**", gr.skip(), gr.skip()
        return
    frames = stream_frames(session.run, lang)
    if read_aloud:
        frames = readaloud.speak_frames(frames, req.lang, voice, rate, stopped=stopped.is_set)
    else:
        frames = _silent(frames)
    with contextlib.closing(frames):
        for frame in frames:
            if not session.current(cancel):
                return  # a new story took over: its frames alone reach the page from now on
            library.keep_told_audio(session.run, frame, visitor)  # read aloud once: kept with the story
            yield frame


def _silent(frames: Iterator[tuple[str, str]]):
    """Read-aloud off: the first frame clears the player and the download, later frames leave them be.
    The player is cleared with an update: a streaming output opens a media stream for any plain
    value, None included, and the browser then fetches its playlist on the way to the first word.
    The download stays None (as cheap as a value gets); gr.skip() rebuilds the component on every
    frame, which costs milliseconds of the server's event loop per frame."""
    player = gr.update(value=None)
    for text, status in frames:
        yield text, status, player, None
        player = gr.skip()


def regenerate(dynasty, power, style, lang, length, model, temperature, session: TellSession,
               read_aloud: bool = False, voice: str = readaloud.AUTO, rate: int = 150, age_band: str = DEFAULT_BAND,
               visitor: Visitor | None = None, request: gr.Request | None = None):
    """Tell a new story with the choices on screen now (the child may have changed them since)."""
    yield from tell_story(dynasty, power, style, lang, length, model, temperature, session, read_aloud, voice, rate,
                          age_band, visitor, request)


def choose_band(band: str):
    """A new age band: the length slider moves to its default and range."""
    b = age.band(band)
    return gr.update(value=b.length, maximum=b.length_max)


def relabel_band(lang: str):
    lang = lang if lang in LABELS else "zh"
    return gr.update(choices=age.choices(lang), label=LABELS[lang]["age"])


def stop_story(lang, session: TellSession) -> str:
    """End the story now; the text on screen stays and the story is saved as stopped. The story's
    own last frame silences the player and offers the audio heard so far."""
    session.stop()
    run = session.run
    if run is None:
        return gr.update()
    run.finished.wait(timeout=5)
    return story_status(run, lang if lang in LABELS else "zh")


def switch_language(lang: str, dynasty: str, power: str, style: str):
    """Relabel everything and offer the presets in the chosen language (typed values stay)."""
    lang = lang if lang in LABELS else "zh"
    cat, t = get_catalog(), LABELS[lang]

    def preset(kind, value):
        return gr.update(choices=cat.choices(kind, lang), value=cat.translate(kind, value or "", lang) or None,
                         label=t[kind])

    return (preset("dynasty", dynasty), preset("power", power), preset("style", style),
            gr.update(label=t["length"]), _model_choices(lang), gr.update(label=t["temperature"]),
            gr.update(label=t["advanced"]))


def _model_choices(lang: str):
    """The picker in `lang`: its label and the models' friendly names (ids stay the values)."""
    try:
        return gr.update(label=LABELS[lang]["model"], choices=studio.model_choices(lang))
    except StorytellerError:
        return gr.update(label=LABELS[lang]["model"])


def _model_picker(ctx: UIContext) -> gr.Dropdown:
    default = ctx.settings.local.default_model
    try:
        choices = studio.model_choices("zh")
    except StorytellerError as e:
        gr.Warning(str(e))
        choices = [(default, default)]
    return gr.Dropdown(choices, value=choices[0][1], allow_custom_value=True, label=LABELS["zh"]["model"],
                       elem_id="model", min_width=220)


def press_js(status: str, scroll: bool = False) -> str:
    """Browser-side answer to a press, before the server hears of it: the status line shows
    LABELS[lang][status] (until the server's next status replaces it), the voice goes quiet, and
    with `scroll` the buttons and the story move into view if they are not. The inputs go on to
    the Python handler unchanged (the language is the 4th input of Tell and the 1st of Stop)."""
    words = json.dumps({lang: LABELS[lang][status] for lang in LABELS}, ensure_ascii=False)
    lang_arg = "args[3]" if scroll else "args[0]"
    return f"""(...args) => {{
  const words = {words}, lang = {lang_arg} === 'en' ? 'en' : 'zh';
  document.querySelectorAll('#story-audio audio').forEach((a) => a.pause());
  const stats = document.querySelector('#story-stats');
  if (stats) {{
    stats.dataset.pending = words[lang];
    if (!stats._pending) {{
      stats._pending = new MutationObserver(() => delete stats.dataset.pending);
      stats._pending.observe(stats, {{childList: true, subtree: true, characterData: true}});
    }}
  }}
  const top = document.querySelector('#story-buttons'), text = document.querySelector('#story-text textarea');
  if ({'true' if scroll else 'false'} && top && text) {{
    // where the story box ends once it has grown to its full height (style.css caps it)
    const full = text.getBoundingClientRect().top + (parseFloat(getComputedStyle(text).maxHeight) || 400) + 40;
    if (top.getBoundingClientRect().top < 0 || full > window.innerHeight)
      top.scrollIntoView({{block: 'start', behavior: 'instant'}});
  }}
  return args;
}}"""


def render(ctx: UIContext) -> None:
    cat, t = get_catalog(), LABELS["zh"]
    session = gr.State(TellSession())  # copied per session; a class here would be a public API endpoint
    with gr.Column(elem_classes="story-tab"):
        lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", label=t["language"], elem_id="lang",
                        visible=False)  # the story's language follows the page's switch (ui.language)
        # Choices on the left, the buttons and the story on the right: at 1280x800 the story is on
        # screen as it streams. On a phone the columns stack, and Tell scrolls the buttons and the
        # story to the top (TELL_JS), so Stop stays at hand.
        with gr.Row(elem_classes="story-layout"):
            with gr.Column(scale=5, min_width=320, elem_classes="story-choices"):
                with gr.Row(equal_height=True):
                    dynasty = gr.Dropdown(cat.choices("dynasty", "zh"), value=DEFAULTS["dynasty"],
                                          allow_custom_value=True, label=t["dynasty"], elem_id="dynasty", min_width=120)
                    power = gr.Dropdown(cat.choices("power", "zh"), value=DEFAULTS["power"], allow_custom_value=True,
                                        label=t["power"], elem_id="power", min_width=120)
                    style = gr.Dropdown(cat.choices("style", "zh"), value=DEFAULTS["style"], allow_custom_value=True,
                                        label=t["style"], elem_id="style", min_width=120)
                band = gr.Radio(age.choices("zh"), value=DEFAULT_BAND, label=t["age"], elem_id="age-band")
                with gr.Row():
                    length = gr.Slider(studio.LENGTH_MIN, age.band(DEFAULT_BAND).length_max,
                                       value=studio.LENGTH_DEFAULT, step=50, label=t["length"], elem_id="length",
                                       min_width=220)  # side by side on a wide screen, stacked on a phone
                    model = _model_picker(ctx)
                with gr.Accordion(t["advanced"], open=False) as advanced:
                    temperature = gr.Slider(0.0, 2.0, value=TEMPERATURE, step=0.05, label=t["temperature"],
                                            elem_id="temperature")
                speech = readaloud.render_controls(ctx)
            with gr.Column(scale=6, min_width=320, elem_classes="story-view"):
                with gr.Row(elem_classes="story-buttons", elem_id="story-buttons"):
                    tell_btn = ctx.words.add(gr.Button(variant="primary", size="lg", elem_id="tell", min_width=90),
                                             value="story.tell")
                    stop_btn = ctx.words.add(gr.Button(variant="stop", size="lg", elem_id="stop", min_width=90),
                                             value="story.stop")
                    again_btn = ctx.words.add(gr.Button(variant="secondary", size="lg", elem_id="regenerate",
                                                        min_width=90), value="story.again")
                story = gr.Textbox("", placeholder=t["empty"], interactive=False, show_label=False, lines=6,
                                   max_lines=40, autoscroll=True, buttons=["copy"], elem_id="story-text",
                                   elem_classes="story-text")  # plain text: model output is never rendered
                stats = gr.Markdown("", elem_id="story-stats", elem_classes="story-stats")
                library.render_rating(ctx, session)  # 👍/👎 under every story, kept in the story book
                speech |= readaloud.render_player(ctx)

    ctx.lang, ctx.model = lang, model
    ctx.words.add(story, placeholder="story.empty", label="story.story")  # the label: for screen readers
    ctx.extra["story_text"] = story

    inputs = [dynasty, power, style, lang, length, model, temperature, session,
              speech["read"], speech["voice"], speech["rate"], band, *[v for v in [ctx.visitor] if v is not None]]
    outputs = [story, stats, speech["player"], speech["download"]]
    limit = ctx.settings.ui.concurrency
    # "multiple": a press while a story streams is sent at once (Gradio's default drops it until
    # the story's event ends); tell_story then stops the old story and tells the new one. Stop is
    # not a Gradio cancel: the story ends itself, so its last frame keeps the audio heard so far.
    # The js runs in the browser first: the press is answered at once (status, silence, scroll).
    tell_btn.click(tell_story, inputs, outputs, api_name="tell", concurrency_limit=limit, concurrency_id="story",
                   show_progress="hidden", trigger_mode="multiple", js=press_js("waiting", scroll=True))
    again_btn.click(regenerate, inputs, outputs, api_name="regenerate", concurrency_limit=limit,
                    concurrency_id="story", show_progress="hidden", trigger_mode="multiple",
                    js=press_js("waiting", scroll=True))
    stop_btn.click(stop_story, [lang, session], stats, queue=False, api_visibility="private",
                   trigger_mode="multiple", js=press_js("stopping"))
    band.change(choose_band, band, length, queue=False, api_visibility="private")
    lang.change(relabel_band, lang, band, queue=False, api_visibility="private")
    lang.change(switch_language, [lang, dynasty, power, style],
                [dynasty, power, style, length, model, temperature, advanced], queue=False,
                api_visibility="private")
    speech_parts = [speech[k] for k in ("read", "voice", "rate", "player", "download")]
    lang.change(readaloud.relabel, lang, speech_parts, api_visibility="private")
    speech["read"].select(lambda on, lang: readaloud.relabel(lang)[1] if on else gr.skip(), [speech["read"], lang],
                          speech["voice"], api_visibility="private")

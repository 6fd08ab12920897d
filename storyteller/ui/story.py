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

import html
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
from storyteller.ui import readaloud
from storyteller.ui.context import UIContext
from storyteller.ui.visitor import PAID, Visitor

LABELS = {
    "zh": {"dynasty": "朝代", "power": "超能力", "style": "故事风格", "length": "故事长度（字）",
           "model": "讲故事的模型", "age": "听故事的小朋友几岁", "temperature": "想象力（温度）", "advanced": "高级",
           "waiting": "正在想故事……", "empty": "*选好朝代、超能力和风格，然后按「讲故事」！*"},
    "en": {"dynasty": "Dynasty", "power": "Superpower", "style": "Story style",
           "length": "Story length (words)", "model": "Storyteller model", "age": "Listener's age",
           "temperature": "Imagination (temperature)", "advanced": "Advanced",
           "waiting": "Thinking of a story…", "empty": "*Pick a dynasty, a superpower and a style, then press Tell!*"},
}
FRAME_S = 0.04  # seconds between frames while a story streams
DEFAULTS = {"dynasty": "唐", "power": "隐形", "style": "轻松"}


class TellSession:
    """Per-browser-session state (kept in gr.State): the current run, so Stop can end it, and the
    last choices, so Regenerate tells the same story again."""

    def __init__(self):
        self.run: studio.StoryRun | None = None
        self.cancel = threading.Event()
        self.last: tuple | None = None
        self.last_band = DEFAULT_BAND

    def __deepcopy__(self, memo) -> "TellSession":  # gr.State copies its initial value per session
        return TellSession()

    def start(self) -> threading.Event:
        """A fresh stop signal per story, after stopping any story still running in this session."""
        self.cancel.set()
        self.cancel = threading.Event()
        return self.cancel


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
    status = run.stats_line(lang)
    if run.error:
        gr.Warning(html.escape(run.error))
        status = f"**{escape_markdown(run.error)}**\n\n{escape_markdown(status)}"
    yield run.text, status


def tell_story(dynasty, power, style, lang, length, model, temperature, session: TellSession,
               read_aloud: bool = False, voice: str = readaloud.AUTO, rate: int = 150, age_band: str = DEFAULT_BAND,
               visitor: Visitor | None = None, request: gr.Request | None = None):
    """Tell a story with the choices on screen (the API endpoint /tell). Frames are
    (story, status, audio chunk for the player, whole-story audio file). `visitor` None: the local
    single-user app (direct calls)."""
    lang = lang if lang in LABELS else "zh"
    visitor = visitor or Visitor()
    visitor.seen(request)
    session.last, session.last_band = (dynasty, power, style, lang, length, model, temperature), age_band
    cancel = session.start()
    try:
        req = studio.build_request(dynasty, power, style, lang, length, age_band=age_band)
        model = check_model(model, "web")
        refused = PAID if costs_money(model) and not visitor.trusted else visitor.story_allowed()
        if refused is None:
            session.run = studio.tell(req, model, temperature=temperature, cancel=cancel, store=visitor.stories())
    except StorytellerError as e:
        refused = str(e)
    if refused is not None:  # shown as text: it may quote what was typed
        gr.Warning(html.escape(refused))
        yield gr.update(), f"**{escape_markdown(refused)}**", gr.skip(), gr.skip()
        return
    frames = stream_frames(session.run, lang)
    if read_aloud:
        yield from readaloud.speak_frames(frames, req.lang, voice, rate)
        return
    # Read-aloud off: the first frame clears the player and the download, later frames leave them be.
    # The player is cleared with an update: a streaming output opens a media stream for any plain
    # value, None included, and the browser then fetches its playlist on the way to the first word.
    # The download stays None (as cheap as a value gets); gr.skip() rebuilds the component on every
    # frame, which costs milliseconds of the server's event loop per frame.
    player = gr.update(value=None)
    for text, status in frames:
        yield text, status, player, None
        player = gr.skip()


def regenerate(dynasty, power, style, lang, length, model, temperature, session: TellSession,
               read_aloud: bool = False, voice: str = readaloud.AUTO, rate: int = 150, age_band: str = DEFAULT_BAND,
               visitor: Visitor | None = None, request: gr.Request | None = None):
    """Tell it again with the same choices as the last story (or the ones on screen)."""
    choices = session.last or (dynasty, power, style, lang, length, model, temperature)
    band = session.last_band if session.last else age_band
    yield from tell_story(*choices, session, read_aloud, voice, rate, band, visitor, request)


def choose_band(band: str):
    """A new age band: the length slider moves to its default and range."""
    b = age.band(band)
    return gr.update(value=b.length, maximum=b.length_max)


def relabel_band(lang: str):
    lang = lang if lang in LABELS else "zh"
    return gr.update(choices=age.choices(lang), label=LABELS[lang]["age"])


def stop_story(lang, session: TellSession) -> str:
    """End the story now; the text on screen stays and the story is saved as stopped."""
    session.cancel.set()
    run = session.run
    if run is None:
        return gr.update()
    run.finished.wait(timeout=5)
    return run.stats_line(lang if lang in LABELS else "zh")


def switch_language(lang: str, dynasty: str, power: str, style: str):
    """Relabel everything and offer the presets in the chosen language (typed values stay)."""
    lang = lang if lang in LABELS else "zh"
    cat, t = get_catalog(), LABELS[lang]

    def preset(kind, value):
        return gr.update(choices=cat.choices(kind, lang), value=cat.translate(kind, value or "", lang) or None,
                         label=t[kind])

    return (preset("dynasty", dynasty), preset("power", power), preset("style", style),
            gr.update(label=t["length"]), gr.update(label=t["model"]), gr.update(label=t["temperature"]),
            gr.update(label=t["advanced"]))


def _model_picker(ctx: UIContext) -> gr.Dropdown:
    default = ctx.settings.local.default_model
    try:
        choices = studio.model_choices()
    except StorytellerError as e:
        gr.Warning(str(e))
        choices = [(default, default)]
    return gr.Dropdown(choices, value=choices[0][1], allow_custom_value=True, label=LABELS["zh"]["model"],
                       elem_id="model")


def render(ctx: UIContext) -> None:
    cat, t = get_catalog(), LABELS["zh"]
    session = gr.State(TellSession())  # copied per session; a class here would be a public API endpoint
    with gr.Column(elem_classes="story-tab"):
        lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", label="语言 / Language",
                        elem_id="lang")
        with gr.Row(equal_height=True):
            dynasty = gr.Dropdown(cat.choices("dynasty", "zh"), value=DEFAULTS["dynasty"], allow_custom_value=True,
                                  label=t["dynasty"], elem_id="dynasty")
            power = gr.Dropdown(cat.choices("power", "zh"), value=DEFAULTS["power"], allow_custom_value=True,
                                label=t["power"], elem_id="power")
            style = gr.Dropdown(cat.choices("style", "zh"), value=DEFAULTS["style"], allow_custom_value=True,
                                label=t["style"], elem_id="style")
        with gr.Row():
            band = gr.Radio(age.choices("zh"), value=DEFAULT_BAND, label=t["age"], elem_id="age-band")
            length = gr.Slider(studio.LENGTH_MIN, age.band(DEFAULT_BAND).length_max, value=studio.LENGTH_DEFAULT,
                               step=50, label=t["length"], elem_id="length")
            model = _model_picker(ctx)
        with gr.Accordion(t["advanced"], open=False) as advanced:
            temperature = gr.Slider(0.0, 2.0, value=TEMPERATURE, step=0.05, label=t["temperature"], elem_id="temperature")
        speech = readaloud.render_controls(ctx)
        with gr.Row(elem_classes="story-buttons"):
            tell_btn = gr.Button("讲故事 / Tell", variant="primary", size="lg", elem_id="tell")
            stop_btn = gr.Button("停止 / Stop", variant="stop", size="lg", elem_id="stop")
            again_btn = gr.Button("再讲一个 / Regenerate", variant="secondary", size="lg", elem_id="regenerate")
        story = gr.Textbox("", placeholder=t["empty"].strip("*"), interactive=False, show_label=False, lines=6,
                           max_lines=40, autoscroll=True, buttons=["copy"], elem_id="story-text",
                           elem_classes="story-text")  # plain text: model output is never rendered
        stats = gr.Markdown("", elem_id="story-stats", elem_classes="story-stats")
        speech |= readaloud.render_player(ctx)

    ctx.lang, ctx.model = lang, model
    ctx.extra["story_text"] = story

    inputs = [dynasty, power, style, lang, length, model, temperature, session,
              speech["read"], speech["voice"], speech["rate"], band, *[v for v in [ctx.visitor] if v is not None]]
    outputs = [story, stats, speech["player"], speech["download"]]
    limit = ctx.settings.ui.concurrency
    told = tell_btn.click(tell_story, inputs, outputs, api_name="tell", concurrency_limit=limit,
                          concurrency_id="story", show_progress="hidden")
    again = again_btn.click(regenerate, inputs, outputs, api_name="regenerate",
                            concurrency_limit=limit, concurrency_id="story", show_progress="hidden")
    stop_btn.click(stop_story, [lang, session], stats, cancels=[told, again], queue=False,
                   api_visibility="private")
    band.change(choose_band, band, length, queue=False, api_visibility="private")
    lang.change(relabel_band, lang, band, queue=False, api_visibility="private")
    lang.change(switch_language, [lang, dynasty, power, style],
                [dynasty, power, style, length, model, temperature, advanced], queue=False,
                api_visibility="private")
    speech_parts = [speech[k] for k in ("read", "voice", "rate", "player", "download")]
    lang.change(readaloud.relabel, lang, speech_parts, api_visibility="private")
    speech["read"].select(lambda on, lang: readaloud.relabel(lang)[1] if on else gr.skip(), [speech["read"], lang],
                          speech["voice"], api_visibility="private")

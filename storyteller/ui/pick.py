"""The "讲两个，选一个 / Tell two, pick one" tab: two stories for the same request stream side by side
at once (one model, two seeds, one cast: the same monster, place and child), both are saved, and the child's pick (left, right, both good,
both bad) is recorded as a pair in the story book (`storyteller.library`), which the Data tab
exports as preference data.

Like the story tab: the story's language follows the page, the model is the story tab's picker
(`ctx.model`, checked by the "web" rule), a paid model needs a parent, and in public mode each
of the two stories counts against the family's stories a minute. Stop ends both and keeps them.
The stories are shown in read-only text boxes, never as Markdown.
"""

from __future__ import annotations

import html
import secrets
import threading
import time

import gradio as gr

from storyteller import studio
from storyteller.catalog import DEFAULT_BAND, get_catalog
from storyteller.engines.ids import costs_money
from storyteller.engines.registry import check_model
from storyteller.errors import StorytellerError
from storyteller.library import Library
from storyteller.plaintext import escape_markdown
from storyteller.safety import age
from storyteller.ui import i18n
from storyteller.ui.context import UIContext
from storyteller.ui.i18n import t
from storyteller.ui.visitor import Visitor

FRAME_S = 0.05
DEFAULTS = {"dynasty": "唐", "power": "隐形", "style": "轻松"}
PICKS = ("left", "right", "tie", "both_bad")


class PairSession:
    """Per-browser-session state (in gr.State): the two stories' stop signal and the pair to pick from."""

    def __init__(self):
        self.cancel = threading.Event()
        self.pair_id: int | None = None

    def __deepcopy__(self, memo) -> "PairSession":  # gr.State copies its initial value per session
        return PairSession()

    def start(self) -> threading.Event:
        self.cancel.set()
        self.cancel, self.pair_id = threading.Event(), None
        return self.cancel


def _buttons(on: bool):
    return [gr.update(interactive=on)] * len(PICKS)


def _consume(run: studio.StoryRun) -> None:
    try:
        for _ in run:
            pass
    finally:
        run.close()


def tell_two(dynasty, power, style, band, model, session: PairSession, visitor: Visitor | None = None,
             request: gr.Request | None = None):
    """Frames of (left story, right story, status line, *pick buttons) while both stories grow."""
    visitor = visitor or Visitor()
    visitor.seen(request)
    lang = i18n.norm(visitor.lang)
    cancel = session.start()
    try:
        req = studio.build_request(dynasty, power, style, lang, None, age_band=band)
        model = check_model(model or "", "web")
        if costs_money(model) and not visitor.trusted:
            refused = visitor.paid_note()
        else:
            refused = visitor.story_allowed() or visitor.story_allowed()  # two stories
        if refused is None:
            seed = secrets.randbelow(2**31 - 2)
            runs = [studio.tell(req, model, seed=seed + i, cast_seed=seed, cancel=cancel, store=visitor.stories())
                    for i in (0, 1)]  # one setup (monster, place, child) told two ways
    except StorytellerError as e:
        refused = i18n.error_text(e, lang)
    if refused is not None:
        gr.Warning(html.escape(refused))
        yield gr.skip(), gr.skip(), f"**{escape_markdown(refused)}**", *_buttons(False)
        return
    threads = [threading.Thread(target=_consume, args=(r,), daemon=True, name="pick-story") for r in runs]
    for th in threads:
        th.start()
    try:
        yield "", "", t("pick.waiting", lang), *_buttons(False)
        while any(th.is_alive() for th in threads):
            time.sleep(FRAME_S)
            yield runs[0].text, runs[1].text, t("pick.waiting", lang), *_buttons(False)
    except GeneratorExit:  # the page went away: stop both, keep both
        cancel.set()
        raise
    for th in threads:
        th.join()
    left, right = runs
    errors = [r.error for r in runs if r.error]
    if left.story_id is None or right.story_id is None:
        said = i18n.error_text(errors[0], lang) if errors else t("pick.not_saved", lang)
        gr.Warning(html.escape(said))
        yield left.text, right.text, f"**{escape_markdown(said)}**", *_buttons(False)
        return
    if session.cancel is cancel:
        session.pair_id = Library(owner=visitor.scope).new_pair(left.story_id, right.story_id).id
    note = f"\n\n{escape_markdown(i18n.error_text(errors[0], lang))}" if errors else ""
    yield left.text, right.text, t("pick.now", lang) + note, *_buttons(True)


def stop_two(session: PairSession):
    session.cancel.set()


def choose(choice: str):
    def handler(session: PairSession, visitor: Visitor | None = None):
        """Record the child's pick; the buttons rest until the next two stories."""
        visitor = visitor or Visitor()
        lang = i18n.norm(visitor.lang)
        if session.pair_id is None:
            return t("pick.tell_first", lang), *_buttons(False)
        try:
            Library(owner=visitor.scope).pick(session.pair_id, choice)
        except StorytellerError as e:
            said = i18n.error_text(e, lang)
            gr.Warning(html.escape(said))
            return f"**{escape_markdown(said)}**", *_buttons(False)
        return t(f"pick.picked_{choice}", lang), *_buttons(False)
    return handler


def follow_language(lang: str, dynasty: str, power: str, style: str):
    """The presets named in the page's language (typed values stay)."""
    lang, cat = i18n.norm(lang), get_catalog()

    def preset(kind, value):
        return gr.update(choices=cat.choices(kind, lang), value=cat.translate(kind, value or "", lang) or None)

    return (preset("dynasty", dynasty), preset("power", power), preset("style", style),
            gr.update(choices=age.choices(lang)))


def render(ctx: UIContext) -> None:
    w, cat = ctx.words, get_catalog()
    session = gr.State(PairSession())
    who = [ctx.visitor] if ctx.visitor is not None else []
    w.add(gr.Markdown(elem_id="pick-intro"), value="pick.intro")
    with gr.Row(equal_height=True):
        dynasty = w.add(gr.Dropdown(cat.choices("dynasty", "zh"), value=DEFAULTS["dynasty"], allow_custom_value=True,
                                    elem_id="pick-dynasty", min_width=120), label="story.dynasty")
        power = w.add(gr.Dropdown(cat.choices("power", "zh"), value=DEFAULTS["power"], allow_custom_value=True,
                                  elem_id="pick-power", min_width=120), label="story.power")
        style = w.add(gr.Dropdown(cat.choices("style", "zh"), value=DEFAULTS["style"], allow_custom_value=True,
                                  elem_id="pick-style", min_width=120), label="story.style")
        band = w.add(gr.Radio(age.choices("zh"), value=DEFAULT_BAND, elem_id="pick-age", min_width=220),
                     label="story.age")
    with gr.Row():
        tell_btn = w.add(gr.Button(variant="primary", size="lg", elem_id="pick-tell"), value="pick.tell")
        stop_btn = w.add(gr.Button(variant="stop", size="lg", elem_id="pick-stop"), value="story.stop")
    status = gr.Markdown("", elem_id="pick-status")
    with gr.Row(equal_height=True):
        with gr.Column(min_width=280):
            left = w.add(gr.Textbox("", interactive=False, lines=8, max_lines=30, elem_id="pick-left",
                                    elem_classes="story-text"), label="pick.left")
            left_btn = w.add(gr.Button(interactive=False, elem_id="pick-left-btn"), value="pick.choose_left")
        with gr.Column(min_width=280):
            right = w.add(gr.Textbox("", interactive=False, lines=8, max_lines=30, elem_id="pick-right",
                                     elem_classes="story-text"), label="pick.right")
            right_btn = w.add(gr.Button(interactive=False, elem_id="pick-right-btn"), value="pick.choose_right")
    with gr.Row():
        tie_btn = w.add(gr.Button(interactive=False, elem_id="pick-tie"), value="pick.choose_tie")
        bad_btn = w.add(gr.Button(interactive=False, elem_id="pick-both-bad"), value="pick.choose_both_bad")

    buttons = [left_btn, right_btn, tie_btn, bad_btn]
    model = [ctx.model] if ctx.model is not None else [gr.State(ctx.settings.local.default_model)]
    tell_btn.click(tell_two, [dynasty, power, style, band, *model, session, *who], [left, right, status, *buttons],
                   api_visibility="private", concurrency_limit=ctx.settings.ui.concurrency, concurrency_id="story",
                   show_progress="hidden", trigger_mode="multiple")
    stop_btn.click(stop_two, session, None, queue=False, api_visibility="private")
    for button, choice in zip(buttons, PICKS):
        button.click(choose(choice), [session, *who], [status, *buttons], api_visibility="private")
    if ctx.lang is not None:
        ctx.lang.change(follow_language, [ctx.lang, dynasty, power, style], [dynasty, power, style, band],
                        queue=False, api_visibility="private")

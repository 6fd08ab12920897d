"""The web app: `build_ui()` lays out the tabs, `launch()` serves it.

    python app.py            # or: storyteller ui --port 7860

Each tab is one module with `render(ctx)`; add a tab with one line in TABS. Theme and css go to
`launch()` (Gradio 6). Fonts are local system fonts, so the app works offline.

Where it listens and whether it is public is `storyteller.access`'s rule (a Space binds 0.0.0.0
and is public). In public mode the Data and Training tabs sit behind the parent password (with
none set they are not built at all, and a "Duplicate this Space" hint shows instead), only the
story endpoints are in the API, the queue has a maximum size, and uploads are capped by Gradio
before anything is stored.
"""

from __future__ import annotations

import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from storyteller import access, studio  # noqa: E402
from storyteller.config import get_settings  # noqa: E402
from storyteller.data.io import MAX_BYTES  # noqa: E402
from storyteller.library import Library  # noqa: E402
from storyteller.paths import ASSETS  # noqa: E402
from storyteller.ui import data, language, readaloud, story  # noqa: E402
from storyteller.ui import training  # noqa: E402
from storyteller.ui import library, pick  # noqa: E402
from storyteller.ui.i18n import t  # noqa: E402
from storyteller.ui import visitor as family  # noqa: E402
from storyteller.ui.context import UIContext  # noqa: E402

CSS_PATH = os.path.join(os.path.dirname(__file__), "style.css")
FAVICON = ASSETS / "favicon.png"

# (label key, tab id, module with render(ctx)) — one line per tab.
TABS = [
    ("tab.story", "story", story),
    ("pick.tab", "pick", pick),
    ("library.tab", "library", library),
    ("tab.data", "data", data),
    ("tab.training", "training", training),
]
PARENT_TABS = ("data", "training")  # behind the parent password in public mode

# The app serves once the default model is warm, or after this long (a big model goes on loading).
WARM_UP_WAIT_S = 60.0

def theme() -> gr.themes.Base:
    """A soft, friendly theme with local fonts only (no font downloads)."""
    fonts = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif",
             "Noto Color Emoji"]  # emoji in stories and labels (Debian's fonts-noto-color-emoji)
    soft = gr.themes.Soft(primary_hue="orange", secondary_hue="sky", radius_size="lg", font=fonts,
                          font_mono=["DejaVu Sans Mono", "monospace"])
    # Soft's orange-500 under white words, its orange labels on pale orange and its grey hints on
    # white are below WCAG AA contrast (4.5:1); these shades pass it (axe-core, tests/ui/test_accessibility.py).
    return soft.set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700", button_primary_background_fill_hover_dark="*primary_800",
        checkbox_label_background_fill_selected="*primary_700", checkbox_label_background_fill_selected_dark="*primary_700",
        block_label_text_color="*primary_800", block_title_text_color="*primary_800",
        block_label_background_fill_dark="*primary_800", block_title_background_fill_dark="*primary_800",
        body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_300",
        input_placeholder_color="*neutral_500", input_placeholder_color_dark="*neutral_400",
        link_text_color="*secondary_700", link_text_color_dark="*secondary_300")


def build_ui(public: bool | None = None) -> gr.Blocks:
    """The app; `public` (default: `access.is_public()`) turns on the gates and limits."""
    settings = get_settings()
    public = access.is_public() if public is None else public
    Library()  # the whole migration chain now (jobs, then the library's), so every family's rows can be stamped
    with gr.Blocks(title=t("app.page_title")) as demo:
        ctx = UIContext(settings=settings, public=public)
        with gr.Row(elem_id="app-head"):
            ctx.words.add(gr.Markdown(elem_id="app-title"), value="app.title")
            switch, stored_lang = language.render(ctx)
        ctx.visitor = gr.State(family.Visitor(public))  # copied per session
        stored = family.browser_state()
        gate = _parents_panel(ctx) if public and access.parent_gate_set() else None
        bodies, notes = [], []
        # Every tab stays in sight on a phone: more tabs than fit wrap onto a second row rather than
        # hide behind Gradio's unlabelled "⋯" menu, where a child would never find the story book.
        with gr.Tabs(overflow_behavior="wrap") as tabs:
            ctx.tabs = tabs
            for label, tab_id, module in TABS:
                with ctx.words.add(gr.Tab(id=tab_id, elem_id=f"tab-{tab_id}"), label=label):
                    if not public or tab_id not in PARENT_TABS:
                        module.render(ctx)
                    elif gate is None:  # no password set: off, and nothing of it is built
                        _off_hint(ctx, tab_id)
                    else:
                        with gr.Column(elem_id=f"{tab_id}-locked") as note:
                            ctx.words.add(gr.Markdown(), value="gate.locked")
                            _off_hint(ctx, tab_id, "gate.your_own")
                        notes.append(note)
                        with gr.Column(visible=False, elem_id=f"{tab_id}-body") as body:
                            module.render(ctx)
                        bodies.append(body)
        demo.load(family.adopt, [stored, ctx.visitor], stored, api_visibility="private", queue=False)
        if gate is not None:
            password, button, said = gate
            timers = [t for t in [ctx.extra.get("training_timer")] if t is not None]
            outs = [password, said, *bodies, *notes, *timers]
            for event in (button.click, password.submit):
                event(_unlock_for(len(bodies), len(notes), len(timers)), [password, ctx.visitor], outs,
                      api_visibility="private", queue=False)
        language.wire(ctx, demo, switch, stored_lang)
    demo.queue(default_concurrency_limit=settings.ui.concurrency,
               max_size=settings.public.queue_size if public else None)
    return demo


def _parents_panel(ctx: UIContext):
    """The parent password box (public mode with a password set): (box, button, answer)."""
    words = ctx.words
    with words.add(gr.Accordion(open=False, elem_id="parents"), label="gate.parents"):
        with gr.Row():
            password = words.add(gr.Textbox(type="password", max_length=200, elem_id="parent-password", scale=3),
                                 label="gate.password")
            button = words.add(gr.Button(elem_id="parent-unlock", scale=1), value="gate.unlock")
        said = gr.Markdown("", elem_id="parent-said")
    return password, button, said


def _unlock_for(n_bodies: int, n_notes: int, n_timers: int):
    def unlock(password, visitor: family.Visitor, request: gr.Request):
        """Check the password (never logged, never sent back); open the parent tabs on success."""
        visitor.seen(request)
        ok = visitor.unlock(password)
        said = t("gate.unlocked" if ok else "gate.wrong", visitor.lang)
        shown = gr.update(visible=ok) if ok else gr.skip()
        hidden = gr.update(visible=False) if ok else gr.skip()
        timer = gr.Timer(active=True) if ok else gr.skip()
        return ("", said, *[shown] * n_bodies, *[hidden] * n_notes, *[timer] * n_timers)
    return unlock


def _off_hint(ctx: UIContext, tab_id: str, key: str = "gate.off") -> None:
    """Where training is off: how to get a copy of the app where it is on."""
    words = ctx.words
    words.add(gr.Markdown(elem_id=f"{tab_id}-off", elem_classes="duplicate-hint"), value=key)
    words.add(gr.DuplicateButton(size="lg", elem_id=f"{tab_id}-duplicate"), value="gate.duplicate")
    words.add(gr.Markdown(), value="gate.set_password")


def launch_kwargs(public: bool = False) -> dict:
    """What `launch()` passes to Gradio besides host and port (tests reuse it). Uploads are capped
    here, so Gradio refuses a bigger file before storing it."""
    mb = get_settings().public.max_upload_mb if public else MAX_BYTES / 2**20
    kwargs = dict(share=False, theme=theme(), css_paths=[CSS_PATH], footer_links=["api"], show_error=False,
                  max_file_size=f"{int(mb * 1024)}kb", i18n=language.gradio_words())
    if FAVICON.exists():
        kwargs["favicon_path"] = str(FAVICON)
    return kwargs


def launch(host: str | None = None, port: int | None = None, prevent_thread_lock: bool = False,
           quiet: bool = False) -> gr.Blocks:
    """Serve the app where `access.bind_address` says (loopback by default, 0.0.0.0 in a Space;
    never a share link), once the default model is loaded (at most WARM_UP_WAIT_S): a page that
    answers is ready to tell."""
    host, port = access.bind_address(host, port)
    public = access.is_public(host)
    warm = threading.Thread(target=studio.warm_up, name="warm-up", daemon=True)
    warm.start()  # imports torch and loads the weights (seconds) while the UI is built
    readaloud.warm_up()  # the speech worker starts beside it, so the first story read aloud is heard at once
    demo = build_ui(public)
    warm.join(WARM_UP_WAIT_S)  # serve once warm, so the first story does not wait for loading
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock, quiet=quiet,
                **launch_kwargs(public))
    return demo

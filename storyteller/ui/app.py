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
from storyteller.finetune import JobStore  # noqa: E402
from storyteller.paths import ASSETS  # noqa: E402
from storyteller.ui import data, story  # noqa: E402
from storyteller.ui import training  # noqa: E402
from storyteller.ui import visitor as family  # noqa: E402
from storyteller.ui.context import UIContext  # noqa: E402

CSS_PATH = os.path.join(os.path.dirname(__file__), "style.css")
FAVICON = ASSETS / "favicon.png"

# (label, tab id, module with render(ctx)) — one line per tab.
TABS = [
    ("讲故事 / Story", "story", story),
    ("数据 / Data", "data", data),
    ("训练 / Training", "training", training),
]
PARENT_TABS = ("data", "training")  # behind the parent password in public mode

# The app serves once the default model is warm, or after this long (a big model goes on loading).
WARM_UP_WAIT_S = 60.0

TITLE = "# 英雄穿越记 · Hero Time Travellers\n奥特曼和中国古代英雄一起打怪兽！ Ultraman teams up with heroes from Chinese history!"


def theme() -> gr.themes.Base:
    """A soft, friendly theme with local fonts only (no font downloads)."""
    fonts = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    return gr.themes.Soft(primary_hue="orange", secondary_hue="sky", radius_size="lg", font=fonts,
                          font_mono=["DejaVu Sans Mono", "monospace"])


def build_ui(public: bool | None = None) -> gr.Blocks:
    """The app; `public` (default: `access.is_public()`) turns on the gates and limits."""
    settings = get_settings()
    public = access.is_public() if public is None else public
    JobStore()  # the whole migration chain now, so every family's rows can be stamped from the start
    with gr.Blocks(title="Storyteller · 讲故事") as demo:
        gr.Markdown(TITLE, elem_id="app-title")
        ctx = UIContext(settings=settings, public=public)
        ctx.visitor = gr.State(family.Visitor(public))  # copied per session
        stored = family.browser_state()
        gate = _parents_panel(ctx) if public and access.parent_gate_set() else None
        bodies, notes = [], []
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            for label, tab_id, module in TABS:
                with gr.Tab(label, id=tab_id):
                    if not public or tab_id not in PARENT_TABS:
                        module.render(ctx)
                    elif gate is None:  # no password set: off, and nothing of it is built
                        _off_hint(tab_id)
                    else:
                        with gr.Column(elem_id=f"{tab_id}-locked") as note:
                            gr.Markdown(family.LOCKED)
                            _off_hint(tab_id, family.YOUR_OWN)
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
    demo.queue(default_concurrency_limit=settings.ui.concurrency,
               max_size=settings.public.queue_size if public else None)
    return demo


def _parents_panel(ctx: UIContext):
    """The parent password box (public mode with a password set): (box, button, answer)."""
    with gr.Accordion("👪 家长 / Parents", open=False, elem_id="parents"):
        with gr.Row():
            password = gr.Textbox(type="password", label="家长密码 / Parent password", max_length=200,
                                  elem_id="parent-password", scale=3)
            button = gr.Button("解锁 / Unlock", elem_id="parent-unlock", scale=1)
        said = gr.Markdown("", elem_id="parent-said")
    return password, button, said


def _unlock_for(n_bodies: int, n_notes: int, n_timers: int):
    def unlock(password, visitor: family.Visitor, request: gr.Request):
        """Check the password (never logged, never sent back); open the parent tabs on success."""
        visitor.seen(request)
        ok = visitor.unlock(password)
        said = ("✅ 已解锁：数据、训练和要花钱的模型 / Unlocked: Data, Training and paid models." if ok else
                "❌ 密码不对，或试得太多了，请稍后再试 / Wrong password, or too many tries: wait a minute.")
        shown = gr.update(visible=ok) if ok else gr.skip()
        hidden = gr.update(visible=False) if ok else gr.skip()
        timer = gr.Timer(active=True) if ok else gr.skip()
        return ("", said, *[shown] * n_bodies, *[hidden] * n_notes, *[timer] * n_timers)
    return unlock


def _off_hint(tab_id: str, text: str = family.OFF) -> None:
    """Where training is off: how to get a copy of the app where it is on."""
    gr.Markdown(text, elem_id=f"{tab_id}-off", elem_classes="duplicate-hint")
    gr.DuplicateButton("复制这个 Space / Duplicate this Space", size="lg", elem_id=f"{tab_id}-duplicate")
    gr.Markdown(family.SET_PASSWORD)


def launch_kwargs(public: bool = False) -> dict:
    """What `launch()` passes to Gradio besides host and port (tests reuse it). Uploads are capped
    here, so Gradio refuses a bigger file before storing it."""
    mb = get_settings().public.max_upload_mb if public else MAX_BYTES / 2**20
    kwargs = dict(share=False, theme=theme(), css_paths=[CSS_PATH], footer_links=["api"], show_error=False,
                  max_file_size=f"{int(mb * 1024)}kb")
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
    demo = build_ui(public)
    warm.join(WARM_UP_WAIT_S)  # serve once warm, so the first story does not wait for loading
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock, quiet=quiet,
                **launch_kwargs(public))
    return demo

"""The web app: `build_ui()` lays out the tabs, `launch()` serves it on settings.ui.host:port.

    python app.py            # or: storyteller ui --port 7860

Each tab is one module with `render(ctx)`; add a tab with one line in TABS. Theme and css go to
`launch()` (Gradio 6). Fonts are local system fonts, so the app works offline.
"""

from __future__ import annotations

import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from storyteller import studio  # noqa: E402
from storyteller.config import get_settings  # noqa: E402
from storyteller.paths import ASSETS  # noqa: E402
from storyteller.ui import data, story  # noqa: E402
from storyteller.ui import training  # noqa: E402
from storyteller.ui.context import UIContext  # noqa: E402

CSS_PATH = os.path.join(os.path.dirname(__file__), "style.css")
FAVICON = ASSETS / "favicon.png"

# (label, tab id, module with render(ctx)) — one line per tab.
TABS = [
    ("讲故事 / Story", "story", story),
    ("数据 / Data", "data", data),
    ("训练 / Training", "training", training),
]

# The app serves once the default model is warm, or after this long (a big model goes on loading).
WARM_UP_WAIT_S = 60.0

TITLE = "# 英雄穿越记 · Hero Time Travellers\n奥特曼和中国古代英雄一起打怪兽！ Ultraman teams up with heroes from Chinese history!"


def theme() -> gr.themes.Base:
    """A soft, friendly theme with local fonts only (no font downloads)."""
    fonts = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    return gr.themes.Soft(primary_hue="orange", secondary_hue="sky", radius_size="lg", font=fonts,
                          font_mono=["DejaVu Sans Mono", "monospace"])


def build_ui() -> gr.Blocks:
    settings = get_settings()
    with gr.Blocks(title="Storyteller · 讲故事") as demo:
        gr.Markdown(TITLE, elem_id="app-title")
        ctx = UIContext(settings=settings)
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            for label, tab_id, module in TABS:
                with gr.Tab(label, id=tab_id):
                    module.render(ctx)
    demo.queue(default_concurrency_limit=settings.ui.concurrency)
    return demo


def launch_kwargs() -> dict:
    """What `launch()` passes to Gradio besides host and port (tests reuse it)."""
    kwargs = dict(share=False, theme=theme(), css_paths=[CSS_PATH], footer_links=["api"], show_error=False)
    if FAVICON.exists():
        kwargs["favicon_path"] = str(FAVICON)
    return kwargs


def launch(host: str | None = None, port: int | None = None, prevent_thread_lock: bool = False,
           quiet: bool = False) -> gr.Blocks:
    """Serve the app on settings.ui.host:port (loopback by default, never a share link), once the
    default model is loaded (at most WARM_UP_WAIT_S): a page that answers is ready to tell."""
    settings = get_settings()
    warm = threading.Thread(target=studio.warm_up, name="warm-up", daemon=True)
    warm.start()  # imports torch and loads the weights (seconds) while the UI is built
    demo = build_ui()
    warm.join(WARM_UP_WAIT_S)  # serve once warm, so the first story does not wait for loading
    demo.launch(server_name=host or settings.ui.host, server_port=port or settings.ui.port,
                prevent_thread_lock=prevent_thread_lock, quiet=quiet, **launch_kwargs())
    return demo

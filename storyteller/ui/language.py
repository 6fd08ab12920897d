"""The page's language switch (中文 / English) at the top of every tab.

On load the page takes the language this browser chose before (kept in its local storage by
gr.BrowserState), else the first of zh/en its Accept-Language asks for, else Chinese. Switching
relabels every component each tab registered in `ctx.words` (one `gr.update` each), sets the
page's `<html lang>` and title, tells the page's `Visitor` (so handlers word their messages in
it), and moves the story language with it: a family that reads English hears English stories.
The Data tab's story language follows too, and a parent may still set it apart there.
"""

from __future__ import annotations

import json

import gradio as gr

from storyteller.ui import i18n
from storyteller.ui.context import UIContext
from storyteller.ui.visitor import Visitor

STORAGE_KEY = "storyteller-lang"
CHOICES = [("中文", "zh"), ("English", "en")]  # each language named in itself, on every page
HTML_LANG = {"zh": "zh-CN", "en": "en"}
# Gradio words a few things itself ("Drop File Here") in the browser's language; its own locale
# switch is its `changeLocale`, exported by its core module, which the page already loaded.
GRADIO_LOCALE = ("const core = performance.getEntriesByType('resource').map(e => e.name)"
                 ".find(n => /\\/assets\\/core-[\\w-]+\\.js$/.test(n)); "
                 "if (core) import(core).then(m => m.changeLocale && m.changeLocale(l === 'en' ? 'en' : 'zh-CN'))"
                 ".catch(() => {});")
LIVE = ["story-text", "story-stats"]  # read out as they change: the story as it grows, then how it ended
# Words Gradio's own zh-CN has no entry for, which its screen-reader announcer says after an event
# ("common.complete" was read out, key and all, on a Chinese page). Given to launch() as gr.I18n.
GRADIO_ZH = {"common.complete": "完成", "common.progress": "进度",
             "status.queue_position": "排队中：第 {position} 位，共 {size} 位"}


def gradio_words() -> gr.I18n:
    """Gradio's missing Chinese words, for `launch(i18n=...)`."""
    return gr.I18n(**{"zh-CN": GRADIO_ZH, "zh": GRADIO_ZH})


def render(ctx: UIContext) -> tuple[gr.Radio, gr.BrowserState]:
    """The switch (registered for relabelling) and where the browser remembers the choice."""
    switch = gr.Radio(CHOICES, value=i18n.DEFAULT, elem_id="ui-lang", container=False, scale=0, min_width=200,
                      elem_classes="ui-lang")
    ctx.words.add(switch, label="app.language")
    return switch, gr.BrowserState(None, storage_key=STORAGE_KEY)


def page_js() -> str:
    """(lang) => sets <html lang>, the page title and the story's aria-live; returns the language."""
    titles = json.dumps({lang: i18n.t("app.page_title", lang) for lang in i18n.LANGS}, ensure_ascii=False)
    return (f"(lang) => {{ const l = lang === 'en' ? 'en' : 'zh'; document.documentElement.lang = "
            f"{json.dumps(HTML_LANG)}[l]; document.title = {titles}[l]; "
            f"const live = () => {{ for (const id of {json.dumps(LIVE)}) {{ const e = document.getElementById(id); "
            f"if (e && e.getAttribute('aria-live') !== 'polite') e.setAttribute('aria-live', 'polite'); }} }}; live(); "
            # Gradio may build or rebuild the story box after this runs: keep the attribute on it
            f"if (!window.__liveWatch) {{ window.__liveWatch = new MutationObserver(live); "
            f"window.__liveWatch.observe(document.body, {{childList: true, subtree: true}}); }} "
            f"{GRADIO_LOCALE} return lang; }}")


def choose(stored: object, visitor: Visitor | None = None, request: gr.Request | None = None) -> str:
    """Page load: the browser's earlier choice, else its Accept-Language, else Chinese."""
    if stored in i18n.LANGS:
        lang = stored
    else:
        headers = getattr(request, "headers", None) or {}
        lang = i18n.from_accept_language(headers.get("accept-language"))
    if visitor is not None:
        visitor.lang = lang
    return lang


def wire(ctx: UIContext, demo: gr.Blocks, switch: gr.Radio, stored: gr.BrowserState) -> None:
    """Connect the switch once every tab has registered its words (call at the end of build_ui)."""
    who = [ctx.visitor] if ctx.visitor is not None else []
    follow = [c for c in (ctx.lang, ctx.extra.get("data_lang")) if c is not None]
    components = ctx.words.components

    def relabel(lang, visitor: Visitor | None = None):
        lang = i18n.norm(lang)
        if visitor is not None:
            visitor.lang = lang
        return (*ctx.words.updates(lang), *[lang] * len(follow))

    js = page_js()
    demo.load(choose, [stored, *who], switch, queue=False, api_visibility="private").then(
        None, switch, None, js=js, queue=False, api_visibility="private")
    switch.change(relabel, [switch, *who], components + follow, queue=False, api_visibility="private",
                  show_progress="hidden").then(None, switch, None, js=js, queue=False, api_visibility="private")
    switch.input(lambda lang: i18n.norm(lang), switch, stored, queue=False, api_visibility="private")

"""The story book tab (故事书 / My stories): every story this browser's family was told (all of them
when the app runs locally for one family), newest first, 20 a page.

Search, show only the ⭐ ones, open one: read it, 👍/👎 it with a child's reasons, keep it as a
favourite, hear it again (the WAV is made once and kept with the story: `library.printable`),
download it as text, as a printable page with pinyin above the hanzi, and as sound, or delete it.
A parent can clear the whole book. Handlers are thin over `storyteller.library`; every word from a
story or a request is escaped before it joins our Markdown, and the story itself is shown in a
read-only text box. The page is read again whenever the tab is opened.
"""

from __future__ import annotations

import html
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr
from gradio.context import Context

from storyteller import access
from storyteller.catalog import get_catalog
from storyteller.errors import StorytellerError
from storyteller.library import REASONS, Library, Page
from storyteller.library.printable import story_audio, write_files
from storyteller.plaintext import escape_markdown
from storyteller.safety import age
from storyteller.studio import model_name
from storyteller.ui import i18n
from storyteller.ui.context import UIContext
from storyteller.ui.i18n import t
from storyteller.ui.visitor import Visitor

log = logging.getLogger(__name__)
DOWNLOADS = Path(tempfile.gettempdir()) / "storyteller-book"  # Gradio copies what it serves; kept an hour
KEEP_S = 3600
COLUMNS = ("title", "request", "model", "age", "date")


def _lib(visitor: Visitor | None) -> Library:
    return Library(owner=(visitor or Visitor()).scope)


def _lang(visitor: Visitor | None) -> str:
    return i18n.norm((visitor or Visitor()).lang)


def _warn(e: Exception, lang: str) -> str:
    text = i18n.error_text(e, lang)
    gr.Warning(html.escape(text))  # toasts render HTML; the message may quote what was sent
    return text


def request_line(req: dict, lang: str) -> str:
    """唐 · 隐形 · 轻松 in the page's language (presets translated; what a child typed stays as typed)."""
    cat = get_catalog()
    return " · ".join(cat.translate(k, str(req.get(k)), lang) for k in ("dynasty", "power", "style") if req.get(k))


def rows(page: Page, lang: str) -> list[list[str]]:
    """The table's rows: ⭐ 👍/👎 and the title line, request, model, age band, date."""
    out, names = [], {}
    for e in page.entries:
        if e.model not in names:  # a model card is read once a page (it is YAML: milliseconds each)
            names[e.model] = model_name(e.model, lang)
        what = request_line(e.request, lang)
        band = age.band(e.age_band).label(lang) if e.age_band else ""
        marks = ("⭐" if e.favourite else "") + {1: "👍", -1: "👎"}.get(e.rating, "")
        out.append([f"{marks} {e.title}".strip(), what, names[e.model], band, _date(e.created)])
    return out


def _date(created: float) -> str:
    """Month, day and time this year (which night's story); the year before that."""
    when = time.localtime(created)
    return time.strftime("%m-%d %H:%M" if when.tm_year == time.localtime().tm_year else "%Y-%m-%d", when)


def show_page(query, favourites, number, visitor: Visitor | None = None):
    """(table, pager line, book state) for one page of the family's stories."""
    lang = _lang(visitor)
    page = _lib(visitor).page(query, number or 1, bool(favourites))
    state = {"page": page.page, "ids": [e.id for e in page.entries]}
    if page.total:
        pager = t("library.pager", lang, page=page.page, pages=page.pages, n=page.total)
    else:
        pager = t("library.none_found" if page.query or favourites else "library.empty", lang)
    headers = [t(f"library.col_{c}", lang) for c in COLUMNS]
    table = gr.update(value=rows(page, lang), headers=headers)
    return table, pager, state


def turn(delta: int):
    def go(query, favourites, state, visitor: Visitor | None = None):
        return show_page(query, favourites, int((state or {}).get("page") or 1) + delta, visitor)
    return go


def refresh(query, favourites, state, visitor: Visitor | None = None):
    return turn(0)(query, favourites, state, visitor)


def _files(lib: Library, story: int) -> list[str]:
    """Text, printable page and (if kept) the WAV, in a fresh folder; old folders are cleared."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    for old in DOWNLOADS.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > KEEP_S:
            shutil.rmtree(old, ignore_errors=True)
    return [str(p) for p in write_files(lib, story, DOWNLOADS / uuid.uuid4().hex)]


def _heading(e, lang: str) -> str:
    what = escape_markdown(request_line(e.request, lang))
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created))
    band = age.band(e.age_band).label(lang) if e.age_band else ""
    star = "⭐ " if e.favourite else ""
    return (f"### {star}{escape_markdown(e.title)}\n{what} · {escape_markdown(model_name(e.model, lang))} · "
            f"{escape_markdown(band)} · {when}")


def _rated(e, lang: str) -> str:
    if e.rating is None:
        return t("library.not_rated", lang)
    reasons = "、".join(t(f"library.reason_{r}", lang) for r in e.reasons) if lang == "zh" else \
        ", ".join(t(f"library.reason_{r}", lang) for r in e.reasons)
    shown = (f"（{reasons}）" if lang == "zh" else f" ({reasons})") if reasons else ""
    return t("library.rated_up" if e.rating == 1 else "library.rated_down", lang) + shown


def _opened(lib: Library, story: int, lang: str, files: bool = True):
    """The open story's panel: (panel, heading, text, rating line, reasons, favourite button, player, files, id)."""
    e = lib.get(story)
    kept = lib.audio_path(e.id)
    return (gr.update(visible=True), _heading(e, lang), e.text or "", _rated(e, lang), e.reasons,
            t("library.unfavourite" if e.favourite else "library.favourite", lang),
            _player(kept), _files(lib, e.id) if files else gr.skip(), e.id)


def _player(path) -> dict:
    """The player takes no room until there is something to hear."""
    return gr.update(value=str(path) if path else None, visible=path is not None)


CLOSED = (gr.update(visible=False), "", "", "", [], gr.skip(), _player(None), None, None)


def open_story(state, visitor: Visitor | None = None, evt: gr.SelectData = None):  # not Optional: Gradio fills it by its type
    """A row was chosen: open that story."""
    lang = _lang(visitor)
    ids = (state or {}).get("ids") or []
    row = evt.index[0] if evt is not None and isinstance(evt.index, (list, tuple)) else None
    if row is None or not 0 <= row < len(ids):
        return CLOSED
    try:
        return _opened(_lib(visitor), ids[row], lang)
    except StorytellerError as e:
        _warn(e, lang)
        return CLOSED


def rate(value: str):
    def handler(story, reasons, query, favourites, state, visitor: Visitor | None = None):
        lang = _lang(visitor)
        try:
            e = _lib(visitor).rate(story, value, [r for r in reasons or [] if r in REASONS])
        except StorytellerError as err:
            return (_warn(err, lang), *refresh(query, favourites, state, visitor))
        return (_rated(e, lang), *refresh(query, favourites, state, visitor))
    return handler


def toggle_favourite(story, query, favourites, state, visitor: Visitor | None = None):
    lang = _lang(visitor)
    lib = _lib(visitor)
    try:
        e = lib.favourite(story, not lib.get(story).favourite)
    except StorytellerError as err:
        _warn(err, lang)
        return (gr.skip(), gr.skip(), *refresh(query, favourites, state, visitor))
    button = t("library.unfavourite" if e.favourite else "library.favourite", lang)
    return (button, _heading(e, lang), *refresh(query, favourites, state, visitor))


def read_again(story, visitor: Visitor | None = None):
    """The story's kept voice, or made now and kept (never made twice); then its files again."""
    lang = _lang(visitor)
    lib = _lib(visitor)
    try:
        path = story_audio(lib, story)
    except StorytellerError as e:
        _warn(e, lang)
        return gr.skip(), gr.skip()
    return _player(path), _files(lib, story)


def ask_delete(story):
    return gr.update(visible=story is not None)


def delete(story, query, favourites, state, visitor: Visitor | None = None):
    lang = _lang(visitor)
    try:
        _lib(visitor).delete(story)
        gr.Info(t("library.deleted", lang))
    except StorytellerError as e:
        _warn(e, lang)
    return (gr.update(visible=False), *CLOSED, *refresh(query, favourites, state, visitor))


def clear_all(sure, visitor: Visitor | None = None):
    """A parent empties the book (with a parent password set, only once unlocked)."""
    visitor = visitor or Visitor()
    lang = _lang(visitor)
    if visitor.public and access.parent_gate_set():
        visitor.require_parent()
    if not sure:
        return t("library.clear_sure_first", lang), *([gr.skip()] * 13)
    n = _lib(visitor).clear()
    return (t("library.cleared", lang, n=n), False, *show_page("", False, 1, visitor), *CLOSED)


def keep_told_audio(run, frame: tuple, visitor: Visitor | None) -> None:
    """The story tab's last read-aloud frame offers the whole story's WAV: keep it with the story,
    so the story book plays it instead of making it again. A stopped story's partial WAV is not kept."""
    wav = frame[3] if len(frame) > 3 else None
    if not isinstance(wav, str) or run is None or run.status != "done" or run.story_id is None:
        return
    try:
        _lib(visitor).keep_audio(run.story_id, wav)
    except (StorytellerError, OSError) as e:  # the story and its download are fine without it
        log.warning("could not keep the story's audio: %s", e)


def rate_told(value: str):
    def handler(session, reasons, visitor: Visitor | None = None):
        """👍/👎 under the story tab's story: the story this page told last."""
        lang = _lang(visitor)
        run = getattr(session, "run", None)
        if run is None or run.story_id is None:
            return t("library.tell_first", lang)
        try:
            return _rated(_lib(visitor).rate(run.story_id, value, [r for r in reasons or [] if r in REASONS]), lang)
        except StorytellerError as e:
            return _warn(e, lang)
    return handler


def render_rating(ctx: UIContext, session: gr.State) -> None:
    """👍/👎 and the reasons, under the story tab's story (`session`: its TellSession state)."""
    w = ctx.words
    who = [ctx.visitor] if ctx.visitor is not None else []
    with gr.Row(elem_id="story-rating", equal_height=False):
        up = w.add(gr.Button(size="sm", scale=0, min_width=100, elem_id="story-up"), value="library.up")
        down = w.add(gr.Button(size="sm", scale=0, min_width=100, elem_id="story-down"), value="library.down")
        reasons = w.add(gr.CheckboxGroup(container=False, scale=3, elem_id="story-reasons"), label="library.reasons",
                        choices=[(f"library.reason_{r}", r) for r in REASONS])
    said = gr.Markdown("", elem_id="story-rated")
    for button, value in ((up, "up"), (down, "down")):
        button.click(rate_told(value), [session, reasons, *who], said, api_visibility="private")


def render(ctx: UIContext) -> None:
    w = ctx.words
    tab = Context.block  # this tab: the book is read again each time it is opened
    who = [ctx.visitor] if ctx.visitor is not None else []
    state = gr.State({"page": 1, "ids": []})
    opened = gr.State(None)
    w.add(gr.Markdown(elem_id="library-intro"), value="library.intro")
    with gr.Row(equal_height=True):
        query = w.add(gr.Textbox(max_length=200, scale=4, elem_id="library-search", submit_btn=True),
                      label="library.search", placeholder="library.search_hint")
        favourites = w.add(gr.Checkbox(False, scale=1, min_width=140, elem_id="library-favourites"),
                           label="library.only_favourites")
    table = gr.Dataframe(value=[], headers=[t(f"library.col_{c}") for c in COLUMNS], datatype="str", interactive=False,
                         wrap=True, max_height=560, elem_id="library-table",
                         column_widths=["40%", "20%", "15%", "10%", "15%"])
    with gr.Row(elem_classes="library-pager"):
        prev_btn = w.add(gr.Button(size="sm", scale=0, min_width=120, elem_id="library-prev"), value="library.prev")
        pager = gr.Markdown("", elem_id="library-pager")
        next_btn = w.add(gr.Button(size="sm", scale=0, min_width=120, elem_id="library-next"), value="library.next")
    with gr.Column(visible=False, elem_id="library-story") as panel:
        heading = gr.Markdown("", elem_id="library-heading")
        text = gr.Textbox("", interactive=False, show_label=False, lines=8, max_lines=30, buttons=["copy"],
                          elem_id="library-text", elem_classes="story-text")
        rated = gr.Markdown("", elem_id="library-rated")
        reasons = w.add(gr.CheckboxGroup(elem_id="library-reasons"), label="library.reasons",
                        choices=[(f"library.reason_{r}", r) for r in REASONS])
        with gr.Row():
            up = w.add(gr.Button(variant="primary", min_width=90, elem_id="library-up"), value="library.up")
            down = w.add(gr.Button(variant="secondary", min_width=90, elem_id="library-down"), value="library.down")
            fav = gr.Button(t("library.favourite"), min_width=90, elem_id="library-favourite")
            speak = w.add(gr.Button(min_width=90, elem_id="library-speak"), value="library.speak")
            remove = w.add(gr.Button(variant="stop", min_width=90, elem_id="library-delete"), value="library.delete")
        with gr.Row(visible=False, elem_id="library-confirm") as confirm:
            w.add(gr.Markdown(), value="library.delete_sure")
            yes = w.add(gr.Button(variant="stop", size="sm", elem_id="library-delete-yes"), value="library.delete_yes")
            no = w.add(gr.Button(size="sm", elem_id="library-delete-no"), value="library.delete_no")
        player = w.add(gr.Audio(interactive=False, type="filepath", visible=False, elem_id="library-audio"),
                       label="library.audio")
        files = w.add(gr.File(file_count="multiple", interactive=False, elem_id="library-files"),
                      label="library.files")
    with w.add(gr.Accordion(open=False, elem_id="library-parents"), label="library.parents"):
        sure = w.add(gr.Checkbox(False, elem_id="library-clear-sure"), label="library.clear_sure")
        clear_btn = w.add(gr.Button(variant="stop", elem_id="library-clear"), value="library.clear")
        cleared = gr.Markdown("", elem_id="library-cleared")

    private = dict(api_visibility="private")
    page_out = [table, pager, state]
    story_out = [panel, heading, text, rated, reasons, fav, player, files, opened]
    for event in (query.submit, favourites.change):
        event(lambda q, f, v=None: show_page(q, f, 1, v), [query, favourites, *who], page_out, **private)
    prev_btn.click(turn(-1), [query, favourites, state, *who], page_out, **private)
    next_btn.click(turn(1), [query, favourites, state, *who], page_out, **private)
    if isinstance(tab, gr.Tab):
        tab.select(refresh, [query, favourites, state, *who], page_out, **private)
    table.select(open_story, [state, *who], story_out, **private)
    up.click(rate("up"), [opened, reasons, query, favourites, state, *who], [rated, *page_out], **private)
    down.click(rate("down"), [opened, reasons, query, favourites, state, *who], [rated, *page_out], **private)
    fav.click(toggle_favourite, [opened, query, favourites, state, *who], [fav, heading, *page_out], **private)
    speak.click(read_again, [opened, *who], [player, files], concurrency_limit=2, concurrency_id="library-speak",
                **private)
    remove.click(ask_delete, opened, confirm, queue=False, **private)
    no.click(lambda: gr.update(visible=False), None, confirm, queue=False, **private)
    yes.click(delete, [opened, query, favourites, state, *who], [confirm, *story_out, *page_out], **private)
    clear_btn.click(clear_all, [sure, *who], [cleared, sure, *page_out, *story_out], **private)

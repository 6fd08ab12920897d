"""The Data tab's preference box: how many 👍/👎 and picked pairs the family has, and an export as
trl (prompt/chosen/rejected), OpenAI DPO or KTO lines, checked for format and child safety
(`storyteller.library.exports`). The file goes to the family's prepared folder, where the
Training tab finds datasets, and is offered for download. Parents only in public mode.
"""

from __future__ import annotations

import html

import gradio as gr

from storyteller.data import workspace
from storyteller.data.prepare import MIN_EXAMPLES
from storyteller.errors import StorytellerError
from storyteller.library import FORMATS, Library, export
from storyteller.plaintext import escape_markdown
from storyteller.ui import i18n
from storyteller.ui.context import UIContext
from storyteller.ui.i18n import t
from storyteller.ui.visitor import Visitor


def counts(visitor: Visitor | None = None) -> str:
    visitor = visitor or Visitor()
    visitor.require_parent()
    lang = i18n.norm(visitor.lang)
    c = Library(owner=visitor.scope).counts()
    return t("prefs.counts", lang, stories=c.stories, up=c.up, down=c.down, picked=c.pairs["left"] + c.pairs["right"],
             tie=c.pairs["tie"], bad=c.pairs["both_bad"], open=c.pairs["undecided"])


def run_export(fmt, visitor: Visitor | None = None):
    """(report, file) for one export; a friendly note when there is nothing to export yet."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    lang = i18n.norm(visitor.lang)
    fmt = fmt if fmt in FORMATS else "trl"
    try:
        out = workspace.prepared_dir(visitor.scope) / f"preferences.{fmt}.jsonl"
        report = export(Library(owner=visitor.scope), fmt, out)
    except (StorytellerError, OSError) as e:
        said = i18n.error_text(e, lang) if isinstance(e, StorytellerError) else str(e.strerror or e)
        gr.Warning(html.escape(said))
        return f"⚠️ {escape_markdown(said)}", gr.update(value=None, visible=False), counts(visitor)
    lines = [t("prefs.written", lang, n=report.written, format=fmt)]
    if report.dropped:
        left = ", ".join(f"{t(f'prefs.drop_{k}', lang) if f'prefs.drop_{k}' in i18n.strings(lang) else k} ×{v}"
                         for k, v in sorted(report.dropped.items()))
        lines.append(t("prefs.dropped", lang, what=escape_markdown(left)))
    lines += [f"- ⚠️ {t(f'prefs.note_{k}', lang, n=n, min=MIN_EXAMPLES)}" for k, n in report.notes.items()]
    return "\n\n".join(lines), gr.update(value=str(out), visible=True), counts(visitor)


def render(ctx: UIContext) -> None:
    w = ctx.words
    who = [ctx.visitor] if ctx.visitor is not None else []
    with w.add(gr.Accordion(open=True, elem_id="prefs-box"), label="prefs.box"):
        w.add(gr.Markdown(elem_id="prefs-intro"), value="prefs.intro")
        with gr.Row():
            summary = gr.Markdown("", elem_id="prefs-counts")
            again = w.add(gr.Button(size="sm", scale=0, min_width=120, elem_id="prefs-refresh"), value="prefs.refresh")
        with gr.Row():
            fmt = w.add(gr.Radio(value="trl", elem_id="prefs-format", scale=3), label="prefs.format",
                        choices=[("prefs.fmt_trl", "trl"), ("prefs.fmt_openai", "openai-dpo"), ("prefs.fmt_kto", "kto")])
            button = w.add(gr.Button(variant="secondary", scale=1, elem_id="prefs-export"), value="prefs.export")
        report = gr.Markdown("", elem_id="prefs-report")
        file = w.add(gr.File(interactive=False, visible=False, elem_id="prefs-file", height=80), label="prefs.file")
    again.click(counts, who, summary, api_visibility="private")
    button.click(run_export, [fmt, *who], [report, file, summary], api_visibility="private")
    if ctx.tabs is not None:  # counted afresh when a tab is chosen (the Data tab among them)
        ctx.tabs.select(lambda v=None: _quiet_counts(v), who, summary, api_visibility="private", show_progress="hidden")


def _quiet_counts(visitor: Visitor | None = None):
    """Counts for the tab switch: a locked page shows nothing rather than an error."""
    try:
        return counts(visitor)
    except gr.Error:
        return gr.skip()

"""The line under the story: a few words for the child, and folded beneath them a line for parents.

A child reads "讲完啦！"; speed (tokens and characters a second), the first word's wait, the model's
card name and id, the age band, the vocabulary grade and any safety replacements fold under
"给爸爸妈妈 / For parents" (an HTML <details>, which Gradio's Markdown keeps and a screen reader
announces as a button). Everything from the model or the request is escaped first.
"""

from __future__ import annotations

import html

from storyteller.safety import age
from storyteller.studio import StoryRun, model_name
from storyteller.ui.i18n import norm, t

STATES = {"done": "status.done", "stopped": "status.stopped", "error": "status.error"}


def child_line(run: StoryRun, lang: str) -> str:
    """What the child sees once the story ends or stops (empty while it is told)."""
    key = STATES.get(run.status)
    return t(key, lang) if key else ""


def parents_line(run: StoryRun, lang: str) -> str:
    """Speed and model details, one line, in the page's language (plain text, not yet escaped)."""
    lang = norm(lang)
    s, r = run.stats(), run.response
    parts = []
    if s["ttft_s"] is not None:
        parts.append(t("status.first", lang, s=f"{s['ttft_s']:.2f}"))
    if s["tokens_per_s"] is not None:
        span = (r.finished_at or 0) - (r.first_token_at or 0) if r is not None else 0
        chars = f"{len(run.text) / span:.0f}" if span > 0 else "–"
        parts.append(t("status.speed", lang, tokens=f"{s['tokens_per_s']:.1f}", chars=chars))
    name = model_name(s["model"], lang)
    parts.append(t("status.model", lang, name=name, id=s["model"]) if name != s["model"] else t("status.model_id", lang, id=name))
    parts.append(age.band(run.request.age_band).label(lang))
    if run.status != "pending" and (g := run.grade()) is not None and g.lang == lang:
        parts.append(g.line())
    if n := sum(s["blocked"].values()):
        parts.append(t("status.replaced", lang, n=n))
    return " · ".join(parts)


def story_status(run: StoryRun, lang: str) -> str:
    """Markdown for the status box: the child's words, then the parents' fold."""
    return (f"{html.escape(child_line(run, lang))}\n\n<details class=\"for-parents\"><summary>"
            f"{html.escape(t('status.parents', lang))}</summary>{html.escape(parents_line(run, lang))}</details>")

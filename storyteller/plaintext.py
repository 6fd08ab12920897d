"""Text from outside (a model, an upload, a typed field) shown as text, never as markup.

`escape_markdown` is for the few places where such text sits inside our own Markdown (an error in
a status line): the marks that could start an image, a link, an autolink (`:`, `@`, `www.`), an
HTML tag or entity, code, emphasis, a heading, a table or a formula are backslash-escaped
(CommonMark allows it for any punctuation), so the text shows as typed and nothing loads or links.
`strip_controls` is for terminals: no escape sequences (colours, OSC 8 hyperlinks, title changes).
"""

from __future__ import annotations

import re

_MARKS = re.compile(r"([\\`*\[\]()!<>&:@$|~{}#])")
_WWW = re.compile(r"(?i)\b(www)\.")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def escape_markdown(text: object, limit: int = 2000) -> str:
    """`text` (capped at `limit` characters) as literal characters in Markdown."""
    s = strip_controls(str(text))[:limit]
    return _WWW.sub(r"\1\\.", _MARKS.sub(r"\\\1", s))


def strip_controls(text: str) -> str:
    """`text` without control characters (newlines and tabs stay) or bidirectional overrides."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))

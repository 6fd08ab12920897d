"""The page's words, one file per language (`strings/zh.toml`, `strings/en.toml`), and the switch
that relabels every tab.

`t(key, lang, **values)` gives one text; `table(section)` gives {lang: {name: text}} for a tab
that keeps a LABELS dict. `Words` collects (component, {property: key}) while the tabs are built,
so one language switch can return a `gr.update` for every component of every tab. Messages that
handlers make use the page's language, kept on the page's `Visitor`. Errors from the core arrive
as text (sometimes with a Chinese version, `StorytellerError.zh`, sometimes in both languages):
`error_text` picks the page's language at this edge, so the core never imports the UI.

Gradio's own `gr.I18n` translates in the browser by its locale; it cannot word a handler's message
or an error, and has no switch a child can press, so the page keeps its words here.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

import gradio as gr

from storyteller.errors import StorytellerError

LANGS = ("zh", "en")
DEFAULT = "zh"
STRINGS = Path(__file__).with_name("strings")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def norm(lang: object) -> str:
    """"zh" or "en" (anything else: the default, Chinese)."""
    return lang if lang in LANGS else DEFAULT


@cache
def strings(lang: str) -> dict[str, str]:
    """Every text of one language, by dotted key ("story.tell")."""
    with open(STRINGS / f"{lang}.toml", "rb") as f:
        return dict(_flatten(tomllib.load(f)))


def _flatten(tree: dict, prefix: str = ""):
    for name, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", str(value)


def t(key: str, lang: object = DEFAULT, **values) -> str:
    """The text for `key` in `lang`, with `{name}` filled from `values`."""
    text = strings(norm(lang))[key]
    return text.format(**values) if values else text


def table(section: str) -> dict[str, dict[str, str]]:
    """{lang: {name: text}} of one section, for a tab that keeps a LABELS dict."""
    head = section + "."
    return {lang: {k[len(head):]: v for k, v in strings(lang).items() if k.startswith(head) and "." not in k[len(head):]}
            for lang in LANGS}


def from_accept_language(header: object) -> str:
    """The first of zh/en the browser asks for (Accept-Language, by weight); else Chinese."""
    asked = []
    for i, part in enumerate(str(header or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        asked.append((-weight, i, tag.strip().lower()[:2]))
    return next((tag for _, _, tag in sorted(asked) if tag in LANGS), DEFAULT)


def pick_language(text: str, lang: object) -> str:
    """From a message written in both languages ("Length must be a number. 长度请填一个数字。"), the
    sentences in `lang`; a message in one language only comes back whole."""
    parts = [p for p in re.split(r"(?<=[。！？])\s*|(?<=[.!?])\s+(?=\S)", text) if p and p.strip()]
    zh = [p for p in parts if CJK.search(p)]
    en = [p for p in parts if not CJK.search(p)]
    if not zh or not en:
        return text
    chosen = zh if norm(lang) == "zh" else en
    return ("" if norm(lang) == "zh" else " ").join(p.strip() for p in chosen)


# What a command line says, as the web page says it (a flag means nothing on a web page).
_FLAGS = {"--val": "flag.val", "--allow-unsafe": "flag.allow_unsafe", "--out": "flag.out", "--format": "flag.format"}


def error_text(e: BaseException | str, lang: object) -> str:
    """An error as the page's language says it: the core's Chinese text on a Chinese page when it
    has one, the page's half of a two-language message, never a command-line flag."""
    lang = norm(lang)
    if isinstance(e, StorytellerError):
        zh = getattr(e, "zh", None)
        text = zh if lang == "zh" and zh else pick_language(str(e), lang)
    else:
        text = str(e)
    english_only = lang == "zh" and not CJK.search(text)
    for flag, key in _FLAGS.items():
        text = re.sub(rf"`?{re.escape(flag)}\b`?", t(key, lang), text)
    return t("err.lead", lang) + text if english_only else text  # an English-only detail says so first


class Words:
    """The components whose words change with the page language, and which key each property reads.

    `add(component, label="data.model", info=..., placeholder=..., value=..., choices=[(key, value)])`
    sets the default language's words on the component now (before the page is built) and
    remembers the keys; `updates(lang)` is one `gr.update` per component, in `components` order.
    A choice whose first item is not a key (a model id, a file format) is shown as it is.
    The words also go into the component's constructor arguments: Gradio rebuilds a page's copy of
    a component from them on any update to it (even `gr.skip()`), and a copy without the choices
    refuses every value the page sends ("sft is not in the list of choices: []")."""

    PROPS = ("label", "info", "placeholder", "value")

    def __init__(self):
        self.items: list[tuple[gr.components.Component | gr.blocks.BlockContext, dict]] = []

    def add(self, component, **keys):
        if isinstance(component, gr.UploadButton) and "value" in keys:  # its words are its `label`
            keys["label"] = keys.pop("value")
        args = getattr(component, "constructor_args", {})
        for prop, key in keys.items():
            if prop == "choices":
                component.choices = args["choices"] = _choices(key, DEFAULT)
            elif prop in self.PROPS:
                setattr(component, prop, t(key))
                args[prop] = getattr(component, prop)
            else:
                raise ValueError(f"no words for {prop}")
        self.items.append((component, keys))
        return component

    @property
    def components(self) -> list:
        return [c for c, _ in self.items]

    def updates(self, lang: object) -> list[dict]:
        out = []
        for _, keys in self.items:
            props = {p: (_choices(key, lang) if p == "choices" else t(key, lang)) for p, key in keys.items()}
            out.append(gr.update(**props))
        return out


def _choices(pairs, lang: object) -> list[tuple[str, str]]:
    words = strings(norm(lang))
    return [(words.get(k, k), v) for k, v in pairs]

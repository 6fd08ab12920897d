"""A story as files a family keeps: plain text, a printable page, and its voice (made once).

The printable page is one self-contained HTML file (no scripts, no remote fonts or images) with
the pinyin above every hanzi (<ruby>), for children who are learning to read; pypinyin reads whole
runs of hanzi, so a character with two readings gets the one its word needs. English stories are
printed as they are. Every character of the story is escaped: a story is text, never markup.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from pypinyin import Style
from pypinyin.contrib.tone_sandhi import ToneSandhiMixin
from pypinyin.converter import DefaultConverter
from pypinyin.core import Pinyin

from storyteller.library.store import Library, StoryEntry



class _Reader(ToneSandhiMixin, DefaultConverter):
    """pypinyin's reader with tone sandhi (不怕 bú pà, 一个 yí gè), as a child hears it said."""


pinyin = Pinyin(_Reader()).pinyin
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CSS = """body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC",sans-serif;max-width:46em;
margin:2em auto;padding:0 1em;color:#222;line-height:2.6}
h1{font-size:1.6em;line-height:2.4}p{font-size:1.45em;margin:0 0 .8em}.meta{color:#555;font-size:.95em;line-height:1.4}
ruby{ruby-position:over}rt{font-size:.5em;color:#9a3412;letter-spacing:0}
@media print{body{margin:0}.meta{font-size:.8em}}"""


def ruby(text: str) -> str:
    """Escaped text with <ruby>字<rt>zì</rt></ruby> for every hanzi."""
    out, end = [], 0
    for m in _HAN.finditer(text):
        out.append(html.escape(text[end:m.start()]))
        run = m.group()
        readings = pinyin(run, style=Style.TONE, errors="default")
        if len(readings) != len(run):  # pypinyin keeps a char it cannot read; read it alone then
            readings = [pinyin(ch, style=Style.TONE)[0] for ch in run]
        out += [f"<ruby>{html.escape(ch)}<rt>{html.escape(r[0])}</rt></ruby>" for ch, r in zip(run, readings)]
        end = m.end()
    out.append(html.escape(text[end:]))
    return "".join(out)


def printable_html(entry: StoryEntry) -> str:
    """The printable page of one story (its text must be loaded: `Library.get`)."""
    zh = entry.lang == "zh"
    req = entry.request
    label = (lambda s: ruby(s)) if zh else html.escape
    paragraphs = [p.strip() for p in (entry.text or "").split("\n") if p.strip()]
    meta = " · ".join(str(req.get(k) or "") for k in ("dynasty", "power", "style") if req.get(k))
    date = time.strftime("%Y-%m-%d", time.localtime(entry.created))
    body = "\n".join(f"<p>{label(p)}</p>" for p in paragraphs)
    return (f'<!doctype html>\n<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
            f"<title>{html.escape(entry.title or str(entry.id))}</title><style>{_CSS}</style></head><body>\n"
            f"<h1>{label(entry.title)}</h1>\n<div class=\"meta\">{html.escape(meta)} · {html.escape(date)}</div>\n"
            f"{body}\n</body></html>\n")


def write_files(library: Library, value: object, folder: Path) -> list[Path]:
    """The story as story-N.txt and story-N.html in `folder` (plus its kept WAV's path, if any)."""
    entry = library.get(value)
    folder.mkdir(parents=True, exist_ok=True)
    txt = folder / f"story-{entry.id}.txt"
    txt.write_text(f"{entry.title}\n\n{(entry.text or '').strip()}\n", encoding="utf-8")
    page = folder / f"story-{entry.id}.html"
    page.write_text(printable_html(entry), encoding="utf-8")
    audio = library.audio_path(entry.id)
    return [txt, page] + ([audio] if audio else [])


def story_audio(library: Library, value: object, voice: str | None = None, rate: int = 150) -> Path:
    """The story read aloud: its kept WAV, or made now (once) and kept with it. TTSUnavailable or
    StorytellerError when there is no voice; the story itself is untouched."""
    from storyteller.tts.readaloud import speak_text

    entry = library.get(value)
    if (kept := library.audio_path(entry.id)) is not None:
        return kept
    folder = library.audio_dir()
    folder.mkdir(parents=True, exist_ok=True)
    made = speak_text(entry.text or "", folder / f".made-{entry.id}.wav", entry.lang, voice, rate)
    try:
        return library.keep_audio(entry.id, made)
    finally:
        made.unlink(missing_ok=True)

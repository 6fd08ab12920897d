"""`storyteller speak "…" --out story.wav`: read a text aloud into a WAV file."""

from __future__ import annotations

from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError
from storyteller.tts.speakable import detect_lang


@app.command()
def speak(
    text: str = typer.Argument(..., help="The text to read aloud, or @file.txt to read a file."),
    out: Path = typer.Option(Path("story.wav"), "--out", "-o", help="Where to write the WAV file."),
    lang: str = typer.Option("auto", help="zh, en or auto (detected from the text)."),
    voice: str = typer.Option(None, help="A voice id or name; default: the best one for the language."),
    rate: int = typer.Option(150, min=60, max=300, help="Words per minute; ~110 for bedtime."),
) -> None:
    """Read a story aloud into a WAV file (Chinese via pinyin on espeak-ng)."""
    from storyteller.tts.readaloud import speak_text

    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            typer.echo(f"Could not read {text[1:]}: {e}. Give a UTF-8 text file.", err=True)
            raise typer.Exit(1) from None
    lang = detect_lang(text) if lang == "auto" else lang
    if lang not in ("zh", "en"):
        typer.echo("--lang must be zh, en or auto.", err=True)
        raise typer.Exit(1)
    try:
        path = speak_text(text, out, lang, voice, rate)
    except StorytellerError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Saved {path}")

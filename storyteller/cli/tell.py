"""`storyteller tell` streams a story to the terminal; `storyteller ui` serves the web app.

    storyteller tell --dynasty 唐 --power 隐形 --style 轻松
    storyteller tell --dynasty Tang --power invisibility --style funny --lang en --model gpt-4o-mini
    storyteller tell --dynasty 宋 --power 飞行 --style 温馨 --speak story.wav
    storyteller tell --dynasty 明 --power 隐形 --style 冒险 --age 9-12      # ages 3-5, 6-8 (default) or 9-12
    storyteller ui --port 7860

Ctrl-C stops the story and keeps it (saved like a finished one).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.engines.base import TEMPERATURE
from storyteller.errors import StorytellerError
from storyteller.plaintext import strip_controls


@app.command()
def tell(
    dynasty: str = typer.Option("唐", "--dynasty", "-d", help="A dynasty (唐, Tang, …) or anything you type."),
    power: str = typer.Option("隐形", "--power", "-p", help="A superpower (隐形, invisibility, …)."),
    style: str = typer.Option("轻松", "--style", "-s", help="A story style (轻松, funny, …)."),
    lang: str = typer.Option("zh", "--lang", "-l", help="zh or en."),
    model: str = typer.Option(None, "--model", "-m", help="Model id; default: the embedded storyteller-tiny."),
    temperature: float = typer.Option(TEMPERATURE, min=0.0, max=2.0, help="Higher is more surprising."),
    length: int = typer.Option(None, min=50, max=1500, help="About this many characters (zh) or words (en); "
                               "default and most depend on --age."),
    age_band: str = typer.Option("6-8", "--age", "-a", help="Who listens: 3-5, 6-8 or 9-12 (years old). Sets the "
                                 "length, the words, and which hero facts are told."),
    seed: int = typer.Option(None, help="Same seed, same story (local models)."),
    max_tokens: int = typer.Option(None, min=1, max=4096, help="Cap on generated tokens; default from --length."),
    speak: Path = typer.Option(None, "--speak", help="Also read the story aloud into this WAV file, sentence by "
                               "sentence while it streams."),
) -> None:
    """Tell a story, streaming it to the terminal. Ctrl-C stops and keeps the text."""
    from storyteller import studio

    run = reader = None
    try:
        req = studio.build_request(dynasty, power, style, lang, length, age_band=age_band)
        run = studio.tell(req, model, temperature=temperature, seed=seed, max_new_tokens=max_tokens)
        reader = _reader(speak, req.lang)
        for chunk in run:
            sys.stdout.write(strip_controls(chunk))  # no terminal escape sequences from a model
            sys.stdout.flush()
            if reader:
                reader.feed(chunk)
    except KeyboardInterrupt:
        if run is not None:
            run.close()
    except StorytellerError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    sys.stdout.write("\n")
    typer.echo(run.stats_line(req.lang), err=True)
    if reader:
        _save_audio(reader, speak)
    if run.error:
        typer.echo(run.error, err=True)
        raise typer.Exit(1)


def _reader(out: Path | None, lang: str):
    """A ReadAloud for --speak, or None; without a speech engine the story is still told."""
    if out is None:
        return None
    from storyteller.errors import TTSUnavailable
    from storyteller.tts.readaloud import ReadAloud
    from storyteller.tts.worker import get_speaker

    try:
        get_speaker().start()
    except TTSUnavailable as e:
        typer.echo(f"{e} (The story is told without audio.)", err=True)
        return None
    return ReadAloud(lang, out_dir=Path(tempfile.mkdtemp(prefix="storyteller-speak-")))


def _save_audio(reader, out: Path) -> None:
    reader.finish()
    errors = [c.error for c in reader.drain() if c.error]
    path = reader.story_wav(out)
    if path:
        typer.echo(f"Audio saved to {path}", err=True)
    else:
        typer.echo(f"No audio was saved{': ' + errors[0] if errors else ' (the story was empty)'}.", err=True)


@app.command()
def ui(
    host: str = typer.Option(None, help="Address to listen on; default 127.0.0.1 (this computer only), or "
                             "GRADIO_SERVER_NAME, or 0.0.0.0 in a Hugging Face Space. Any other address than "
                             "loopback turns public mode on (parent gate, limits)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port; default GRADIO_SERVER_PORT, else 7860."),
) -> None:
    """Serve the story studio web app (offline, no share link)."""
    from storyteller.ui.app import launch

    try:
        launch(host=host, port=port)
    except OSError as e:
        typer.echo(f"Could not start the web app: {e}. Try another --port.", err=True)
        raise typer.Exit(1) from None

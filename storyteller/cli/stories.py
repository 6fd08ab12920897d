"""`storyteller stories`: the story book from the terminal - list, read, rate, keep, export.

    storyteller stories list [--search 奥特曼] [--favourites] [--page 2]
    storyteller stories show 12 [--html page.html]      # the printable page, pinyin above the hanzi
    storyteller stories rate 12 up --reason loved       # or: down --reason scary --reason boring
    storyteller stories favourite 12 [--off]
    storyteller stories delete 12 --yes
    storyteller stories export --format trl|openai-dpo|kto --out prefs.jsonl

The CLI is the local family: it sees every story saved on this computer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError
from storyteller.plaintext import strip_controls

stories_app = typer.Typer(help="Your story book: list, read, rate and export saved stories.", no_args_is_help=True)
app.add_typer(stories_app, name="stories")


def _library():
    from storyteller.library import Library

    return Library()


def _fail(e: Exception | str) -> None:
    if isinstance(e, OSError):
        e = f"cannot use {e.filename or 'that file'}: {e.strerror or e}."
    typer.echo(f"Error: {e}", err=True)
    raise typer.Exit(1)


def _line(e) -> str:
    req = e.request
    mark = "⭐" if e.favourite else "  "
    vote = {1: "👍", -1: "👎"}.get(e.rating, "  ")
    what = "·".join(str(req.get(k) or "") for k in ("dynasty", "power", "style"))
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.created))
    return strip_controls(f"{e.id:>6} {mark}{vote} {when}  {e.age_band or '-':5} {what:14} {e.model[:24]:24} {e.title}")


@stories_app.command("list")
def list_(
    search: str = typer.Option("", "--search", "-s", help="Words in the story, or its dynasty, power, style or hero."),
    favourites: bool = typer.Option(False, "--favourites", "-f", help="Only the ⭐ stories."),
    page: int = typer.Option(1, min=1, help="Page number (20 stories a page, newest first)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per story."),
) -> None:
    """The newest stories first, with their number for show/rate."""
    try:
        result = _library().page(search, page, favourites)
    except StorytellerError as e:
        _fail(e)
    if as_json:
        for e in result.entries:
            typer.echo(e.model_dump_json(exclude={"text"}))
        return
    if not result.entries:
        typer.echo("No stories found." if result.query or favourites else "No stories yet: try `storyteller tell`.")
        return
    for e in result.entries:
        typer.echo(_line(e))
    typer.echo(f"page {result.page}/{result.pages} · {result.total} stories", err=True)


@stories_app.command()
def show(
    story: str = typer.Argument(..., help="The story's number (from `stories list`)."),
    html: Path = typer.Option(None, "--html", help="Also write the printable page (pinyin above the hanzi) here."),
) -> None:
    """Print one story; --html writes its printable page."""
    from storyteller.library.printable import printable_html

    try:
        e = _library().get(story)
        if html is not None:
            html.write_text(printable_html(e), encoding="utf-8")
    except (StorytellerError, OSError) as err:
        _fail(err)
    typer.echo(_line(e))
    typer.echo("")
    typer.echo(strip_controls(e.text or ""))
    if e.reasons:
        typer.echo(f"\nreasons: {', '.join(e.reasons)}")
    if html is not None:
        typer.echo(f"printable page: {html}", err=True)


@stories_app.command()
def rate(
    story: str = typer.Argument(..., help="The story's number."),
    rating: str = typer.Argument(..., help="up (👍) or down (👎)."),
    reason: list[str] = typer.Option(None, "--reason", "-r", help="scary, boring, confusing or loved (repeat)."),
) -> None:
    """👍 or 👎 a story, with the child's reasons."""
    try:
        e = _library().rate(story, rating, reason or [])
    except StorytellerError as err:
        _fail(err)
    typer.echo(_line(e))


@stories_app.command()
def favourite(
    story: str = typer.Argument(..., help="The story's number."),
    off: bool = typer.Option(False, "--off", help="Take the ⭐ away."),
) -> None:
    """Keep a story as a favourite (⭐)."""
    try:
        typer.echo(_line(_library().favourite(story, not off)))
    except StorytellerError as err:
        _fail(err)


@stories_app.command()
def delete(
    story: str = typer.Argument(..., help="The story's number, or `all` for every story."),
    yes: bool = typer.Option(False, "--yes", help="Really delete (nothing is deleted without it)."),
) -> None:
    """Delete a story (its rating, pairs and audio with it); `all` clears the whole book."""
    lib = _library()
    try:
        if story.strip().lower() == "all":
            if not yes:
                _fail(f"This deletes all {lib.count()} stories. Add --yes to do it.")
            typer.echo(f"deleted {lib.clear()} stories")
            return
        e = lib.get(story)
        if not yes:
            _fail(f"This deletes story {e.id} ({e.title}). Add --yes to do it.")
        lib.delete(e.id)
    except StorytellerError as err:
        _fail(err)
    typer.echo(f"deleted story {e.id}")


@stories_app.command()
def export(
    fmt: str = typer.Option(..., "--format", help="trl (prompt/chosen/rejected), openai-dpo or kto."),
    out: Path = typer.Option(..., "--out", "-o", help="The JSONL file to write."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Export ratings and picks as preference data, checked for format and child safety."""
    from storyteller.library import export as run

    try:
        report = run(_library(), fmt, out)
    except (StorytellerError, OSError) as err:
        _fail(err)
    typer.echo(json.dumps(report.model_dump(), ensure_ascii=False) if as_json else report.text())

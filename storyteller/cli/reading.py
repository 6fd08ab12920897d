"""`storyteller reading pack|score`: the blind reading of a model's stories against the team's."""

from __future__ import annotations

from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError
from storyteller.paths import DEFAULT_MODEL_DIR

reading_app = typer.Typer(help="Blind reading: a shuffled pack of model and team stories, then the scores.",
                          no_args_is_help=True)
app.add_typer(reading_app, name="reading")


@reading_app.command("pack")
def pack_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="A new folder for the pack."),
    model: Path = typer.Option(DEFAULT_MODEL_DIR, help="A storyteller model folder."),
    n_zh: int = typer.Option(30, min=0, help="Chinese stories from the model (and as many from the team)."),
    n_en: int = typer.Option(10, min=0, help="English stories from the model (and as many from the team)."),
    seed: int = typer.Option(0),
    beside: Path = typer.Option(None, help="A second model folder told the same requests, read in the same pack."),
) -> None:
    """Write pack.md, rubric.md and scores.csv for the reader, and key/key.json for you."""
    from storyteller.model.reading import pack

    try:
        folder = pack(model, out, n_zh, n_en, seed, beside)
    except StorytellerError as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Give the reader only {folder / 'pack.md'}, {folder / 'rubric.md'} and {folder / 'scores.csv'}.")


@reading_app.command("score")
def score_cmd(
    pack_dir: Path = typer.Argument(..., help="The pack folder."),
    reader: str = typer.Option(..., help="Who read it (recorded with the scores)."),
    model: Path = typer.Option(None, help="Record the reading in this model folder (default: the pack's model)."),
    record_it: bool = typer.Option(True, "--record/--no-record", help="Append to the model's readings.jsonl."),
) -> None:
    """Join the scores with the key and print model vs team side by side."""
    import json

    from storyteller.model.reading import record, score, table

    try:
        result = score(pack_dir)
    except (StorytellerError, FileNotFoundError, KeyError, ValueError) as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(table(result))
    if record_it:
        key = json.loads((pack_dir / "key" / "key.json").read_text(encoding="utf-8"))
        record(model or Path(key["model"]), result, reader, pack_dir)

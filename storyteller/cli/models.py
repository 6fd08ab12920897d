"""`storyteller models`: the models you can tell stories with (local folders, Hub ids, OpenAI)."""

from __future__ import annotations

import json

import typer

from storyteller.cli import app


@app.command()
def models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per model)."),
    offline: bool = typer.Option(False, "--offline", help="Do not ask the OpenAI server for fine-tuned models."),
) -> None:
    """List the models you can choose, the default first."""
    from storyteller.engines.registry import list_models

    found = list_models(include_remote=not offline)
    if as_json:
        typer.echo(json.dumps([m.model_dump() for m in found], ensure_ascii=False, indent=2))
        return
    if not found:
        typer.echo("No models found. Put a model folder under models/ or set OPENAI_API_KEY.")
        return
    width = max(len(m.id) for m in found)
    for m in found:
        desc = f"  {m.description[:90]}" if m.description else ""
        typer.echo(f"{m.id:<{width}}  {m.kind:<6}  {m.label}{desc}")

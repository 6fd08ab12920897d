"""`storyteller eval --model models/storyteller-tiny --data assets/corpus/en.jsonl`: measure a model."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError
from storyteller.paths import DEFAULT_MODEL_DIR


@app.command("eval")
def eval_model(
    model: str = typer.Option(str(DEFAULT_MODEL_DIR), help="A model folder or a downloaded model id."),
    data: Path = typer.Option(..., help="A corpus .jsonl or a .csv with dynasty,super_power,story_type,story."),
    n: int = typer.Option(20, min=1, help="How many stories to generate (a fixed random sample)."),
    max_new_tokens: int = typer.Option(900, min=16, max=4096, help="Longest story, in tokens."),
    seed: int = typer.Option(0, help="Sampling seed; the same seed gives the same stories."),
    threads: int = typer.Option(1, min=1, help="CPU threads (1 is fastest for tiny models)."),
    tellings: int = typer.Option(0, min=0, max=50, help="Also tell the first request this many times and report "
                                 "the share of identical sentences between tellings (variety)."),
) -> None:
    """Generate stories and print English non-words, Chinese fluency, variety, copying, perplexity, speed, and
    the figures the story format guarantees (adherence, hero consistency, clean end)."""
    from storyteller.model.evaluate import evaluate, load_model, load_rows, variety

    try:
        loaded = load_model(model, threads)
        result = evaluate(model, data, n=n, max_new_tokens=max_new_tokens, seed=seed, threads=threads, loaded=loaded)
        if tellings > 1:
            result["variety"] = variety(*loaded, [load_rows(data)[0].request()], tellings=tellings, seed=seed)
    except StorytellerError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result, ensure_ascii=False, indent=1))

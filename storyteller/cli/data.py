"""`storyteller data generate|check|prepare`: build, check and prepare fine-tuning datasets.

    storyteller data generate --model gpt-4o-mini --repeats 2 --concurrency 8 --out stories.csv
    storyteller data generate --source world --repeats 5 --out world.csv      # offline, no key
    storyteller data check stories.csv [--json]
    storyteller data prepare stories.csv --format chat --out prepared/ --val 0.1 --seed 42
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import typer

from storyteller.cli import app
from storyteller.errors import StorytellerError

data_app = typer.Typer(help="Generate, check and prepare story datasets for fine-tuning.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _fail(e: Exception) -> None:
    if isinstance(e, OSError):  # a path we cannot read or write: say which, no traceback
        e = f"cannot use {e.filename or 'that file'}: {e.strerror or e}."
    typer.echo(f"Error: {e}", err=True)
    raise typer.Exit(1)


@data_app.command()
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Output .csv (reference columns) or .jsonl; resumed if it exists."),
    model: str = typer.Option("gpt-4o-mini", help="Any engine id: an OpenAI model, a server's model, or a local one."),
    source: str = typer.Option("model", help="model, or world: compose stories offline from the story world "
                               "(no model, no key)."),
    dynasty: list[str] = typer.Option(None, "--dynasty", "-d", help="Repeat for several; default: all presets."),
    power: list[str] = typer.Option(None, "--power", "-p", help="Repeat for several; default: all presets."),
    style: list[str] = typer.Option(None, "--style", "-s", help="Repeat for several; default: all presets."),
    repeats: int = typer.Option(1, min=1, max=100, help="Stories per combination."),
    lang: str = typer.Option("zh", help="zh or en."),
    concurrency: int = typer.Option(4, min=1, max=64, help="Requests at the same time."),
    template: str = typer.Option(None, help="Prompt with {dynasty} {power} {style} {hero} {fact} {length}; "
                                 "@file.txt reads it from a file."),
    attempts: int = typer.Option(3, min=1, max=10, help="Tries per story before it is reported as failed."),
) -> None:
    """Generate stories for every dynasty x power x style x repeat; safe to stop and re-run."""
    from tqdm import tqdm

    from storyteller.catalog import get_catalog
    from storyteller.data.generate import GenerateSpec
    from storyteller.data.generate import generate as run

    cat = get_catalog()
    if source not in ("model", "world"):
        _fail(f"--source must be model or world, not {source!r}.")
    if source == "world":
        model = "world"
    if lang not in ("zh", "en"):
        _fail(f"--lang must be zh or en, not {lang!r}.")
    lang_ = lang
    try:
        if template and template.startswith("@"):
            template = Path(template[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        _fail(e if isinstance(e, OSError) else f"{template[1:]} is not UTF-8 text.")
    try:
        spec = GenerateSpec(model_id=model, dynasties=dynasty or cat.choices("dynasty", lang_),
                            powers=power or cat.choices("power", lang_), styles=style or cat.choices("style", lang_),
                            repeats=repeats, lang=lang_, concurrency=concurrency, template=template,
                            max_attempts=attempts)
    except (StorytellerError, ValueError) as e:
        _fail(e)
    bars: list = []  # made on the first progress report, so an early error prints no empty bar

    def progress(p) -> None:
        if not bars:
            bars.append(tqdm(total=p.total, unit="story", dynamic_ncols=True))
        bar = bars[0]
        bar.total = p.total
        bar.n = p.done + p.failed
        cost = f"${p.cost_usd:.4f}" if p.cost_usd is not None else "n/a"
        bar.set_postfix_str(f"failed={p.failed} tokens={p.prompt_tokens}+{p.completion_tokens} cost={cost}")

    cancel = threading.Event()
    try:
        res = run(spec, out, cancel=cancel, on_progress=progress)
    except KeyboardInterrupt:
        _close(bars)
        typer.echo(f"\nStopped. Stories written so far are kept in {out}; run the same command to resume.")
        raise typer.Exit(130) from None
    except (StorytellerError, OSError) as e:
        _close(bars)
        _fail(e)
    _close(bars)
    if res.repaired_tail:
        typer.echo(f"Repaired a half-written last record; its text is kept in {res.repaired_tail}.")
    cost = f"${res.cost_usd:.4f}" if res.cost_usd is not None else "n/a (local or unknown price)"
    typer.echo(f"{res.written} written, {res.skipped} already there, {len(res.failed)} failed "
               f"-> {res.path} ({res.elapsed_s:.1f}s, tokens {res.prompt_tokens}+{res.completion_tokens}, {cost})")
    for f in res.failed:
        typer.echo(f"  failed: {f.dynasty},{f.power},{f.style} #{f.repeat}: {f.error}", err=True)
    if res.failed:
        typer.echo("Run the same command again to retry the failed stories.", err=True)
        raise typer.Exit(2)


def _close(bars: list) -> None:
    for bar in bars:
        bar.close()


@data_app.command()
def check(
    file: Path = typer.Argument(..., help="A CSV or JSONL dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check a dataset: format, tokens, duplicates, encoding, default epochs and training cost."""
    from storyteller.data.check import check as run

    try:
        report = run(file)
    except (StorytellerError, OSError) as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json") | {"ok": report.ok}, ensure_ascii=False, indent=2))
    else:
        typer.echo(report.text())
    raise typer.Exit(0 if report.ok else 1)


@data_app.command()
def prepare(
    file: Path = typer.Argument(..., help="A CSV or JSONL dataset (never modified)."),
    format: str = typer.Option("chat", "--format", "-f", help="chat, legacy, local or csv."),
    out: Path = typer.Option(Path("prepared"), "--out", "-o", help="Folder for the new files."),
    val: float = typer.Option(0.1, min=0.0, max=0.9, help="Share of examples kept for validation."),
    seed: int = typer.Option(42, help="Seed of the train/validation split."),
) -> None:
    """Convert a dataset for fine-tuning, with a reproducible train/validation split."""
    from storyteller.data.prepare import prepare as run

    try:
        res = run(file, format, out, val=val, seed=seed)
    except (StorytellerError, OSError) as e:
        _fail(e)
    typer.echo(f"train: {res.train_count} -> {res.train_path}")
    if res.val_path:
        typer.echo(f"val:   {res.val_count} -> {res.val_path}")
    if res.dropped_empty or res.dropped_duplicates:
        typer.echo(f"Left out {res.dropped_empty} empty and {res.dropped_duplicates} duplicate stories.")

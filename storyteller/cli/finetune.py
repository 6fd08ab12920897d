"""`storyteller finetune start|list|status|follow|cancel|resume`: fine-tune locally or on OpenAI.

    storyteller finetune start --data new.jsonl --base storyteller-tiny --name tiny-song --follow
    storyteller finetune start --provider openai --base gpt-4o-mini-2024-07-18 --data stories.csv --yes
    storyteller finetune start --data prefs.jsonl --method dpo --name tiny-liked   # what the family liked
    storyteller finetune follow <job-id>
    storyteller finetune start ... --no-launch   # then: torchrun --nproc_per_node 4 -m
                                                 #   storyteller.finetune.worker --job-dir runs/<job-id>
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from pydantic import ValidationError

from storyteller.cli import app
from storyteller.errors import InputError, StorytellerError

ft_app = typer.Typer(help="Fine-tune a storyteller on your stories (locally or on OpenAI).", no_args_is_help=True)
app.add_typer(ft_app, name="finetune")


def _fail(e: Exception) -> None:
    typer.echo(f"Error: {e}", err=True)
    raise typer.Exit(1)


def _job_line(j) -> str:
    prog = f"{j.step}/{j.total_steps}" if j.total_steps else str(j.step or "")
    return f"{j.id:30} {j.provider:6} {j.status:16} {prog:>9}  {j.name}  {j.result_model or ''}"


def _provider_of(job_id: str):
    from storyteller.finetune import JobStore, provider_for

    store = JobStore()
    return provider_for(store.get_job(job_id), store)


@ft_app.command()
def start(
    data: Path = typer.Option(..., "--data", "-d", help="Stories CSV/JSONL (or prepared chat/legacy JSONL for OpenAI)."),
    base: str = typer.Option("storyteller-tiny", "--base", "-b",
                             help="Base model: a folder under models/, a path, a Hub id, an OpenAI model or ft: id."),
    provider: str = typer.Option("local", help="local or openai (OpenAI, or any OpenAI-compatible server: --base-url)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI provider: an OpenAI-compatible fine-tuning server "
                                 "(e.g. another Storyteller's `storyteller serve`), instead of OpenAI."),
    val: Path = typer.Option(None, help="Validation file (local: default holds out 10% when 20+ stories)."),
    name: str = typer.Option(None, help="Local: folder under models/. OpenAI: model suffix."),
    epochs: int = typer.Option(None, min=1, max=50),
    batch_size: int = typer.Option(None, min=1, max=256),
    lr: float = typer.Option(None, help="Local learning rate."),
    lr_multiplier: float = typer.Option(None, help="OpenAI learning_rate_multiplier."),
    method: str = typer.Option("auto", help="Local: auto, full or lora. Also dpo or kto (= --objective dpo|kto, "
                               "weights auto)."),
    objective: str = typer.Option(None, help="sft (learn stories, the default), dpo (preference pairs: trl or "
                                  "OpenAI DPO JSONL from `storyteller stories export`) or kto (👍/👎 ratings)."),
    beta: float = typer.Option(None, help="DPO/KTO: how far the model may move from its starting weights (0.1)."),
    sft_weight: float = typer.Option(None, help="Local DPO: also learn the chosen stories, an SFT loss of this "
                                     "weight beside DPO's (keeps the grammar; default 1.0; 0: DPO alone)."),
    story_check: bool = typer.Option(True, help="Local DPO/KTO: after each epoch the starting model reads the new "
                                     "stories, and an epoch that breaks sentences is dropped (--no-story-check: off)."),
    mix_share: float = typer.Option(None, help="Local: share of earlier stories mixed in (default from settings)."),
    max_steps: int = typer.Option(None, min=1, help="Local: stop after this many steps."),
    seed: int = typer.Option(42),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe",
                                      help="Train even on stories the child-safety check flags (you have read them)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Start without asking (the plan is still printed)."),
    launch: bool = typer.Option(True, help="--no-launch: create the job only (run the worker yourself)."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Stay and print progress until it ends."),
) -> None:
    """Show the plan (settings, cost or time), then start the job."""
    from storyteller.finetune import JobSpec, get_provider

    if base_url:
        _use_base_url(base_url)

    try:
        spec = JobSpec(provider=provider, base_model=base, train_file=str(data), val_file=str(val) if val else None,
                       name=name, seed=seed, n_epochs=epochs, batch_size=batch_size, learning_rate=lr,
                       learning_rate_multiplier=lr_multiplier, mix_share=mix_share, max_steps=max_steps,
                       allow_unsafe=allow_unsafe, beta=beta, sft_weight=sft_weight, story_check=story_check,
                       **_method(method, objective))
        p = get_provider(provider)
        plan = p.plan(spec)
    except ValidationError as e:
        _fail(StorytellerError("Some settings are not valid: " + "; ".join(
            f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())))
    except StorytellerError as e:
        _fail(e)
    if plan.report:
        typer.echo(plan.report)
    typer.echo(json.dumps(plan.settings, ensure_ascii=False, indent=1, default=str))
    typer.echo(f"Estimate: {plan.estimate}")
    if not yes and not typer.confirm("Start this job?"):
        raise typer.Exit(0)
    try:
        job = p.start(spec, launch=False) if provider == "local" and not launch else p.start(spec)
    except StorytellerError as e:
        _fail(e)
    typer.echo(f"Started {job.id} ({job.status})")
    if provider == "local" and not launch:
        typer.echo(f"Run it: python -m storyteller.finetune.worker --job-dir {job.job_dir}\n"
                   f"   or: torchrun --nproc_per_node <gpus> -m storyteller.finetune.worker --job-dir {job.job_dir}")
    if follow_:
        _follow(job.id, None)


def _method(method: str, objective: str | None) -> dict:
    """--method dpo|kto|sft is the short form of --objective (the issue's spelling); else the weights."""
    if method in ("dpo", "kto", "sft"):
        if objective and objective != method:
            _fail(InputError(f"--method {method} and --objective {objective} disagree.", "Give one of them."))
        return {"objective": method}
    return {"method": method, **({"objective": objective} if objective else {})}


def _use_base_url(url: str) -> None:
    """This command's OpenAI provider talks to `url` (the job keeps it, so follow/cancel do too)."""
    import os

    from storyteller.config import get_settings

    if not url.startswith(("http://", "https://")):
        _fail(InputError(f"--base-url {url[:80]!r} is not a web address.", "Use e.g. http://gpu-box:8000/v1."))
    os.environ["STORYTELLER_OPENAI__BASE_URL"] = url
    get_settings.cache_clear()


@ft_app.command("list")
def list_(remote: bool = typer.Option(False, help="Also fetch the OpenAI account's recent jobs.")) -> None:
    """Jobs from the database (running ones refreshed), newest first."""
    from storyteller.finetune import JobStore, get_provider

    store = JobStore()
    try:
        jobs = {j.id: j for j in get_provider("openai", store).list()} if remote else {}
        for j in store.list_jobs():
            jobs.setdefault(j.id, j if j.done and j.provider == "openai" else get_provider(j.provider, store).refresh(j))
    except StorytellerError as e:
        _fail(e)
    if not jobs:
        typer.echo("No fine-tuning jobs yet. Start one with `storyteller finetune start --data stories.csv`.")
    for j in sorted(jobs.values(), key=lambda j: -j.created):
        typer.echo(_job_line(j))


@ft_app.command()
def status(job_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One job: status, progress, result, last metrics."""
    try:
        p = _provider_of(job_id)
        job = p.status(job_id)
        rows = p.store.metrics(job.id)
    except StorytellerError as e:
        _fail(e)
    if as_json:
        typer.echo(json.dumps(job.model_dump() | {"metrics": [r.model_dump() for r in rows[-5:]]},
                              ensure_ascii=False, default=str))
        return
    typer.echo(_job_line(job))
    if job.error:
        typer.echo(f"Error: {job.error}")
    for r in rows[-5:]:
        typer.echo("  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in r.model_dump().items() if v is not None))


@ft_app.command()
def follow(job_id: str, poll: float = typer.Option(None, help="Seconds between polls (default from settings).")) -> None:
    """Print events and metrics until the job ends (Ctrl+C leaves it running)."""
    _follow(job_id, poll)


def _follow(job_id: str, poll: float | None) -> None:
    """The body of `follow`, callable with plain values (a typer command's defaults are OptionInfo)."""
    from storyteller.config import get_settings
    from storyteller.finetune.base import Job

    try:
        p = _provider_of(job_id)
        for item in p.follow(job_id, poll_s=poll if poll is not None else get_settings().training.poll_s):
            if isinstance(item, Job):
                typer.echo(f"{item.status}" + (f": {item.result_model}" if item.result_model else "")
                           + (f" ({item.error})" if item.error else ""))
                raise typer.Exit(0 if item.status == "succeeded" else 1)
            stamp = time.strftime("%H:%M:%S", time.localtime(item.created))
            typer.echo(f"{stamp} {item.level:7} {item.message}")
    except StorytellerError as e:
        _fail(e)
    except KeyboardInterrupt:
        typer.echo("Stopped following; the job goes on.")


@ft_app.command()
def cancel(job_id: str) -> None:
    """Stop a job (a local one saves a checkpoint first)."""
    try:
        job = _provider_of(job_id).cancel(job_id)
    except StorytellerError as e:
        _fail(e)
    typer.echo(f"{job.id}: {job.status} (cancel requested)")


@ft_app.command()
def resume(job_id: str) -> None:
    """Go on from the last checkpoint of a failed or cancelled job."""
    try:
        job = _provider_of(job_id).resume(job_id)
    except StorytellerError as e:
        _fail(e)
    typer.echo(f"{job.id}: {job.status}")

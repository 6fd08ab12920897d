"""/v1/fine_tuning/jobs: create, list, retrieve, cancel, events, checkpoints; over the one job store.

Local jobs are the same rows the Training tab and `storyteller finetune` show. With API keys set,
each key sees the jobs it created (and their files); with none, every local job is listed. Lists are newest first and `after` pages backwards until has_more is
false. A succeeded job gets a result file (OpenAI's CSV columns) on first sight, kept in /v1/files.
Jobs trained at OpenAI are not listed here: OpenAI answers for them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from storyteller.api import training
from storyteller.api.auth import caller
from storyteller.api.body import read_json
from storyteller.api.errors import APIError, not_found
from storyteller.api.filestore import FileStore, StoredFile
from storyteller.api.models import ORG, ft_name
from storyteller.engines.ids import fine_tune_name
from storyteller.errors import JobError
from storyteller.finetune.base import METRIC_COLUMNS, Job, JobEvent, JobStore, MetricRow
from storyteller.finetune.local_ft import LocalProvider
from storyteller.finetune.worker import BATCH, EPOCHS

router = APIRouter()
LEVELS = {"info": "info", "warning": "warn", "warn": "warn", "error": "error"}


def _job(provider: LocalProvider, job_id: str) -> Job:
    try:
        job = provider.store.get_job(job_id)
    except JobError:
        raise not_found("fine-tuning job", job_id, "fine_tuning_job_id") from None
    if job.provider != "local":
        raise not_found("fine-tuning job", job_id, "fine_tuning_job_id")
    return provider.refresh(job)


def provider_for(request: Request) -> LocalProvider:
    """The local trainer as this caller sees it: its own jobs only when it has an owner (api/auth.py)."""
    return LocalProvider(JobStore(owner=caller(request)))


def result_file(provider: LocalProvider, job: Job) -> StoredFile:
    """step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy: one row per logged step."""
    files, file_id = FileStore(owner=provider.store.owner), f"file-results-{job.id}"
    if (found := files.find(file_id)) is not None:
        return found
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(METRIC_COLUMNS)
    for r in provider.store.metrics(job.id):
        w.writerow(["" if (v := getattr(r, c)) is None else v for c in METRIC_COLUMNS])
    return files.add_bytes(file_id, buf.getvalue().encode(), "step_metrics.csv", "fine-tune-results", "results")


def job_object(provider: LocalProvider, job: Job) -> dict:
    api, spec = job.extra.get("api") or {}, job.spec
    train, val = training.job_files(job)
    multiplier = api.get("learning_rate_multiplier")
    hyper = {"n_epochs": spec.n_epochs or EPOCHS, "batch_size": spec.batch_size or BATCH,
             "learning_rate_multiplier": multiplier if multiplier is not None else "auto"}
    eta = job.extra.get("eta_s")
    return {
        "object": "fine_tuning.job", "id": job.id, "created_at": int(job.created), "model": api.get("model")
        or spec.base_model, "organization_id": ORG, "status": job.status, "training_file": train,
        "validation_file": val, "hyperparameters": hyper, "seed": spec.seed,
        "method": {"type": "dpo", "dpo": {"hyperparameters": hyper | {"beta": spec.beta or "auto"}}}
        if spec.objective == "dpo" else {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        "fine_tuned_model": ft_name(job) if job.status == "succeeded" else None,
        "finished_at": int(job.updated) if job.done else None,
        "estimated_finish": int(job.updated + eta) if job.status == "running" and eta else None,
        "error": {"code": "training_failed", "message": job.error or "Training failed.", "param": None}
        if job.status == "failed" else None,
        "result_files": [result_file(provider, job).id] if job.status == "succeeded" else [],
        "trained_tokens": None, "metadata": api.get("metadata"), "integrations": [],
    }


def event_object(e: JobEvent) -> dict:
    return {"object": "fine_tuning.job.event", "id": f"ftevent-{e.id}", "created_at": int(e.created),
            "level": LEVELS.get(e.level, "info"), "message": e.message, "type": "message", "data": e.data or {}}


def checkpoint_metrics(row: MetricRow | None, step: int) -> dict:
    m = {"step": float(step)}
    if row is not None:
        for ours, theirs in (("train_loss", "train_loss"), ("train_accuracy", "train_mean_token_accuracy"),
                             ("valid_loss", "valid_loss"), ("valid_mean_token_accuracy", "valid_mean_token_accuracy")):
            if (v := getattr(row, ours)) is not None:
                m[theirs] = v
    return m


def _after_number(after: str | None, prefix: str) -> int | None:
    if not after:
        return None
    tail = after.rsplit("-", 1)[-1] if after.startswith(prefix) else ""
    if not tail.isdigit():
        raise APIError(400, f"after: expected an id from this list (like '{prefix}12').", param="after")
    return int(tail)


@router.post("/fine_tuning/jobs")
async def create_job(request: Request) -> dict:
    req = await read_json(request, training.CreateJob)
    provider = provider_for(request)
    return await run_in_threadpool(lambda: job_object(provider, training.create(req, provider)))


@router.get("/fine_tuning/jobs")
def list_jobs(request: Request, after: str | None = None, limit: int = Query(20, ge=1, le=100)) -> dict:
    provider = provider_for(request)
    jobs = provider.store.list_jobs("local", limit=1_000_000)
    if after:
        ids = [j.id for j in jobs]
        jobs = jobs[ids.index(after) + 1:] if after in ids else []
    page = [provider.refresh(j) for j in jobs[:limit]]
    return {"object": "list", "data": [job_object(provider, j) for j in page], "has_more": len(jobs) > limit}


@router.get("/fine_tuning/jobs/{job_id}")
def retrieve_job(request: Request, job_id: str) -> dict:
    provider = provider_for(request)
    return job_object(provider, _job(provider, job_id))


@router.post("/fine_tuning/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: str) -> dict:
    provider = provider_for(request)
    job = _job(provider, job_id)
    if job.done:
        raise APIError(400, f"Job {job.id} has already {job.status}; only queued or running jobs can be cancelled.",
                       param="fine_tuning_job_id", code="invalid_job_status")
    return job_object(provider, provider.cancel(job.id))


@router.get("/fine_tuning/jobs/{job_id}/events")
def list_events(request: Request, job_id: str, after: str | None = None,
                limit: int = Query(20, ge=1, le=1000)) -> dict:
    provider = provider_for(request)
    job = _job(provider, job_id)
    before = _after_number(after, "ftevent-")
    events = [e for e in reversed(provider.store.events(job.id, 0, limit=1_000_000))
              if before is None or e.id < before]
    return {"object": "list", "data": [event_object(e) for e in events[:limit]], "has_more": len(events) > limit}


@router.get("/fine_tuning/jobs/{job_id}/checkpoints")
def list_checkpoints(request: Request, job_id: str, after: str | None = None,
                     limit: int = Query(10, ge=1, le=100)) -> dict:
    provider = provider_for(request)
    job = _job(provider, job_id)
    before = _after_number(after, f"ftckpt-{job.id}-")
    rows = {r.step: r for r in provider.store.metrics(job.id)}
    name = fine_tune_name(ft_name(job))
    ckpts = [c for c in reversed(provider.checkpoints(job.id)) if before is None or c.step < before]
    data = []
    for c in ckpts[:limit]:
        try:
            created = int(Path(c.model).stat().st_mtime)
        except OSError:
            continue  # pruned while we looked
        data.append({"object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{job.id}-{c.step}", "created_at": created,
                     "fine_tuned_model_checkpoint": str(replace(name, checkpoint=c.step)),
                     "step_number": c.step, "metrics": checkpoint_metrics(rows.get(c.step), c.step),
                     "fine_tuning_job_id": job.id})
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(ckpts) > limit}

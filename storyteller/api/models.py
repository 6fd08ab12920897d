"""/v1/models: the models this server runs, and the one rule that turns a requested id into one.

Served: the local model folders and configured Hub ids the studio's picker offers (the registry's
list, by the web policy of engines/ids.py: bare names, never paths), and every local fine-tune that
succeeded, named as OpenAI names fine-tunes: ft:<base>:storyteller:<suffix>:<job id>. Models
behind OpenAI are not served here (this server is what stands in for them).

With keys (api/auth.py), a fine-tune is its owner's: another key neither sees it listed (by either
name) nor can use or continue it, as OpenAI keeps one organisation's fine-tunes from another. Models
the server's own user made (no owner: the CLI, the local studio) are everyone's.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request

from storyteller.api.auth import caller
from storyteller.api.errors import model_not_found
from storyteller.config import get_settings
from storyteller.engines.ids import FineTuneName, fine_tune_base, fine_tune_name, route
from storyteller.engines.registry import list_models
from storyteller.errors import JobError
from storyteller.finetune.base import Job, JobStore

ORG = "storyteller"
router = APIRouter()


def ft_name(job: Job) -> str:
    """The OpenAI-style name of a local job's model: its base, our org, its suffix, its id."""
    api = job.extra.get("api") or {}
    asked = api.get("model") or job.spec.base_model
    base = fine_tune_base(asked) or Path(asked).name
    suffix = api["suffix"] if "suffix" in api else job.name
    return str(FineTuneName(base, ORG, suffix or "", job.id))


def served_job(job: Job) -> bool:
    return (job.provider == "local" and job.status == "succeeded" and bool(job.result_model)
            and _local(job.result_model) is not None)


def _local(model_id: str) -> str | None:
    where = route(model_id, policy="web")
    return model_id if where is not None and where.kind in ("local", "hub") else None


def model_object(model_id: str, created: int) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": ORG}


def _created(model_id: str) -> int:
    config = Path(get_settings().local.models_dir) / model_id / "config.json"
    try:
        return int(config.stat().st_mtime)
    except OSError:
        return 0  # a Hub id not downloaded yet


def _visible(job: Job, owner: str | None) -> bool:
    return owner is None or job.owner in (None, owner)


def _others(owner: str | None) -> set[str]:
    """Model folders that another owner's fine-tunes made (hidden from `owner`)."""
    if owner is None:
        return set()
    return {j.result_model for j in JobStore().list_jobs(limit=1_000_000) if j.result_model and not _visible(j, owner)}


def served_models(owner: str | None = None) -> list[dict]:
    """What `owner` may use (None: no keys, one user: everything)."""
    hidden = _others(owner)
    out = [model_object(m.id, _created(m.id)) for m in list_models(include_remote=False)
           if m.kind in ("local", "hub") and _local(m.id) and m.id not in hidden]
    jobs = JobStore().list_jobs("local", limit=1_000_000)
    out += [model_object(ft_name(j), int(j.updated)) for j in jobs if served_job(j) and _visible(j, owner)]
    return out


def resolve(model_id: str, owner: str | None = None) -> str:
    """The registry id (a models/ folder name or a Hub id) that serves `model_id` to `owner`; 404 otherwise."""
    model_id = (model_id or "").strip()
    ft = fine_tune_name(model_id)
    if ft is not None:
        if ft.org != ORG or ft.checkpoint is not None:
            raise model_not_found(model_id)
        try:
            job = JobStore().get_job(ft.job)
        except JobError:
            raise model_not_found(model_id) from None
        if not served_job(job) or ft_name(job) != model_id or not _visible(job, owner):
            raise model_not_found(model_id)
        return job.result_model
    if _local(model_id) is None or model_id in _others(owner):
        raise model_not_found(model_id)
    return model_id


@router.get("/models")
def list_served(request: Request) -> dict:
    return {"object": "list", "data": served_models(caller(request))}


@router.get("/models/{model_id:path}")
def retrieve_model(model_id: str, request: Request) -> dict:
    owner = caller(request)
    resolve(model_id, owner)
    found = next((m for m in served_models(owner) if m["id"] == model_id), None)
    if found is None:
        raise model_not_found(model_id)
    return found

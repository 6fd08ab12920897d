"""Fine-tuning: one `Provider` interface (base.py), local worker processes (local_ft.py, worker.py)
and OpenAI jobs (openai_ft.py); jobs, events and metrics persist in SQLite."""

from __future__ import annotations

from storyteller.engines.ids import fine_tune_base
from storyteller.errors import InputError
from storyteller.finetune.base import Job, JobSpec, JobStore, MetricRow, Plan, Provider

PROVIDERS = ("local", "openai")


def get_provider(name: str, store: JobStore | None = None) -> Provider:
    """The provider called `name` ("local" or "openai")."""
    if name == "local":
        from storyteller.finetune.local_ft import LocalProvider

        return LocalProvider(store)
    if name == "openai":
        from storyteller.finetune.openai_ft import OpenAIProvider

        return OpenAIProvider(store)
    raise InputError(f"Unknown training provider {name!r}.", f"Choose one of: {', '.join(PROVIDERS)}.")


def base_models(provider: str, store: JobStore | None = None) -> list[str]:
    """Models a new job can start from: local folders (previous fine-tunes included) and Hub ids,
    or OpenAI's fine-tunable snapshots plus the account's ft: models (continued training)."""
    from storyteller.engines.registry import list_models

    if provider == "local":
        return [m.id for m in list_models(include_remote=False) if m.kind in ("local", "hub")]
    from storyteller.data.pricing import FINE_TUNABLE

    names = list(FINE_TUNABLE)
    done = [j.result_model for j in (store or JobStore()).list_jobs("openai") if j.result_model]
    remote = [m.id for m in list_models(include_remote=True) if fine_tune_base(m.id)]
    return names + [m for m in dict.fromkeys(done + remote) if m not in names]


def provider_for(job: Job, store: JobStore | None = None) -> Provider:
    return get_provider(job.provider, store)


__all__ = ["Job", "JobSpec", "JobStore", "MetricRow", "Plan", "Provider", "base_models", "get_provider", "provider_for"]

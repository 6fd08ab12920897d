"""Fine-tuning: one `Provider` interface (base.py), local worker processes (local_ft.py, worker.py)
and OpenAI jobs (openai_ft.py); jobs, events and metrics persist in SQLite."""

from __future__ import annotations

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


def provider_for(job: Job, store: JobStore | None = None) -> Provider:
    return get_provider(job.provider, store)


__all__ = ["Job", "JobSpec", "JobStore", "MetricRow", "Plan", "Provider", "get_provider", "provider_for"]

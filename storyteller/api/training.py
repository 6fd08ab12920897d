"""Creating a fine-tuning job from an OpenAI request: the same local job the Training tab and
`storyteller finetune start` make (finetune/local_ft.py), with the request's own fields (file ids,
suffix, metadata, the model asked for) kept in the job's `extra["api"]`.

The local trainer learns stories, so an uploaded file becomes stories first: legacy examples whose
prompt is "dynasty,power,style ->", and chat examples whose user message is one `data prepare`
wrote (or such a legacy prompt). Other examples are refused with the line that is not a story.
Method "dpo" trains on an uploaded DPO file (OpenAI's preference format) with trl's DPOTrainer, the
starting weights as reference (finetune/pref_train.py); "reinforcement" is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storyteller.api.asking import story_request
from storyteller.api.errors import APIError, from_core
from storyteller.api.filestore import FileStore, StoredFile
from storyteller.api.models import resolve
from storyteller.data.io import read_dataset
from storyteller.errors import DataError, InputError, StorytellerError
from storyteller.finetune.base import Job, JobSpec, NameTaken
from storyteller.finetune.local_ft import LocalProvider
from storyteller.prompts import LEGACY_STOP

Auto = Literal["auto"]


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_epochs: int | Auto | None = Field(None, description="1-50")
    batch_size: int | Auto | None = None
    learning_rate_multiplier: float | Auto | None = None


class Supervised(BaseModel):
    model_config = ConfigDict(extra="allow")
    hyperparameters: Hyperparameters | None = None


class DPOHyperparameters(Hyperparameters):
    beta: float | Auto | None = None


class DPO(BaseModel):
    model_config = ConfigDict(extra="allow")
    hyperparameters: DPOHyperparameters | None = None


class Method(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: Supervised | None = None
    dpo: DPO | None = None


class CreateJob(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(..., min_length=1)
    training_file: str = Field(..., min_length=1)
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[^:]*$")
    seed: int | None = Field(None, ge=0, le=2147483647)
    metadata: dict[str, str] | None = None
    integrations: list[Any] | None = None

    def hyper(self) -> Hyperparameters:
        if self.method and self.method.supervised and self.method.supervised.hyperparameters:
            return self.method.supervised.hyperparameters
        if self.method and self.method.dpo and self.method.dpo.hyperparameters:
            return self.method.dpo.hyperparameters
        return self.hyperparameters or Hyperparameters()


def _number(value, lo: float, hi: float, param: str):
    if value in (None, "auto"):
        return None
    if not lo <= value <= hi:
        raise APIError(400, f"{param} must be 'auto' or between {lo:g} and {hi:g}.", param=param)
    return value


def _story(rec: dict, kind: str, line: int, name: str) -> dict:
    if kind == "legacy":
        ask, story = rec["prompt"], rec["completion"]
    else:
        msgs = rec["messages"]
        story = next(m["content"] for m in reversed(msgs) if m.get("role") == "assistant")
        ask = next((m.get("content") or "" for m in reversed(msgs) if m.get("role") == "user"), "")
    try:
        req = story_request(ask)
    except StorytellerError as e:
        raise DataError(f"{name}, line {line}: {e}") from None
    if req is None:
        raise DataError(f"{name}, line {line}: the local trainer learns stories, and this example's prompt is not a "
                        f"story request ({str(ask)[:60]!r}).",
                        "Use prompts like '唐,隐形,轻松 ->' (`storyteller data prepare --format legacy` writes them).")
    story = story.strip()
    story = story[: -len(LEGACY_STOP.strip())].rstrip() if story.endswith(LEGACY_STOP.strip()) else story
    return {"dynasty": req.dynasty, "power": req.power, "style": req.style, "lang": req.lang, "hero": req.hero,
            "story": story}


def preference_file(store: FileStore, f: StoredFile, param: str) -> str:
    """A DPO job's file: the upload itself (checked line by line again when the job is planned)."""
    if f.purpose != "fine-tune":
        raise APIError(400, f"{param} {f.id} is not a fine-tuning file (purpose {f.purpose}).", param=param)
    if f.kind != "dpo":
        raise APIError(400, f"{param} {f.id} holds {f.kind} examples; method 'dpo' needs DPO examples "
                            "(input, preferred_output, non_preferred_output).", param=param,
                       code="invalid_file_format")
    return str(store.path_of(f))


def stories_file(store: FileStore, f: StoredFile, param: str) -> str:
    """A path the local trainer reads: the upload itself (stories), or the stories made from it."""
    if f.purpose != "fine-tune":
        raise APIError(400, f"{param} {f.id} is not a fine-tuning file (purpose {f.purpose}).", param=param)
    if f.kind == "dpo":
        raise APIError(400, f"{param} {f.id} holds DPO examples; supervised fine-tuning needs chat or "
                            "prompt/completion examples.", param=param, code="invalid_file_format")
    path = store.path_of(f)
    if f.kind == "stories":
        return str(path)
    out = store.derived(f, "stories")
    if not out.is_file():
        try:
            ds = read_dataset(path)
            rows = [_story(r, ds.kind, n, f.filename) for r, n in zip(ds.records, ds.lines)]
        except DataError as e:
            raise APIError(400, str(e), param=param, code="invalid_file_format") from None
        tmp = out.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(out)
    return str(out)


def _file(store: FileStore, file_id: str, param: str) -> StoredFile:
    f = store.find(file_id)
    if f is None:
        raise APIError(400, f"invalid {param}: no file {file_id[:80]!r} (upload it with POST /v1/files first).",
                       param=param, code="invalid_file")
    return f


def create(req: CreateJob, provider: LocalProvider | None = None) -> Job:
    """Validate the request, start the local job, and keep the request's fields with it."""
    if req.method is not None and req.method.type not in ("supervised", "dpo"):
        raise APIError(400, f"method '{req.method.type}' is not available: the local trainer does supervised "
                            "and dpo fine-tuning. Use method {'type': 'supervised'} or {'type': 'dpo'}.",
                       param="method.type", code="unsupported_method")
    dpo = req.method is not None and req.method.type == "dpo"
    if req.integrations:
        raise APIError(400, "integrations (Weights & Biases) are not available here.", param="integrations")
    if req.metadata and (len(req.metadata) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in req.metadata.items())):
        raise APIError(400, "metadata: at most 16 keys of up to 64 characters, values up to 512.", param="metadata")
    hp = req.hyper()
    epochs = _number(hp.n_epochs, 1, 50, "hyperparameters.n_epochs")
    batch = _number(hp.batch_size, 1, 256, "hyperparameters.batch_size")
    multiplier = _number(hp.learning_rate_multiplier, 1e-6, 10, "hyperparameters.learning_rate_multiplier")
    provider = provider or LocalProvider()
    base = resolve(req.model, provider.store.owner)  # another key's fine-tune cannot be continued
    files = FileStore(owner=provider.store.owner)
    reader = preference_file if dpo else stories_file
    train = reader(files, _file(files, req.training_file, "training_file"), "training_file")
    val = None
    if req.validation_file:
        val = reader(files, _file(files, req.validation_file, "validation_file"), "validation_file")
    fields = dict(provider="local", base_model=base, train_file=train, val_file=val, n_epochs=epochs, batch_size=batch,
                  seed=42 if req.seed is None else req.seed)
    if dpo:
        beta = getattr(hp, "beta", None)
        fields |= {"objective": "dpo", "beta": _number(beta, 1e-3, 2, "method.dpo.hyperparameters.beta")}
    try:
        plan = provider.plan(JobSpec(**fields)).settings
        fields["save_steps"] = max(1, plan["steps"] // plan["n_epochs"])  # a checkpoint per epoch, as OpenAI's
        if multiplier is not None and isinstance(plan["learning_rate"], float):
            fields["learning_rate"] = min(1.0, plan["learning_rate"] * multiplier)
        job = _start(provider, fields, req.suffix)
    except StorytellerError as e:
        raise from_core(e, param="training_file" if isinstance(e, DataError) else None) from None
    api = {"model": req.model, "training_file": req.training_file, "validation_file": req.validation_file,
           "suffix": req.suffix or "", "metadata": req.metadata, "learning_rate_multiplier": multiplier}
    with provider.store.transaction():
        job = provider.store.get_job(job.id)
        return provider.store.update_job(job.id, extra=job.extra | {"api": api})


def _start(provider: LocalProvider, fields: dict, suffix: str | None) -> Job:
    """The model folder is named after the suffix when that name is free, else the provider's default."""
    if suffix:
        try:
            return provider.start(JobSpec(**fields, name=suffix))
        except DataError:
            raise
        except (NameTaken, InputError):
            pass  # taken, or not a usable folder name: the default name below
    return provider.start(JobSpec(**fields))


def job_files(job: Job) -> tuple[str, str | None]:
    """(training_file, validation_file) as the API names them: the upload's id, or the file's name."""
    api = job.extra.get("api") or {}
    if "training_file" in api:
        return api["training_file"], api.get("validation_file")
    spec = job.spec
    return Path(spec.train_file).name, Path(spec.val_file).name if spec.val_file else None

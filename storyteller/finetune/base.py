"""One interface for fine-tuning, whoever trains: `Provider` (local worker process or OpenAI jobs).

A job is started from a `JobSpec` (every setting, validated), and lives in SQLite (`JobStore`):
its status, events and metric rows survive restarts, so the UI and CLI can reattach to a running
job after a reload. Metric rows have the columns of OpenAI's result file (step, train_loss,
train_accuracy, valid_loss, valid_mean_token_accuracy), so one loss plot serves both providers.
The jobs tables' schema (migrations 2, 3 and 5 of the project database) sits beside `JobStore`.
A JobStore with an `owner` is one family's view: it stamps the jobs it creates, lists and finds
only theirs (another family's job id reads as "no such job"); scheduling stays global.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from storyteller.errors import InputError, JobError
from storyteller.store import Store

Status = Literal["queued", "validating_files", "running", "succeeded", "failed", "cancelled"]
TERMINAL = ("succeeded", "failed", "cancelled")
METRIC_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")


class JobSpec(BaseModel):
    """Everything a fine-tune is started with; saved with the job and next to its checkpoints."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "openai"] = "local"
    base_model: str = Field(..., min_length=1, description="Model to start from (a previous fine-tune continues it).")
    train_file: str = Field(..., min_length=1, description="Stories (CSV/JSONL) or prepared chat/legacy JSONL.")
    val_file: str | None = None
    name: str | None = Field(None, description="Local: folder under models/. OpenAI: the model suffix.")
    seed: int = 42
    n_epochs: int | None = Field(None, ge=1, le=50, description="None: the provider's default.")
    batch_size: int | None = Field(None, ge=1, le=256)
    learning_rate_multiplier: float | None = Field(None, gt=0, le=10, description="OpenAI only.")
    method_form: bool = Field(True, description="OpenAI: send method={type: supervised} (else `hyperparameters`).")
    # Local only:
    learning_rate: float | None = Field(None, gt=0, le=1)
    method: Literal["auto", "full", "lora"] = Field("auto", description="auto: full for small models, else LoRA.")
    objective: Literal["sft", "dpo", "kto"] = Field(
        "sft", description="sft: learn stories; dpo: learn preference pairs; kto: learn 👍/👎 ratings "
        "(the starting weights are the reference). OpenAI: sft or dpo.")
    beta: float | None = Field(None, gt=0, le=10, description="DPO/KTO: how far from the reference (None: 0.1).")
    sft_weight: float | None = Field(None, ge=0, le=10, description="Local DPO: also learn the chosen stories, an "
                                     "SFT loss of this weight beside DPO's (RPO; None: 1.0; 0: DPO alone).")
    story_check: bool = Field(True, description="Local DPO/KTO of a storyteller model: after each epoch the "
                              "starting model reads the new stories, and an epoch that breaks sentences is dropped.")
    lora_r: int = Field(8, ge=1, le=256)
    mix_share: float | None = Field(None, ge=0, lt=1, description="Share of earlier stories mixed in (None: setting).")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps (overrides epochs).")
    save_steps: int = Field(50, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="None: evaluate when saving.")
    max_length: int | None = Field(None, ge=16)
    threads: int = Field(0, ge=0, le=256, description="torch threads in the worker; 0: torch's default.")
    allow_unsafe: bool = Field(False, description="Train even on stories the child-safety check flags "
                               "(the parent's explicit choice; off by default).")


class Job(BaseModel):
    id: str
    provider: str
    name: str
    status: Status
    spec: JobSpec
    created: float
    updated: float
    remote_id: str | None = None
    job_dir: str | None = None
    pid: int | None = None
    result_model: str | None = None
    step: int = 0
    total_steps: int | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    owner: str | None = None  # the family's key (web app, public mode); None: the CLI or the local app

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def progress(self) -> float | None:
        return min(1.0, self.step / self.total_steps) if self.total_steps else None


class JobEvent(BaseModel):
    id: int
    job_id: str
    created: float
    level: str = "info"
    message: str
    data: dict[str, Any] | None = None


class MetricRow(BaseModel):
    step: int
    train_loss: float | None = None
    train_accuracy: float | None = None
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


class Checkpoint(BaseModel):
    id: str
    step: int
    model: str  # a folder (local) or an ft:...:ckpt-step-N model id (OpenAI)
    metrics: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    """What Launch will do, shown before it: the exact settings, and its cost or time."""

    settings: dict[str, Any]
    estimate: str
    cost_usd: float | None = None
    seconds: float | None = None
    measured: bool = False  # `seconds` comes from the speed earlier jobs measured here (else a guess)
    work_per_step: float | None = None  # local: tokens x millions of parameters a step (speed's unit)
    report: str | None = None


def m002_jobs(db: sqlite3.Connection) -> None:
    """Fine-tuning jobs (local and OpenAI), their events and metric rows."""
    db.execute(
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            provider TEXT NOT NULL,        -- local | openai
            name TEXT NOT NULL,
            spec TEXT NOT NULL,            -- JobSpec as JSON: every setting the job was started with
            status TEXT NOT NULL,          -- queued | validating_files | running | succeeded | failed | cancelled
            remote_id TEXT,                -- OpenAI's ftjob-... id
            job_dir TEXT,                  -- local: checkpoints, trainer_log.jsonl
            pid INTEGER,                   -- local: the worker process
            result_model TEXT,             -- models/<name> or ft:... once succeeded
            step INTEGER NOT NULL DEFAULT 0,
            total_steps INTEGER,
            error TEXT,
            extra TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute(
        """CREATE TABLE job_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            created REAL NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL,
            remote_id TEXT,                -- OpenAI's ftevent-... id, so polling never duplicates
            data TEXT,
            UNIQUE (job_id, remote_id)
        )"""
    )
    db.execute(
        """CREATE TABLE job_metrics (
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            train_loss REAL,
            train_accuracy REAL,
            valid_loss REAL,
            valid_mean_token_accuracy REAL,
            PRIMARY KEY (job_id, step)
        )"""
    )
    db.execute("CREATE INDEX job_events_job ON job_events (job_id, id)")


ACTIVE_LOCAL = "provider = 'local' AND status NOT IN ('failed', 'cancelled')"


def m003_unique_local_names(db: sqlite3.Connection) -> None:
    """A local job's name is its models/ folder: the database refuses a second live job with it
    (a check in Python would race with another tab or process). Earlier duplicates get the
    end of their job id, so the index can be built."""
    db.execute(f"UPDATE jobs SET name = name || '-' || substr(id, -6) WHERE {ACTIVE_LOCAL} AND rowid NOT IN "
               f"(SELECT min(rowid) FROM jobs WHERE {ACTIVE_LOCAL} GROUP BY name)")
    db.execute(f"CREATE UNIQUE INDEX jobs_local_name ON jobs (name) WHERE {ACTIVE_LOCAL}")


def m005_job_owner(db: sqlite3.Connection) -> None:
    """Jobs belong to the browser that started them (a hash of its owner token; NULL: the CLI)."""
    db.execute("ALTER TABLE jobs ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX jobs_owner ON jobs (owner, created)")


class NameTaken(InputError):
    """Another live local job has this name (the unique index said so)."""

    hint = "Choose another name."


class JobStore(Store):
    """Jobs, events and metrics in the project database."""

    MIGRATIONS = {**Store.MIGRATIONS, 2: m002_jobs, 3: m003_unique_local_names, 5: m005_job_owner}

    def create_job(self, spec: JobSpec, name: str, status: Status = "queued", **fields: Any) -> Job:
        """Insert a job; NameTaken if a live local job already has `name` (nothing is inserted)."""
        now = time.time()
        job_id = fields.pop("id", None) or f"job-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self.transaction() as db:
            try:
                db.execute("INSERT INTO jobs (id, created, updated, provider, name, spec, status, owner) "
                           "VALUES (?,?,?,?,?,?,?,?)", (job_id, now, now, spec.provider, name, spec.model_dump_json(),
                                                        status, self.owner))
            except sqlite3.IntegrityError:
                raise NameTaken(f"A model or job called '{name}' already exists.") from None
            return self.update_job(job_id, **fields) if fields else self._read(job_id)

    def name_in_use(self, name: str) -> bool:
        """Does a live local job have this name? (A hint for plan; create_job is what decides.)"""
        with self.connect() as db:
            return db.execute(f"SELECT 1 FROM jobs WHERE name=? AND {ACTIVE_LOCAL}", (name,)).fetchone() is not None

    def claim_queued(self, provider: str, limit: int) -> tuple[Job, str] | None:
        """The oldest job waiting for a slot (extra.queue = "start" or "resume"), now marked running,
        if fewer than `limit` run; else None. One transaction, so two pollers never both claim."""
        with self.transaction() as db:
            running = db.execute("SELECT count(*) FROM jobs WHERE provider=? AND status='running'",
                                 (provider,)).fetchone()[0]
            row = None if running >= limit else db.execute(
                "SELECT * FROM jobs WHERE provider=? AND status='queued' AND json_extract(extra, '$.queue') "
                "IS NOT NULL ORDER BY created, rowid LIMIT 1", (provider,)).fetchone()
            if row is None:
                return None
            job = _job(row)
            mode = job.extra.pop("queue")
            return self.update_job(job.id, status="running", pid=None, error=None, extra=job.extra), mode

    def update_job(self, job_id: str, **fields: Any) -> Job:
        allowed = {"status", "remote_id", "job_dir", "pid", "result_model", "step", "total_steps", "error", "extra",
                   "spec", "name"}
        if bad := set(fields) - allowed:
            raise ValueError(f"unknown job fields {bad}")
        if "extra" in fields:
            fields["extra"] = json.dumps(fields["extra"], ensure_ascii=False)
        if "spec" in fields and isinstance(fields["spec"], JobSpec):
            fields["spec"] = fields["spec"].model_dump_json()
        sets = ", ".join(f"{k}=?" for k in fields)
        with self.connect() as db:
            try:
                db.execute(f"UPDATE jobs SET {sets}, updated=? WHERE id=?", (*fields.values(), time.time(), job_id))
            except sqlite3.IntegrityError:
                raise NameTaken(f"Job {job_id}'s name is now used by another job.",
                                "Start a new job from its last checkpoint instead.") from None
        return self._read(job_id)

    def get_job(self, job_id: str) -> Job:
        """The job with this id (ours or OpenAI's), if this store's owner may see it."""
        return self._read(job_id, self.owner)

    def _read(self, job_id: str, owner: str | None = None) -> Job:
        q, args = "SELECT * FROM jobs WHERE (id=? OR remote_id=?)", [job_id, job_id]
        if owner is not None:
            q, args = q + " AND owner=?", args + [owner]
        with self.connect() as db:
            row = db.execute(q, args).fetchone() if isinstance(job_id, str) else None
        if row is None:
            raise JobError(f"There is no fine-tuning job '{str(job_id)[:80]}'.",
                           "Run `storyteller finetune list` to see the jobs.")
        return _job(row)

    def list_jobs(self, provider: str | None = None, limit: int = 100) -> list[Job]:
        conds, args = [], []
        if provider:
            conds, args = ["provider=?"], [provider]
        if self.owner is not None:
            conds, args = conds + ["owner=?"], args + [self.owner]
        q = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(conds) if conds else "")
        with self.connect() as db:
            rows = db.execute(q + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [_job(r) for r in rows]

    def add_event(self, job_id: str, message: str, level: str = "info", data: dict | None = None,
                  remote_id: str | None = None, created: float | None = None) -> None:
        with self.connect() as db:
            db.execute("INSERT OR IGNORE INTO job_events (job_id, created, level, message, remote_id, data)"
                       " VALUES (?,?,?,?,?,?)", (job_id, created or time.time(), level, message, remote_id,
                                                 json.dumps(data, ensure_ascii=False) if data else None))

    def events(self, job_id: str, after: int = 0, limit: int = 1000) -> list[JobEvent]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM job_events WHERE job_id=? AND id>? ORDER BY id LIMIT ?",
                              (job_id, after, limit)).fetchall()
        return [JobEvent(id=r["id"], job_id=r["job_id"], created=r["created"], level=r["level"],
                         message=r["message"], data=json.loads(r["data"]) if r["data"] else None) for r in rows]

    def last_remote_event(self, job_id: str) -> str | None:
        with self.connect() as db:
            row = db.execute("SELECT remote_id FROM job_events WHERE job_id=? AND remote_id IS NOT NULL "
                             "ORDER BY created DESC, id DESC LIMIT 1", (job_id,)).fetchone()
        return row[0] if row else None

    def add_metrics(self, job_id: str, rows: list[MetricRow]) -> None:
        """Upsert by step: a later row for the same step (e.g. its validation loss) fills the gaps."""
        with self.connect() as db:
            for r in rows:
                db.execute(
                    "INSERT INTO job_metrics VALUES (?,?,?,?,?,?) ON CONFLICT (job_id, step) DO UPDATE SET "
                    "train_loss=coalesce(excluded.train_loss, train_loss), "
                    "train_accuracy=coalesce(excluded.train_accuracy, train_accuracy), "
                    "valid_loss=coalesce(excluded.valid_loss, valid_loss), "
                    "valid_mean_token_accuracy=coalesce(excluded.valid_mean_token_accuracy, valid_mean_token_accuracy)",
                    (job_id, r.step, r.train_loss, r.train_accuracy, r.valid_loss, r.valid_mean_token_accuracy))

    def metrics(self, job_id: str) -> list[MetricRow]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM job_metrics WHERE job_id=? ORDER BY step", (job_id,)).fetchall()
        return [MetricRow(**{k: r[k] for k in METRIC_COLUMNS}) for r in rows]


def _job(row) -> Job:
    d = dict(row)
    return Job(**d | {"spec": JobSpec.model_validate_json(d["spec"]), "extra": json.loads(d["extra"] or "{}")})


class Provider(ABC):
    """A place that trains. Subclasses implement start/refresh/checkpoints/cancel (and resume)."""

    name: ClassVar[str]

    def __init__(self, store: JobStore | None = None):
        self.store = store or JobStore()

    @abstractmethod
    def plan(self, spec: JobSpec) -> Plan:
        """Validate the spec and data; the exact settings and a cost or time estimate (nothing starts)."""

    @abstractmethod
    def start(self, spec: JobSpec) -> Job:
        """Launch a job; returns at once with the stored job (training goes on elsewhere)."""

    @abstractmethod
    def refresh(self, job: Job) -> Job:
        """Poll the trainer: bring status, events and metrics in the store up to date."""

    @abstractmethod
    def checkpoints(self, job_id: str) -> list[Checkpoint]: ...

    @abstractmethod
    def cancel(self, job_id: str) -> Job: ...

    def resume(self, job_id: str) -> Job:
        raise JobError(f"{self.name} jobs cannot be resumed.", "Start a new job from the last result instead.")

    def status(self, job_id: str) -> Job:
        """The job, brought up to date (a finished job only reads what is left of its log)."""
        return self.refresh(self.store.get_job(job_id))

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        return self.store.events(self.status(job_id).id, after)

    def metrics(self, job_id: str) -> list[MetricRow]:
        return self.store.metrics(self.status(job_id).id)

    def list(self) -> list[Job]:
        return [self.refresh(j) for j in self.store.list_jobs(self.name)]

    def follow(self, job_id: str, poll_s: float = 2.0, timeout_s: float | None = None) -> Iterator[JobEvent | Job]:
        """Yield new events as they come, then the finished job (the CLI's `follow`)."""
        after, t0 = 0, time.monotonic()
        while True:
            job = self.status(job_id)
            for ev in self.store.events(job.id, after):
                after = ev.id
                yield ev
            if job.done:
                yield job
                return
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                raise JobError(f"Job {job.id} is still {job.status} after {timeout_s:.0f} s.")
            time.sleep(poll_s)


def job_dir_for(runs_dir: Path, job_id: str) -> Path:
    return Path(runs_dir) / job_id

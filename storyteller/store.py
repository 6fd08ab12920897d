"""SQLite for everything that must survive a restart: stories, fine-tuning jobs, their events.

Schema changes are numbered migration functions, applied in order once each (PRAGMA
user_version records how far a database has got). Connections are short-lived and per call, so
the store is safe to use from the UI's worker threads and from training worker processes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from storyteller.config import get_settings

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_stories(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE stories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created REAL NOT NULL,
            model TEXT NOT NULL,
            request TEXT NOT NULL,
            text TEXT NOT NULL,
            status TEXT NOT NULL,          -- done | stopped | error
            ttft_s REAL,
            tokens INTEGER,
            tokens_per_s REAL,
            error TEXT
        )"""
    )


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else get_settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            self._migrate(db)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        try:
            yield db
            db.commit()
        finally:
            db.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            step(db)
            db.execute(f"PRAGMA user_version={number}")
            db.commit()

    # --- stories -------------------------------------------------------------------------
    def save_story(self, model: str, request: dict, text: str, status: str, *, ttft_s: float | None = None,
                   tokens: int | None = None, tokens_per_s: float | None = None, error: str | None = None) -> int:
        with self.connect() as db:
            cur = db.execute(
                "INSERT INTO stories (created, model, request, text, status, ttft_s, tokens, tokens_per_s, error)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (time.time(), model, json.dumps(request, ensure_ascii=False), text, status, ttft_s, tokens,
                 tokens_per_s, error),
            )
            return int(cur.lastrowid)

    def stories(self, limit: int = 50) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM stories ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) | {"request": json.loads(r["request"])} for r in rows]


@migration
def m002_jobs(db: sqlite3.Connection) -> None:
    """Fine-tuning jobs (local and OpenAI), their events and metric rows (see storyteller/finetune)."""
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

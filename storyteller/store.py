"""SQLite for everything that must survive a restart: stories here, fine-tuning jobs in
storyteller/finetune/base.py (`JobStore`, with the jobs tables' migrations beside it).

Schema changes are numbered migration functions, one sequence for the whole database (PRAGMA
user_version records how far it has got). A class runs its own and its parents' migrations, in
one BEGIN IMMEDIATE transaction, and stops at a number it does not know: that one belongs to a
subclass, which applies it and the rest when it opens the database. So a process never skips a
step or runs one twice, whichever class opens the file first (a later stories step, numbered
after the jobs steps, waits for them likewise: the stories' owner column, step 4, exists once a
JobStore has opened the file, as the web app does at start; so do step 6's age band and safety
events, which `save_story` writes once they exist). `owner` scopes a store to one family:
what it saves is stamped with it and what it reads is only theirs; None (the CLI, the local
single-user app) stamps nothing and sees everything. Connections are short-lived and per call, so
the store is safe to use from the UI's threads and from training worker processes;
`transaction()` makes a read-modify-write atomic across all of them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from storyteller.config import get_settings

Migration = Callable[[sqlite3.Connection], None]


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


def m004_story_owner(db: sqlite3.Connection) -> None:
    """Stories belong to the browser that asked for them (a hash of its owner token; NULL: the CLI)."""
    db.execute("ALTER TABLE stories ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX stories_owner ON stories (owner, id)")


def m006_story_band(db: sqlite3.Connection) -> None:
    """A story's age band, and what the safety guard blocked in it (JSON: category and action per
    blocked sentence, never its text)."""
    db.execute("ALTER TABLE stories ADD COLUMN age_band TEXT")
    db.execute("ALTER TABLE stories ADD COLUMN safety TEXT")


class Store:
    MIGRATIONS: ClassVar[dict[int, Migration]] = {1: m001_stories, 4: m004_story_owner, 6: m006_story_band}

    def __init__(self, path: Path | str | None = None, owner: str | None = None):
        self.path = Path(path) if path else get_settings().db_path
        self.owner = owner
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tx = threading.local()
        self._migrate()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call, or this thread's open transaction (which commits at its end)."""
        if (db := getattr(self._tx, "db", None)) is not None:
            yield db
            return
        db = self._open()
        try:
            yield db
            db.commit()
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: every store call this thread makes inside the block shares one write
        transaction, so other writers (processes included) wait until it commits. Nested: joins."""
        if (db := getattr(self._tx, "db", None)) is not None:
            yield db
            return
        db = self._open()
        try:
            db.execute("BEGIN IMMEDIATE")
            self._tx.db = db
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            db.commit()
        finally:
            self._tx.db = None
            db.close()

    def _migrate(self) -> None:
        with self.connect() as db:  # up to date, the usual case: no write lock taken
            if self.MIGRATIONS.get(db.execute("PRAGMA user_version").fetchone()[0] + 1) is None:
                return
        with self.transaction() as db:  # read again: another process may have just migrated
            version = db.execute("PRAGMA user_version").fetchone()[0]
            start = version
            while (step := self.MIGRATIONS.get(version + 1)) is not None:
                step(db)
                version += 1
            if version != start:
                db.execute(f"PRAGMA user_version={version}")

    # --- stories -------------------------------------------------------------------------
    def save_story(self, model: str, request: dict, text: str, status: str, *, ttft_s: float | None = None,
                   tokens: int | None = None, tokens_per_s: float | None = None, error: str | None = None,
                   safety: list[dict] | None = None, model_text: str | None = None) -> int:
        """Save a story. Its age band (from `request`) and `safety` events go in their columns once
        step 6 has run (before that the band is still in the request), `model_text` once the library's step 8 has."""
        cols = ["created", "model", "request", "text", "status", "ttft_s", "tokens", "tokens_per_s", "error"]
        values = [time.time(), model, json.dumps(request, ensure_ascii=False), text, status, ttft_s, tokens,
                  tokens_per_s, error]
        if self.owner is not None:
            cols, values = cols + ["owner"], values + [self.owner]
        with self.connect() as db:
            have = {r[1] for r in db.execute("PRAGMA table_info(stories)")}
            if "age_band" in have:
                cols += ["age_band", "safety"]
                values += [request.get("age_band"), json.dumps(safety or [], ensure_ascii=False)]
            if "model_text" in have and model_text:
                cols, values = cols + ["model_text"], values + [model_text]
            cur = db.execute(f"INSERT INTO stories ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)
            return int(cur.lastrowid)

    def stories(self, limit: int = 50) -> list[dict]:
        """The newest stories: this store's owner's, or everyone's when it has none."""
        where, args = ("WHERE owner=? ", [self.owner]) if self.owner is not None else ("", [])
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM stories {where}ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [dict(r) | {"request": (req := json.loads(r["request"])),
                           "age_band": r["age_band"] if "age_band" in r.keys() else req.get("age_band"),
                           "safety": json.loads(r["safety"]) if "safety" in r.keys() and r["safety"] else []}
                for r in rows]

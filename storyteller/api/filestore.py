"""Uploaded files: bytes in <data_dir>/files/, one row each in a small SQLite database
(<data_dir>/api.db, apart from the project database so its numbered migrations stay its own).

A file is written to a temporary name, fsynced and renamed before its row is inserted, so a
crash leaves either a whole file with its row or an orphan byte file, never a row without bytes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from storyteller.config import get_settings
from storyteller.data.workspace import safe_name
from storyteller.store import Store


def m001_files(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE files (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            filename TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            purpose TEXT NOT NULL,         -- fine-tune | fine-tune-results
            kind TEXT,                     -- chat | legacy | dpo | stories | results
            examples INTEGER,
            path TEXT NOT NULL             -- the file's name inside the files folder
        )"""
    )
    db.execute("CREATE INDEX files_created ON files (created_at, id)")


def m002_file_owner(db: sqlite3.Connection) -> None:
    """Files belong to the API key that uploaded them (see api/auth.py; NULL: no keys configured)."""
    db.execute("ALTER TABLE files ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX files_owner ON files (owner, created_at)")


class StoredFile(BaseModel):
    id: str
    created_at: int
    filename: str
    bytes: int
    purpose: str
    kind: str | None = None
    examples: int | None = None
    path: str
    owner: str | None = None


class FileStore(Store):
    """With an `owner`, one key's view: it stamps what it stores, and finds and lists only that."""

    MIGRATIONS = {1: m001_files, 2: m002_file_owner}

    def __init__(self, path: Path | str | None = None, folder: Path | None = None, owner: str | None = None):
        data_dir = get_settings().data_dir
        super().__init__(path or Path(data_dir) / "api.db")
        self.owner = owner
        self.folder = Path(folder or Path(data_dir) / "files")
        self.folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_id() -> str:
        return f"file-{uuid.uuid4().hex[:24]}"

    def staging(self, file_id: str, filename: str) -> Path:
        """Where an upload is written and checked before it is kept: under its own name (the readers'
        messages name it), in a hidden folder of its own."""
        name = safe_name(Path(filename).stem, "upload") + "." + safe_name(Path(filename).suffix[1:9], "jsonl")
        return self.folder / f".{file_id}" / name

    def save_stream(self, src: BinaryIO, file_id: str, filename: str, limit: int) -> tuple[Path, int]:
        """Copy an upload to its staging file; stops reading past `limit` bytes (returns the size seen)."""
        path, size = self.staging(file_id, filename), 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    break
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return path, size

    def keep(self, staged: Path, file_id: str, filename: str, purpose: str, kind: str | None,
             examples: int | None) -> StoredFile:
        """Move a checked upload into place, then record it."""
        final = self.folder / f"{file_id}.jsonl"
        os.replace(staged, final)
        self.discard(staged)
        return self._insert(file_id, filename, final, purpose, kind, examples)

    def add_bytes(self, file_id: str, data: bytes, filename: str, purpose: str, kind: str | None) -> StoredFile:
        """Write and record generated content (a result file); an id already recorded is returned as is."""
        if (found := self.find(file_id)) is not None:
            return found
        final = self.folder / f"{file_id}{Path(filename).suffix}"
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:6]}.tmp")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
        return self._insert(file_id, filename, final, purpose, kind, None)

    def _insert(self, file_id: str, filename: str, path: Path, purpose: str, kind: str | None,
                examples: int | None) -> StoredFile:
        with self.connect() as db:
            db.execute("INSERT OR IGNORE INTO files (id, created_at, filename, bytes, purpose, kind, examples, path, "
                       "owner) VALUES (?,?,?,?,?,?,?,?,?)", (file_id, int(time.time()), filename, path.stat().st_size,
                                                            purpose, kind, examples, path.name, self.owner))
        return self.find(file_id)

    def find(self, file_id: str) -> StoredFile | None:
        q, args = "SELECT * FROM files WHERE id=?", [str(file_id)]
        if self.owner is not None:
            q, args = q + " AND owner=?", args + [self.owner]
        with self.connect() as db:
            row = db.execute(q, args).fetchone()
        return StoredFile(**dict(row)) if row else None

    def list(self, purpose: str | None = None) -> list[StoredFile]:
        """Newest first."""
        conds, args = [], []
        if purpose:
            conds, args = ["purpose=?"], [purpose]
        if self.owner is not None:
            conds, args = conds + ["owner=?"], args + [self.owner]
        q = "SELECT * FROM files" + (" WHERE " + " AND ".join(conds) if conds else "")
        with self.connect() as db:
            rows = db.execute(q + " ORDER BY created_at DESC, rowid DESC", args).fetchall()
        return [StoredFile(**dict(r)) for r in rows]

    def path_of(self, f: StoredFile) -> Path:
        return self.folder / f.path

    def delete(self, file_id: str) -> bool:
        """Forget the row, then the bytes (jobs keep their own copy of what they train on)."""
        f = self.find(file_id)
        if f is None:
            return False
        with self.connect() as db:
            db.execute("DELETE FROM files WHERE id=?", (file_id,))
        self.path_of(f).unlink(missing_ok=True)
        shutil.rmtree(self.folder / f"{file_id}.derived", ignore_errors=True)
        return True

    def derived(self, f: StoredFile, what: str) -> Path:
        """A file made from an upload (e.g. its stories for the local trainer), deleted with it; named
        after the upload, so the readers' messages name the file its owner knows."""
        folder = self.folder / f"{f.id}.derived" / what
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{safe_name(Path(f.filename).stem, 'upload')}.jsonl"

    def discard(self, staged: Path) -> None:
        """Remove an upload's staging folder (whatever is left in it)."""
        shutil.rmtree(staged.parent, ignore_errors=True)

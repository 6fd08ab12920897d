"""The job store under concurrency: real SQLite files, real threads and processes.

Two openers of a new database migrate it once; a database made before the jobs tables moved
keeps working; a live local job's name is refused by the database itself; two processes reading
one trainer log store each line once, and a stale copy of a job never rewrites what is newer.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storyteller.finetune import JobSpec, JobStore, get_provider
from storyteller.finetune.worker import LOG_FILE
from storyteller.store import Store

ROOT = Path(__file__).resolve().parent.parent
SPEC = JobSpec(base_model="tiny", train_file="stories.jsonl")

# Waits for a go file (so both processes ingest at once), then polls the job once, as a tab would.
INGEST = """
import os, sys, time
from pathlib import Path
from storyteller.finetune import JobStore, get_provider
db, job_id, go = sys.argv[1:4]
provider = get_provider("local", JobStore(db))
Path(f"{go}.ready.{os.getpid()}").touch()
while not Path(go).exists():
    time.sleep(0.01)
provider.status(job_id)
if len(sys.argv) > 4:  # then another writer adds its own key to extra
    store = provider.store
    store.update_job(job_id, extra=store.get_job(job_id).extra | {sys.argv[4]: True})
"""


def version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_two_openers_of_a_new_database_migrate_it_once(tmp_path, monkeypatch):
    """The first opener is held just before its first CREATE TABLE until the second has begun;
    without BEGIN IMMEDIATE both would read version 0 and create the tables twice."""
    path, inside, second_began, errors = tmp_path / "new.db", threading.Event(), threading.Event(), []
    connect = sqlite3.connect

    def traced_connect(*args, **kwargs):  # a real connection, with a trace to order the two threads
        db, me = connect(*args, **kwargs), threading.current_thread().name

        def on_sql(sql: str) -> None:
            if me == "second" and sql.lstrip().startswith(("BEGIN", "CREATE")):
                second_began.set()
            if me == "first" and sql.lstrip().startswith("CREATE TABLE stories"):
                inside.set()
                second_began.wait(60)

        db.set_trace_callback(on_sql)
        return db

    monkeypatch.setattr(sqlite3, "connect", traced_connect)

    def open_store() -> None:
        try:
            JobStore(path)
        except Exception as e:  # noqa: BLE001 - collected and shown by the assertion below
            errors.append(e)

    first = threading.Thread(target=open_store, name="first")
    first.start()
    assert inside.wait(60)
    second = threading.Thread(target=open_store, name="second")
    second.start()
    first.join(60)
    second.join(60)
    monkeypatch.undo()
    assert errors == []
    assert version(path) == max(JobStore.MIGRATIONS)
    assert JobStore(path).list_jobs() == []


def test_a_database_at_version_2_runs_only_the_new_step(tmp_path):
    """A database the old code made (stories and jobs tables, user_version 2) keeps its jobs; only
    the unique-name index is added, and earlier duplicate live names are told apart first."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for n in (1, 2):
            JobStore.MIGRATIONS[n](db)
        db.execute("PRAGMA user_version=2")
        for i, (provider, name, status) in enumerate([("local", "dup", "running"), ("local", "dup", "queued"),
                                                      ("local", "dup", "failed"), ("openai", "gpt", "running"),
                                                      ("openai", "gpt", "running")]):
            db.execute("INSERT INTO jobs (id, created, updated, provider, name, spec, status) VALUES "
                       "(?,?,?,?,?,?,?)", (f"job-{i}-abcde{i}", i, i, provider, name, SPEC.model_dump_json(), status))
    Store(path)  # the stories-only class knows nothing past 1: it changes nothing
    assert version(path) == 2
    store = JobStore(path)
    assert version(path) == max(JobStore.MIGRATIONS)  # 3, then the later steps
    names = {j.id: j.name for j in store.list_jobs()}
    assert names == {"job-0-abcde0": "dup", "job-1-abcde1": "dup-abcde1", "job-2-abcde2": "dup",
                     "job-3-abcde3": "gpt", "job-4-abcde4": "gpt"}
    JobStore(path)
    assert version(path) == max(JobStore.MIGRATIONS) and len(JobStore(path).list_jobs()) == 5


def test_a_new_database_opened_for_stories_first_gets_the_jobs_tables_later(tmp_path):
    path = tmp_path / "fresh.db"
    Store(path).save_story("m", {}, "text", "done")
    assert version(path) == 1
    assert JobStore(path).list_jobs() == [] and version(path) == max(JobStore.MIGRATIONS)
    assert Store(path).stories()[0]["text"] == "text"


def test_the_database_refuses_a_second_live_local_job_with_a_name(tmp_path):
    from storyteller.errors import InputError

    store = JobStore(tmp_path / "j.db")
    first = store.create_job(SPEC, "tiny-x")
    with pytest.raises(InputError, match="already exists"):
        store.create_job(SPEC, "tiny-x")
    assert [j.id for j in store.list_jobs()] == [first.id]  # nothing half-inserted
    store.update_job(first.id, status="failed")
    again = store.create_job(SPEC, "tiny-x")  # a failed job's name is free
    openai = SPEC.model_copy(update={"provider": "openai"})
    store.create_job(openai, "gpt-4o-mini")
    store.create_job(openai, "gpt-4o-mini")  # OpenAI names are suffixes, shared freely
    with pytest.raises(InputError, match="used by another job"):
        store.update_job(first.id, status="running")  # resuming the old one would make two
    assert store.get_job(again.id).status == "queued"


# --- log ingestion -------------------------------------------------------------------------------
@pytest.fixture
def logged_job(settings_env, tmp_path):
    """A local job (not launched) whose trainer log holds 300 events and 100 metric rows."""
    store = JobStore()
    job = store.create_job(SPEC, "tiny-log", job_dir=str(tmp_path / "run"), extra={"log_offset": 0, "plan": "p"})
    Path(job.job_dir).mkdir()
    lines = []
    for i in range(300):
        lines.append({"type": "event", "time": 1000.0 + i, "level": "info", "message": f"event {i}"})
        if i % 3 == 0:
            lines.append({"type": "metrics", "time": 1000.0 + i, "step": i // 3 + 1, "total_steps": 100,
                          "train_loss": 2.0})
    (Path(job.job_dir) / LOG_FILE).write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return store, job


def ingest_in_processes(store: JobStore, job_id: str, tmp_path: Path, n: int, *extra_args: str) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", INGEST, str(store.path), job_id, str(go), *extra_args],
                              cwd=ROOT, stderr=subprocess.PIPE) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready.*"))) < n and all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "the ingesting processes did not start"
        time.sleep(0.05)
    go.touch()
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read().decode(errors="replace")[-2000:]


def test_two_processes_ingesting_one_log_store_each_event_once(logged_job, tmp_path):
    store, job = logged_job
    ingest_in_processes(store, job.id, tmp_path, 2)
    messages = [e.message for e in store.events(job.id)]
    assert sorted(messages) == sorted(f"event {i}" for i in range(300))
    assert [r.step for r in store.metrics(job.id)] == list(range(1, 101))
    done = store.get_job(job.id)
    assert done.extra["log_offset"] == (Path(job.job_dir) / LOG_FILE).stat().st_size and done.step == 100


def test_a_stale_copy_of_the_job_neither_duplicates_events_nor_rewrites_extra(logged_job, tmp_path):
    """A tab polls with the job it read before another process (the CLI's `follow`) ingested the log
    and wrote its own key to `extra`."""
    store, job = logged_job
    stale = store.get_job(job.id)
    ingest_in_processes(store, job.id, tmp_path, 1, "seen_by_cli")
    newer = store.get_job(job.id)
    get_provider("local", store).refresh(stale)
    assert len(store.events(job.id)) == 300
    assert store.get_job(job.id).extra == newer.extra and newer.extra["seen_by_cli"] is True

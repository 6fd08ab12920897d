"""Local fine-tuning end to end: a real worker process trains a tiny storyteller model.

Covers: loss falls and the result appears in the model picker with a card; cancel keeps a
checkpoint and resume finishes from it; SIGKILL marks the job failed and keeps its last checkpoint;
only the last and the best checkpoint are kept; jobs beyond the limit wait in a queue; default
names never collide; hostile inputs get friendly errors; everything is in SQLite.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from storyteller.errors import DataError, InputError, JobError, ModelNotFoundError, OfflineError
from storyteller.finetune import JobSpec, JobStore, get_provider
from storyteller.finetune.worker import CANCEL_FLAG, LOG_FILE
from tests.fakes.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ft_env(settings_env, monkeypatch, tmp_path):
    """A models dir with a tiny storyteller-format model and 12 new stories (temp database and runs)."""
    from storyteller.config import get_settings

    models = tmp_path / "models"
    build_tiny_model(models / "tiny", storyteller=True)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    get_settings.cache_clear()
    lines = (ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    data = tmp_path / "new.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return models, data


def spec(data: Path, **kw) -> JobSpec:
    return JobSpec(**{"base_model": "tiny", "train_file": str(data), "batch_size": 4, "max_length": 96,
                      "threads": 1, "learning_rate": 3e-3, "save_steps": 5} | kw)


def wait_for(cond, timeout=120.0, poll=0.2):
    t0 = time.monotonic()
    while not (out := cond()):
        assert time.monotonic() - t0 < timeout, "timed out waiting"
        time.sleep(poll)
    return out


def finish(provider, job_id, timeout=180):
    return [x for x in provider.follow(job_id, poll_s=0.3, timeout_s=timeout)][-1]


@pytest.mark.slow
def test_local_finetune_completes_loss_falls_and_model_is_listed(ft_env):
    models, data = ft_env
    p = get_provider("local")
    job = p.start(spec(data, name="tiny-new", max_steps=30, mix_share=0.25))
    done = finish(p, job.id)
    assert done.status == "succeeded", done.error
    assert done.result_model == "tiny-new" and done.step == 30
    rows = p.metrics(job.id)
    assert [r.step for r in rows][:3] == [1, 2, 3] and rows[-1].step == 30
    first = sum(r.train_loss for r in rows[:5]) / 5
    last = sum(r.train_loss for r in rows[-5:]) / 5
    assert last < first - 0.3, (first, last)
    assert all(r.train_accuracy is not None and 0 <= r.train_accuracy <= 1 for r in rows)
    out = models / "tiny-new"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Fine-tuned from tiny on 12 stories (4 earlier ones mixed in)" in card
    cfg = json.loads((out / "training_config.json").read_text(encoding="utf-8"))
    assert cfg["finetune"]["result"]["steps"] == 30 and Path(cfg["finetune"]["data_files"][0]).is_file()
    assert json.loads((out / "config.json").read_text())["storyteller_format"] == 1
    from storyteller.engines.registry import list_models

    assert "tiny-new" in [m.id for m in list_models(include_remote=False)]
    # the log the UI polls, and a fresh store (a restarted app) sees the same job, events and metrics
    log = [json.loads(line) for line in (Path(job.job_dir) / LOG_FILE).read_text().splitlines()]
    assert {r["type"] for r in log} == {"event", "metrics"}
    fresh = JobStore()
    assert fresh.get_job(job.id).status == "succeeded" and len(fresh.metrics(job.id)) == 30
    assert any("Done: saved as models/tiny-new" in e.message for e in fresh.events(job.id))
    with pytest.raises(InputError, match="already exists"):  # never overwrite a model
        p.plan(spec(data, name="tiny-new"))


@pytest.mark.slow
def test_cancel_keeps_a_checkpoint_and_resume_finishes(ft_env):
    _, data = ft_env
    p = get_provider("local")
    job = p.start(spec(data, max_steps=8, save_steps=100))
    p.cancel(job.id)  # before the first step ends: stops after step 1 with a checkpoint
    stopped = finish(p, job.id)
    assert stopped.status == "cancelled"
    ckpts = p.checkpoints(job.id)
    assert [c.step for c in ckpts] == [1]
    assert (Path(ckpts[0].model) / "optimizer.pt").is_file()
    resumed = p.resume(job.id)
    assert resumed.status == "running" and not (Path(job.job_dir) / CANCEL_FLAG).exists()
    done = finish(p, job.id)
    assert done.status == "succeeded", done.error
    msgs = [e.message for e in p.events(job.id)]
    assert "Resuming from checkpoint-1" in msgs
    steps = [r.step for r in p.metrics(job.id)]
    assert steps == list(range(1, 9))  # continued from step 2, not from the start


@pytest.mark.slow
def test_killed_worker_marks_job_failed_and_keeps_checkpoints(ft_env):
    _, data = ft_env
    p = get_provider("local")
    job = p.start(spec(data, max_steps=100_000, save_steps=2))
    ckpts = wait_for(lambda: [c for c in p.checkpoints(job.id) if c.step >= 4])
    p.kill(job.id)
    failed = wait_for(lambda: (j := p.status(job.id)).done and j)
    assert failed.status == "failed"
    assert "stopped unexpectedly" in failed.error and "Resume" in failed.error
    after = p.checkpoints(job.id)
    assert after[-1].step >= ckpts[-1].step and (Path(after[-1].model) / "optimizer.pt").is_file()  # Resume's
    assert len(after) <= 3  # the last and the best, and one more if killed between a save and its pruning
    for c in after:
        assert (Path(c.model) / "model.safetensors").is_file()
    with pytest.raises(JobError, match="already failed"):
        p.cancel(job.id)


@pytest.mark.slow
def test_only_the_last_and_the_best_checkpoint_are_kept(ft_env, tmp_path):
    _, data = ft_env
    val = tmp_path / "val.jsonl"
    val.write_text("\n".join((ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8")
                             .splitlines()[12:16]) + "\n", encoding="utf-8")
    p = get_provider("local")
    job = p.start(spec(data, val_file=str(val), max_steps=8, save_steps=2))
    done = finish(p, job.id)
    assert done.status == "succeeded", done.error
    valid = {r.step: r.valid_loss for r in p.metrics(job.id) if r.valid_loss is not None}
    assert sorted(valid) == [2, 4, 6, 8]
    best = min(valid, key=lambda step: (valid[step], -step))
    kept = {c.step: Path(c.model) for c in p.checkpoints(job.id)}
    assert set(kept) == {8, best}
    assert sorted(d.name for d in Path(job.job_dir).glob("checkpoint-*")) == sorted(d.name for d in kept.values())
    assert (kept[8] / "optimizer.pt").is_file() and all((d / "model.safetensors").is_file() for d in kept.values())
    assert best == 8 or not list(kept[best].glob("optimizer*"))  # the best keeps its weights only


def test_without_validation_the_best_checkpoint_has_the_lowest_recent_training_loss(tmp_path):
    from storyteller.finetune.worker import prune_checkpoints

    losses = {1: 3.0, 2: 2.0, 3: 2.2, 4: 1.0, 5: 2.5, 6: 2.6}  # over 2 steps: 2.5 at 2, 1.6 at 4, 2.55 at 6
    for step in (2, 4, 6):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"weights")
        (d / "optimizer.pt").write_bytes(b"adam")
        hist = [{"step": s, "loss": loss} for s, loss in losses.items() if s <= step]
        (d / "trainer_state.json").write_text(json.dumps({"log_history": hist}), encoding="utf-8")
    (tmp_path / "checkpoint-1").mkdir()  # torn by a kill: no trainer_state.json
    prune_checkpoints(tmp_path, window=2)
    assert sorted(d.name for d in tmp_path.iterdir()) == ["checkpoint-4", "checkpoint-6"]
    assert (tmp_path / "checkpoint-6" / "optimizer.pt").is_file()  # the last, for Resume
    best = tmp_path / "checkpoint-4"
    assert (best / "model.safetensors").is_file() and not (best / "optimizer.pt").exists()  # weights only


@pytest.mark.slow
def test_jobs_beyond_the_limit_wait_and_start_when_a_slot_frees(ft_env):
    from storyteller.finetune.local_ft import _alive

    _, data = ft_env
    p = get_provider("local")
    first = p.start(spec(data, name="q1", max_steps=2, save_steps=100))
    second, third = (p.start(spec(data, name=f"q{i}", max_steps=100_000, save_steps=100)) for i in (2, 3))
    try:
        assert first.status == "running" and first.pid
        assert (second.status, second.pid, third.status) == ("queued", None, "queued")
        store = JobStore()  # nobody polls the waiting jobs: the first worker hands its slot on as it ends
        pid = wait_for(lambda: store.get_job(second.id).pid)
        assert store.get_job(first.id).status == "succeeded" and store.get_job(second.id).status == "running"
        assert store.get_job(third.id).status == "queued"
        p.kill(second.id)  # gone without a word: the next poll of a waiting job frees its slot
        wait_for(lambda: not _alive(pid))
        assert p.status(third.id).status == "running" and store.get_job(second.id).status == "failed"
    finally:
        for job in (first, second, third):
            p.kill(job.id)


def test_default_names_in_one_minute_never_collide(ft_env):
    _, data = ft_env
    p = get_provider("local")
    names = [p.start(spec(data), launch=False).name for _ in range(3)]
    assert len(set(names)) == 3 and all(re.fullmatch(r"tiny-ft-\d{4}-\d{4}(-\d)?", n) for n in names), names
    p.start(spec(data, name="mine"), launch=False)
    with pytest.raises(InputError, match="already exists"):  # a name the user typed is theirs to change
        p.start(spec(data, name="mine"), launch=False)


def test_a_start_that_failed_does_not_hold_its_name(ft_env, tmp_path, monkeypatch):
    from storyteller.config import get_settings

    _, data = ft_env
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("STORYTELLER_TRAINING__RUNS_DIR", str(tmp_path / "a-file" / "runs"))  # cannot be made
    get_settings.cache_clear()
    p = get_provider("local")
    with pytest.raises(JobError, match="Could not set up"):
        p.start(spec(data, name="mine"))
    assert [j.status for j in p.store.list_jobs()] == ["failed"]
    monkeypatch.setenv("STORYTELLER_TRAINING__RUNS_DIR", str(tmp_path / "runs"))
    get_settings.cache_clear()
    assert p.start(spec(data, name="mine"), launch=False).name == "mine"


def test_friendly_errors_for_bad_inputs(ft_env, tmp_path):
    _, data = ft_env
    p = get_provider("local")
    with pytest.raises(ModelNotFoundError):
        p.plan(spec(data, base_model="no-such-model"))
    with pytest.raises(OfflineError, match="offline"):
        p.plan(spec(data, base_model="someone/not-cached-model"))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    with pytest.raises(DataError, match="stories themselves"):
        p.plan(spec(chat))
    with pytest.raises(DataError):
        p.plan(spec(tmp_path / "missing.csv"))
    for bad in ("../escape", ".hidden", "a/b", "x" * 80):
        with pytest.raises(InputError):
            p.plan(spec(data, name=bad))
    with pytest.raises(InputError):
        get_provider("cloud")
    plan = p.plan(spec(data, max_steps=7))
    assert plan.settings["steps"] == 7 and plan.settings["source"].endswith("tiny") and "s" in plan.estimate


def test_plan_shows_the_defaults_the_worker_uses(ft_env, tmp_path):
    """Only a dataset given: epochs, batch, learning rate and schedule are the worker's, and a
    dataset of 20+ stories trains on the 90% that is not held out for validation."""
    from storyteller.finetune.worker import BATCH, EPOCHS, SCHEDULE, default_lr

    _, data = ft_env
    p = get_provider("local")
    s = p.plan(JobSpec(base_model="tiny", train_file=str(data), mix_share=0.5)).settings
    assert (s["n_epochs"], s["batch_size"], s["method"]) == (EPOCHS, BATCH, "full")
    assert s["learning_rate"] == default_lr("full", 1e6) == 3e-4 and s["lr_schedule"].startswith(SCHEDULE)
    assert s["trained_on"] == 12 and s["steps"] == -(-(12 + 12) // BATCH) * EPOCHS
    lines = (ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    big = tmp_path / "big.jsonl"
    big.write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = p.plan(JobSpec(base_model="tiny", train_file=str(big), mix_share=0.5, learning_rate=1e-3)).settings
    assert (s["stories"], s["trained_on"], s["learning_rate"]) == (30, 27, 1e-3)
    assert s["steps"] == -(-(27 + 27) // BATCH) * EPOCHS


def test_store_ingests_only_whole_log_lines(ft_env, tmp_path):
    """A line the worker is still writing is read on the next poll, never half."""
    _, data = ft_env
    p = get_provider("local")
    job = p.start(spec(data), launch=False)
    log = Path(job.job_dir) / LOG_FILE
    row = {"type": "metrics", "time": 1.0, "step": 1, "total_steps": 9, "train_loss": 2.5}
    log.write_text(json.dumps(row) + "\n" + json.dumps(row | {"step": 2})[:20], encoding="utf-8")
    assert [r.step for r in p.metrics(job.id)] == [1]
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(row | {"step": 2})[20:] + "\n")
    assert [r.step for r in p.metrics(job.id)] == [1, 2]
    assert p.status(job.id).step == 2

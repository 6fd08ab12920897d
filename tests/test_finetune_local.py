"""Local fine-tuning end to end: a real worker process trains a tiny storyteller model.

Covers: loss falls and the result appears in the model picker with a card; cancel keeps a
checkpoint and resume finishes from it; SIGKILL marks the job failed and keeps its checkpoints;
hostile inputs get friendly errors; everything is in SQLite (a new store instance sees it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from storyteller.errors import DataError, InputError, ModelNotFoundError, OfflineError
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
    after = {c.step for c in p.checkpoints(job.id)}
    assert {c.step for c in ckpts} <= after  # no earlier checkpoint lost
    for c in p.checkpoints(job.id):
        assert (Path(c.model) / "model.safetensors").is_file()
    with pytest.raises(Exception, match="already failed"):
        p.cancel(job.id)


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

"""OpenAI fine-tuning against the stateful loopback fake: upload, create, follow, metrics, checkpoints,
cancel, failure and resume from a checkpoint, friendly errors."""

from __future__ import annotations

import json

import pytest

from storyteller.errors import AuthError, DataError, JobError
from storyteller.finetune import JobSpec, JobStore, get_provider
from tests.fakes.openai_finetune import FineTuning

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def ft(openai_env, story_sample):
    return FineTuning(openai_env, steps=4), story_sample


def follow(p, job_id):
    return [x for x in p.follow(job_id, poll_s=0, timeout_s=30)]


def test_life_cycle_to_success_with_metrics_result_file_and_checkpoints(ft):
    fake, data = ft
    p = get_provider("openai")
    spec = JobSpec(provider="openai", base_model=BASE, train_file=str(data), name="song", n_epochs=2, seed=7)
    plan = p.plan(spec)
    assert plan.cost_usd and plan.cost_usd > 0 and "$" in plan.estimate and "OK to train" in plan.report
    assert plan.settings["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
    job = p.start(spec)
    assert job.status == "validating_files" and job.remote_id.startswith("ftjob-")
    body = fake.created[-1]
    assert body["model"] == BASE and body["suffix"] == "song" and body["seed"] == 7
    uploaded = fake.files[body["training_file"]]
    assert uploaded["purpose"] == "fine-tune"
    examples = [json.loads(x) for x in uploaded["data"].decode().splitlines()]
    assert len(examples) == 12 and [m["role"] for m in examples[0]["messages"]] == ["system", "user", "assistant"]
    out = follow(p, job.id)
    done = out[-1]
    assert done.status == "succeeded" and done.result_model.startswith(f"ft:{BASE}:acme:song:")
    assert done.step == 4 and done.total_steps == 4
    msgs = [e.message for e in out[:-1]]
    assert msgs.count("Step 1/4: training loss=2.0000") == 1  # incremental: no event twice
    assert len([m for m in msgs if m.startswith(("Created fine-tuning", "Validating", "Files", "Fine-tuning",
                                                 "Step", "New", "The job"))]) == len(fake.events[job.remote_id])
    rows = p.metrics(job.id)
    assert [r.step for r in rows] == [1, 2, 3, 4]
    assert rows[1].train_loss == pytest.approx(1.0) and rows[3].valid_mean_token_accuracy == pytest.approx(0.85)
    assert rows[0].train_accuracy == pytest.approx(0.5)
    ckpts = p.checkpoints(job.id)
    assert sorted(c.step for c in ckpts) == [2, 4] and all(":ckpt-step-" in c.model for c in ckpts)
    assert JobStore().get_job(job.id).result_model == done.result_model  # persisted
    calls = len(fake.fake.requests)
    assert p.status(job.id).status == "succeeded" and len(fake.fake.requests) == calls  # finished: no more calls
    with pytest.raises(JobError, match="already succeeded"):
        p.cancel(job.id)


def test_continue_from_a_fine_tune_with_hyperparameters_form_and_legacy_data(ft):
    fake, data = ft
    p = get_provider("openai")
    job = p.start(JobSpec(provider="openai", base_model="ft:babbage-002:acme::def456", train_file=str(data),
                          method_form=False, batch_size=2, learning_rate_multiplier=0.5))
    body = fake.created[-1]
    assert body["model"] == "ft:babbage-002:acme::def456" and "method" not in body
    assert body["hyperparameters"] == {"batch_size": 2, "learning_rate_multiplier": 0.5}
    first = json.loads(fake.files[body["training_file"]]["data"].decode().splitlines()[0])
    assert set(first) == {"prompt", "completion"} and first["completion"].endswith("\n###")
    assert follow(p, job.id)[-1].status == "succeeded"


def test_failure_then_resume_from_last_checkpoint(ft):
    fake, data = ft
    fake.fail_at_step = 3
    p = get_provider("openai")
    job = p.start(JobSpec(provider="openai", base_model=BASE, train_file=str(data)))
    failed = follow(p, job.id)[-1]
    assert failed.status == "failed" and "internal error" in failed.error
    fake.fail_at_step = None
    again = p.resume(job.id)
    assert fake.created[-1]["model"].endswith(":ckpt-step-2") and again.id != job.id
    assert follow(p, again.id)[-1].status == "succeeded"


def test_cancel_and_list_adopts_jobs_started_elsewhere(ft):
    fake, data = ft
    p = get_provider("openai")
    job = p.start(JobSpec(provider="openai", base_model=BASE, train_file=str(data)))
    assert p.cancel(job.id).status == "cancelled"
    assert fake.jobs[job.remote_id]["status"] == "cancelled"
    import openai

    client = openai.OpenAI(base_url=fake.fake.base_url, api_key="sk-test")
    fid = client.files.create(file=("x.jsonl", data.read_bytes()), purpose="fine-tune").id
    other = client.fine_tuning.jobs.create(model=BASE, training_file=fid)
    jobs = p.list()
    assert {j.remote_id for j in jobs} == {job.remote_id, other.id}


def test_friendly_errors(ft, tmp_path):
    fake, data = ft
    p = get_provider("openai")
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(data.read_text(encoding="utf-8").splitlines()[:3]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="at least 10"):
        p.start(JobSpec(provider="openai", base_model=BASE, train_file=str(few)))
    assert not fake.fake.requests  # nothing uploaded, nothing paid
    fake.fake.api_key = "sk-right"
    with pytest.raises(AuthError):
        p.start(JobSpec(provider="openai", base_model=BASE, train_file=str(data)))
    assert p.store.list_jobs("openai")[0].status == "failed"
    fake.fake.api_key = None
    fake.fake.fail(400, path="/v1/fine_tuning/jobs", message="Model gpt-9 is not available for fine-tuning.")
    with pytest.raises(JobError, match="not available for fine-tuning"):
        p.start(JobSpec(provider="openai", base_model="gpt-9", train_file=str(data)))


def test_the_plan_says_where_it_trains_and_until_when_openai_takes_jobs(ft, monkeypatch):
    from datetime import date

    from storyteller.config import get_settings
    from storyteller.finetune.openai_ft import where_it_trains

    fake, data = ft
    before = where_it_trains(None, today=date(2026, 11, 30))
    assert "until 2027-01-06 (37 days from today)" in before and "storyteller serve" in before
    assert "stopped taking new fine-tuning jobs on 2027-01-06" in where_it_trains("https://api.openai.com/v1",
                                                                                 today=date(2027, 1, 6))
    assert where_it_trains("http://gpu-box:8000/v1").startswith("Trains at http://gpu-box:8000/v1")
    spec = JobSpec(provider="openai", base_model=BASE, train_file=str(data), n_epochs=1)
    url = get_settings().openai.resolved_base_url()  # the fake OpenAI on loopback
    assert f"Trains at {url}" in get_provider("openai").plan(spec).report
    job = get_provider("openai").start(spec)
    assert job.extra["base_url"] == url

    # the job keeps its server: refreshing it after the settings moved on still asks the fake
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()
    assert get_provider("openai").refresh(JobStore().get_job(job.id)).remote_id == job.remote_id

    # at OpenAI itself, after the cut-off, a start is refused before anything is uploaded
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    get_settings.cache_clear()
    import storyteller.finetune.openai_ft as oft

    class Later(date):
        @classmethod
        def today(cls):
            return date(2027, 1, 7)

    monkeypatch.setattr(oft, "date", Later)
    uploads = len(fake.files)
    with pytest.raises(JobError, match="stopped taking new fine-tuning jobs"):
        get_provider("openai").start(spec)
    assert len(fake.files) == uploads

"""The course's fine-tuning workflow through the `openai` SDK, end to end on this machine: prepare
the stories -> upload -> create a job -> follow its events -> tell with the fine-tune -> cancel
another job. Real worker processes train a tiny storyteller model for a step or two."""

from __future__ import annotations

import csv
import io
import time

import openai
import pytest

from storyteller.finetune.base import METRIC_COLUMNS, JobStore

TERMINAL = ("succeeded", "failed", "cancelled")


def follow(client, job_id: str, timeout_s: float = 240) -> tuple[object, list]:
    """Poll the job and its events (as the course's code does) until it ends."""
    seen, t0 = {}, time.monotonic()
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        for ev in client.fine_tuning.jobs.list_events(job_id, limit=50):
            seen[ev.id] = ev
        if job.status in TERMINAL:
            return job, sorted(seen.values(), key=lambda e: int(e.id.split("-")[1]))
        assert time.monotonic() - t0 < timeout_s, f"job still {job.status}"
        time.sleep(0.5)


@pytest.mark.slow
def test_the_course_workflow_end_to_end(api_env, client, stories):
    from storyteller.data.prepare import prepare

    prepared = prepare(stories, "legacy", api_env / "prepared", val=0.0)
    with open(prepared.train_path, "rb") as f:
        train = client.files.create(file=f, purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        training_file=train.id, model="tiny", suffix="ultraman", seed=7, metadata={"course": "seeds"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 12}}})
    assert job.object == "fine_tuning.job" and job.status in ("queued", "running")
    assert (job.model, job.training_file, job.seed, job.metadata) == ("tiny", train.id, 7, {"course": "seeds"})
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 12
    assert job.fine_tuned_model is None and job.result_files == []

    done, events = follow(client, job.id)
    assert done.status == "succeeded", done.error
    messages = [e.message for e in events]
    assert messages[0].startswith("Job created") and messages[-1] == "Done: saved as models/ultraman"
    assert all(e.object == "fine_tuning.job.event" and e.level in ("info", "warn", "error") for e in events)
    assert done.fine_tuned_model == f"ft:tiny:storyteller:ultraman:{done.id}" and done.finished_at
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    assert client.models.retrieve(done.fine_tuned_model).owned_by == "storyteller"

    # the course's call: the legacy prompt on completions, and a chat, streamed
    story = client.completions.create(model=done.fine_tuned_model, prompt="唐,隐形,轻松 ->\n", max_tokens=20, seed=1)
    assert story.choices[0].text and story.usage.completion_tokens == 20
    chunks = list(client.chat.completions.create(model=done.fine_tuned_model, stream=True, max_tokens=8,
                                                 messages=[{"role": "user", "content": "宋,飞行,温馨 ->"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    # the result file, in OpenAI's columns, one row per step
    (result_id,) = done.result_files
    rows = list(csv.reader(io.StringIO(client.files.content(result_id).text)))
    assert tuple(rows[0]) == METRIC_COLUMNS and [r[0] for r in rows[1:]] == ["1", "2"]
    assert client.files.retrieve(result_id).purpose == "fine-tune-results"
    ckpts = client.fine_tuning.jobs.checkpoints.list(done.id)
    assert [c.step_number for c in ckpts.data] and not ckpts.has_more
    assert ckpts.data[0].fine_tuned_model_checkpoint.startswith(f"{done.fine_tuned_model}:ckpt-step-")

    # the very job the Training tab and `storyteller finetune` show
    stored = JobStore().get_job(done.id)
    assert stored.result_model == "ultraman" and stored.extra["api"]["training_file"] == train.id

    # cancel another job
    other = client.fine_tuning.jobs.create(training_file=train.id, model=done.fine_tuned_model,
                                           hyperparameters={"n_epochs": 20, "batch_size": 1})
    assert other.model == done.fine_tuned_model
    client.fine_tuning.jobs.cancel(other.id)
    stopped, _ = follow(client, other.id)
    assert stopped.status == "cancelled" and stopped.fine_tuned_model is None
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.cancel(other.id)
    assert e.value.body["code"] == "invalid_job_status"

    # newest first; `after` pages on and the paging ends
    first = client.fine_tuning.jobs.list(limit=1)
    assert [j.id for j in first.data] == [other.id] and first.has_more
    second = client.fine_tuning.jobs.list(limit=1, after=other.id)
    assert [j.id for j in second.data] == [done.id] and not second.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(limit=1)] == [other.id, done.id]


def test_job_requests_that_cannot_be_trained_here_are_refused(api_env, client):
    legacy = client.files.create(file=("l.jsonl", b'{"prompt": "hello ->", "completion": " world\\n###"}\n'),
                                 purpose="fine-tune")
    dpo = client.files.create(file=("d.jsonl", b'{"input": {"messages": [{"role": "user", "content": "hi"}]}, '
                                               b'"preferred_output": [{"role": "assistant", "content": "a"}], '
                                               b'"non_preferred_output": [{"role": "assistant", "content": "b"}]}\n'),
                              purpose="fine-tune")
    cases = [
        (dict(training_file=legacy.id, model="tiny", method={"type": "reinforcement"}), 400, "method.type"),
        (dict(training_file=legacy.id, model="tiny", method={"type": "dpo"}), 400, "training_file"),  # not DPO lines
        (dict(training_file=dpo.id, model="tiny"), 400, "training_file"),
        (dict(training_file=legacy.id, model="tiny"), 400, "training_file"),  # "hello ->" is not a story request
        (dict(training_file="file-nope", model="tiny"), 400, "training_file"),
        (dict(training_file=legacy.id, model="gpt-4o-mini"), 404, "model"),
        (dict(training_file=legacy.id, model="tiny", hyperparameters={"n_epochs": 0}), 400,
         "hyperparameters.n_epochs"),
        (dict(training_file=legacy.id, model="tiny", suffix="a:b"), 400, "suffix"),
    ]
    for kwargs, status, param in cases:
        with pytest.raises(openai.APIStatusError) as e:
            client.fine_tuning.jobs.create(**kwargs)
        assert (e.value.status_code, e.value.body["param"]) == (status, param), (kwargs, e.value.body)
    assert client.fine_tuning.jobs.list().data == []  # nothing was started
    for call in (client.fine_tuning.jobs.retrieve, client.fine_tuning.jobs.cancel,
                 client.fine_tuning.jobs.list_events, client.fine_tuning.jobs.checkpoints.list):
        with pytest.raises(openai.NotFoundError):
            call("job-nope")


@pytest.mark.slow
def test_a_second_storyteller_trains_here_through_its_openai_provider(api_env, stories, monkeypatch):
    """The project's own OpenAI provider (`storyteller finetune start --provider openai`), pointed at this
    server by OPENAI_BASE_URL: a second Storyteller trains on this machine and reads the results back."""
    import os
    import subprocess
    import sys

    import httpx

    from storyteller.config import get_settings
    from storyteller.finetune import JobSpec, get_provider
    from tests.api.conftest import ROOT, free_port

    port = free_port()
    env = dict(os.environ, STORYTELLER_DATA_DIR=str(api_env / "server-var"),
               STORYTELLER_TRAINING__RUNS_DIR=str(api_env / "server-runs"))
    cmd = [sys.executable, "-c", "from storyteller.cli import main; main()", "serve", "--no-studio", "--port", str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() - t0 < 120, "serve did not come up"
                time.sleep(0.3)
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-second-storyteller")
        get_settings.cache_clear()
        p = get_provider("openai")
        job = p.start(JobSpec(provider="openai", base_model="tiny", train_file=str(stories), name="second",
                              n_epochs=1, batch_size=12))
        assert job.remote_id and job.remote_id != job.id  # the server's job, tracked by the client's
        done = list(p.follow(job.id, poll_s=0.5, timeout_s=240))[-1]
        assert done.status == "succeeded", done.error
        assert done.result_model == f"ft:tiny:storyteller:second:{done.remote_id}"
        assert [r.step for r in p.metrics(job.id)] == [1]  # read back from the result file
        assert any(e.message.startswith("Done: saved as models/second") for e in p.events(job.id))
        assert job.extra["base_url"] == f"http://127.0.0.1:{port}/v1"

        # the CLI, pointed there by --base-url alone; a later command finds the server from the job
        monkeypatch.delenv("OPENAI_BASE_URL")
        cli_env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
        started = subprocess.run(cmd[:3] + ["finetune", "start", "--provider", "openai", "--base-url",
                                            f"http://127.0.0.1:{port}/v1", "--base", "tiny", "--data", str(stories),
                                            "--name", "third", "--epochs", "1", "--batch-size", "12", "--yes"],
                                 cwd=ROOT, env=cli_env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        assert f"Trains at http://127.0.0.1:{port}/v1" in started.stdout and "2027-01-06" not in started.stdout
        job_id = started.stdout.split("Started ")[1].split()[0]
        followed = subprocess.run(cmd[:3] + ["finetune", "follow", job_id], cwd=ROOT, env=cli_env,
                                  capture_output=True, text=True, timeout=300)
        assert followed.returncode == 0 and "succeeded" in followed.stdout, followed.stdout + followed.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Keys, CORS and `storyteller serve`: a server other computers can reach needs keys, a wrong key
gets OpenAI's 401, browsers get CORS only from the origins set, and serve puts the studio and
/v1 on one port."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import openai
import pytest

from storyteller.errors import InputError
from tests.api.conftest import KEY, ROOT, Server, checked_client, free_port

CLI = [sys.executable, "-c", "from storyteller.cli import main; main()"]  # the `storyteller` command


@pytest.fixture
def keyed(api_env, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_API__KEYS", f'["{KEY}", "sk-second"]')
    monkeypatch.setenv("STORYTELLER_API__CORS_ORIGINS", '["http://parents.example"]')
    get_settings.cache_clear()
    return api_env


def test_keys_are_required_when_set_and_checked(keyed, spec):
    with Server() as server:
        for key in (KEY, "sk-second"):
            with checked_client(server, spec, key=key) as c:
                assert [m.id for m in c.models.list()] == ["tiny"]
        with checked_client(server, spec, key="sk-wrong") as c:
            with pytest.raises(openai.AuthenticationError) as e:
                c.models.list()
            assert e.value.body["code"] == "invalid_api_key"
            with pytest.raises(openai.AuthenticationError):  # before any other check, unknown routes included
                c.files.retrieve("file-nope")
        r = httpx.get(f"{server.base_url}/models")
        assert r.status_code == 401 and "didn't provide an API key" in r.json()["error"]["message"]
        spec.check_error(r.json())


def test_cors_answers_only_the_origins_set(keyed):
    with Server() as server:
        pre = httpx.options(f"{server.base_url}/chat/completions", headers={
            "Origin": "http://parents.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "http://parents.example"
        ok = httpx.get(f"{server.base_url}/models", headers={"Origin": "http://parents.example",
                                                            "Authorization": f"Bearer {KEY}"})
        assert ok.headers["access-control-allow-origin"] == "http://parents.example"
        denied = httpx.get(f"{server.base_url}/models", headers={"Origin": "http://elsewhere.example",
                                                                "Authorization": f"Bearer {KEY}"})
        assert "access-control-allow-origin" not in denied.headers


def test_a_reachable_server_without_keys_refuses_to_start(api_env):
    from storyteller.api.app import create_app

    with pytest.raises(InputError, match="STORYTELLER_API__KEYS"):
        create_app("0.0.0.0")
    assert create_app("127.0.0.1") and create_app("localhost") and create_app("::1")


@pytest.mark.slow
def test_serve_puts_the_studio_and_the_api_on_one_port(api_env):
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base, t0 = f"http://127.0.0.1:{port}", time.monotonic()
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                models = httpx.get(f"{base}/v1/models", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() - t0 < 180, "serve did not come up"
                time.sleep(0.5)
        assert [m["id"] for m in models.json()["data"]] == ["tiny"]
        page = httpx.get(f"{base}/", timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.get(f"{base}/config", timeout=30).json()["components"]  # the studio's Blocks
        lost = httpx.get(f"{base}/v1/nothing", timeout=30)
        assert lost.status_code == 404 and lost.json()["error"]["type"] == "invalid_request_error"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_a_wide_host_without_keys(api_env):
    out = subprocess.run([*CLI, "serve", "--host", "0.0.0.0", "--no-studio"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "STORYTELLER_API__KEYS" in out.stderr


def test_each_key_sees_only_its_own_files_and_jobs(keyed, spec, stories):
    """Two keys on one server: the second key's calls on the first's file and job ids answer
    OpenAI's 404 (as another organisation's would), its lists are empty, and nothing of the first
    key's is touched by them."""
    from storyteller.data.prepare import prepare
    from tests.api.test_api_finetune import follow

    prepared = prepare(stories, "legacy", keyed / "prepared", val=0.0)
    with Server() as server, checked_client(server, spec, key=KEY) as a, \
            checked_client(server, spec, key="sk-second") as b:
        with open(prepared.train_path, "rb") as f:
            mine = a.files.create(file=f, purpose="fine-tune")
        job = a.fine_tuning.jobs.create(training_file=mine.id, model="tiny", suffix="owners",
                                        hyperparameters={"n_epochs": 1})
        for call in (lambda: b.files.retrieve(mine.id), lambda: b.files.content(mine.id),
                     lambda: b.files.delete(mine.id), lambda: b.fine_tuning.jobs.retrieve(job.id),
                     lambda: b.fine_tuning.jobs.cancel(job.id), lambda: b.fine_tuning.jobs.list_events(job.id),
                     lambda: b.fine_tuning.jobs.checkpoints.list(job.id)):
            with pytest.raises(openai.NotFoundError) as e:
                call()
            assert mine.id in e.value.body["message"] or job.id in e.value.body["message"]
        with pytest.raises(openai.BadRequestError) as e:  # as OpenAI answers a job on a file it cannot see
            b.fine_tuning.jobs.create(training_file=mine.id, model="tiny")
        assert e.value.body["param"] == "training_file" and mine.id in e.value.body["message"]
        assert b.files.list().data == [] and b.fine_tuning.jobs.list().data == []
        assert [f.id for f in a.files.list().data] == [mine.id]
        assert [j.id for j in a.fine_tuning.jobs.list().data] == [job.id]
        assert a.files.content(mine.id).read() == prepared.train_path.read_bytes()
        a.fine_tuning.jobs.cancel(job.id)
        stopped, _ = follow(a, job.id)
        assert stopped.status == "cancelled"
    from storyteller.api.filestore import FileStore

    stored = FileStore().find(mine.id)
    assert stored.owner and KEY not in stored.owner  # a hash, never the key itself


@pytest.mark.slow
def test_a_fine_tune_is_its_keys_alone(keyed, spec, stories):
    """Key A's finished fine-tune: A lists it and tells stories with it; key B sees it under neither of
    its names, and using it, reading it or continuing it answers 404, as another organisation's would.
    The server's own models stay everyone's."""
    from storyteller.data.prepare import prepare
    from tests.api.test_api_finetune import follow

    prepared = prepare(stories, "legacy", keyed / "prepared", val=0.0)
    with Server() as server, checked_client(server, spec, key=KEY) as a, \
            checked_client(server, spec, key="sk-second") as b:
        with open(prepared.train_path, "rb") as f:
            mine = a.files.create(file=f, purpose="fine-tune")
        job = a.fine_tuning.jobs.create(training_file=mine.id, model="tiny", suffix="ours",
                                        hyperparameters={"n_epochs": 1})
        done, _ = follow(a, job.id)
        assert done.status == "succeeded", done.error
        ft, folder = done.fine_tuned_model, "ours"
        assert ft in [m.id for m in a.models.list()] and a.models.retrieve(ft).id == ft
        assert a.completions.create(model=ft, prompt="唐,隐形,轻松 ->\n", max_tokens=4, seed=1).choices[0].text
        seen_by_b = [m.id for m in b.models.list()]
        assert "tiny" in seen_by_b and ft not in seen_by_b and folder not in seen_by_b
        with open(prepared.train_path, "rb") as f:
            theirs = b.files.create(file=f, purpose="fine-tune")
        for name in (ft, folder):
            for call in (lambda: b.models.retrieve(name),
                         lambda: b.completions.create(model=name, prompt="唐,隐形,轻松 ->\n", max_tokens=4),
                         lambda: b.chat.completions.create(model=name, max_tokens=4,
                                                           messages=[{"role": "user", "content": "讲个故事"}]),
                         lambda: b.fine_tuning.jobs.create(training_file=theirs.id, model=name)):
                with pytest.raises(openai.NotFoundError) as e:
                    call()
                assert name in e.value.body["message"]
        assert b.fine_tuning.jobs.list().data == []  # nothing was started for B

"""Contract: the requests our engines make are valid against OpenAI's published API spec.

A spec-driven mock (`@stdy/cli`, "Steady", pinned 0.22.1) runs on loopback; it answers 400 for
a missing field or a wrong type/enum, and counts softer violations in `x-steady-error-count`.
Install once (setup does this):  npm install --prefix .cache/steady @stdy/cli@0.22.1
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import openai
import pytest

from storyteller.engines.base import Prompt
from storyteller.engines.openai import OpenAIChatEngine, OpenAICompletionEngine
from storyteller.prompts import StoryRequest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "openai-spec" / "openapi.transformed.yml"
PREFIX = ROOT / ".cache" / "steady"
STEADY = PREFIX / "node_modules" / ".bin" / "steady"
VERSION = "@stdy/cli@0.22.1"
FLAGS = [f"--validator-{w}-{k}-format=brackets" for w in ("query", "form") for k in ("array", "object")]


def _steady_binary() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm not installed: the OpenAI spec contract test needs them")
    if not STEADY.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PREFIX), VERSION],
                       check=True, capture_output=True, timeout=300)
    return STEADY


@pytest.fixture(scope="module")
def steady_url():
    if not SPEC.exists():
        pytest.skip(f"OpenAI spec not present at {SPEC}")
    binary = _steady_binary()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "-p", str(port), *FLAGS, str(SPEC)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/_x-steady/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the spec mock did not start: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def client(steady_url):
    return openai.OpenAI(base_url=steady_url, api_key="sk-contract", max_retries=0, timeout=30)


def _check(raw) -> None:
    assert raw.status_code == 200
    assert raw.headers.get("x-steady-error-count") == "0", dict(raw.headers)
    raw.http_response.close()


PROMPTS = [
    Prompt.for_story(StoryRequest(dynasty="唐", power="隐形", style="轻松")),
    Prompt.for_story(StoryRequest(dynasty="Song", power="flying", style="funny", lang="en", hero="岳飞"),
                     seed=42, temperature=0.0, top_p=1.0, max_new_tokens=4096, stop=["The End"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gpt-4o-mini", "openai:llama3.1", "o3-mini", "ft:gpt-4o-mini-2024-07-18:a::b"])
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("prompt", PROMPTS, ids=["zh", "en-seeded"])
def test_chat_requests_match_the_spec(client, model, stream, prompt):
    kw = OpenAIChatEngine(model).request(prompt)
    kw["stream"] = stream
    _check(client.chat.completions.with_raw_response.create(**kw))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["babbage-002", "ft:davinci-002:acme::x1"])
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("prompt", PROMPTS, ids=["zh", "en-seeded"])
def test_legacy_completion_requests_match_the_spec(client, model, stream, prompt):
    kw = OpenAICompletionEngine(model).request(prompt)
    kw["stream"] = stream
    _check(client.completions.with_raw_response.create(**kw))


@pytest.mark.slow
def test_models_list_matches_the_spec(client):
    _check(client.models.with_raw_response.list())


@pytest.mark.slow
def test_the_mock_does_catch_bad_requests(client):
    """Guard against a mock that accepts anything: an out-of-range value must be counted."""
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=7.5)
    assert raw.headers.get("x-steady-error-count") not in (None, "0")
    raw.http_response.close()

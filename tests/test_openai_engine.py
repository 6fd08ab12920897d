"""OpenAI chat and legacy completion engines against the loopback fake server."""

from __future__ import annotations

import logging
import threading

import pytest
from tenacity import wait_none

from storyteller.engines.base import Prompt
from storyteller.engines.openai import OpenAIChatEngine, OpenAICompletionEngine
from storyteller.errors import AuthError, ModelNotFoundError, QuotaError, ServiceError
from storyteller.prompts import LEGACY_STOP, StoryRequest

REQ = StoryRequest(dynasty="唐", power="隐形", style="轻松")
KEY = "sk-very-secret-key-123"


@pytest.fixture
def server(settings_env, fake_openai, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("STORYTELLER_OPENAI__MAX_RETRIES", "3")
    get_settings.cache_clear()
    fake_openai.api_key = KEY
    return fake_openai


def chat(model="gpt-4o-mini"):
    engine = OpenAIChatEngine(model)
    engine.wait = wait_none()  # no sleeping in tests; the policy is the same
    return engine


def legacy(model="ft:babbage-002:acme::def456"):
    engine = OpenAICompletionEngine(model)
    engine.wait = wait_none()
    return engine


def collect(engine, **params):
    got: list[str] = []
    try:
        for chunk in engine.stream(Prompt.for_story(REQ, **params)):
            got.append(chunk)
    except Exception as e:  # noqa: BLE001 - returned for the test to inspect
        return got, e
    return got, None


def test_chat_streams_many_chunks_with_the_right_request(server):
    server.queue("从前，李白来到了今天，他学会了隐形，帮助奥特曼打败了怪兽。")
    chunks, err = collect(chat(), seed=5, max_new_tokens=321)
    assert err is None and len(chunks) > 5
    assert "".join(chunks) == "从前，李白来到了今天，他学会了隐形，帮助奥特曼打败了怪兽。"
    body = server.requests[-1].json
    assert body["stream"] is True and body["model"] == "gpt-4o-mini" and body["seed"] == 5
    assert body["max_tokens"] == 321 and body["messages"][0]["role"] == "system"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_openai_prefix_and_reasoning_models(server):
    collect(chat("openai:llama3.1"))
    assert server.requests[-1].json["model"] == "llama3.1"
    collect(chat("o3-mini"))
    body = server.requests[-1].json
    assert "temperature" not in body and body["max_completion_tokens"] == 700


def test_legacy_completion_uses_legacy_prompt_and_stop(server):
    server.responder = lambda body: "唐朝的李白穿越到了今天。\n###\n下一个故事"
    chunks, err = collect(legacy())
    assert err is None and "".join(chunks) == "唐朝的李白穿越到了今天。"
    body = server.requests[-1].json
    assert body["prompt"] == "唐,隐形,轻松 ->\n" and body["stop"] == [LEGACY_STOP]
    assert server.requests[-1].path == "/v1/completions"


def test_429_then_success_retries_before_first_chunk(server):
    server.fail(429, times=2)
    server.fail(500)
    chunks, err = collect(chat())
    assert err is None and chunks
    assert len(server.requests_to("/v1/chat/completions")) == 4


def test_connection_dropped_before_response_is_retried(server):
    server.fail(close=True, times=2)
    chunks, err = collect(legacy())
    assert err is None and chunks and len(server.requests) == 3


def test_retries_give_up_with_a_friendly_error(server):
    server.fail(429, times=10)
    chunks, err = collect(chat())
    assert isinstance(err, QuotaError) and "busy" in str(err)
    assert len(server.requests) == 4  # 1 + max_retries, and the SDK's own retries are off


def test_insufficient_quota_is_not_retried(server):
    server.fail(429, code="insufficient_quota")
    chunks, err = collect(chat())
    assert isinstance(err, QuotaError) and "credit" in str(err) and len(server.requests) == 1


def test_bad_key_401_is_friendly_and_secret_free(server, caplog, capsys):
    server.api_key = "sk-the-right-one"
    with caplog.at_level(logging.DEBUG):
        chunks, err = collect(chat())
    assert isinstance(err, AuthError) and chunks == []
    assert "OPENAI_API_KEY" in str(err)
    assert KEY not in str(err) and KEY not in repr(err) and KEY not in caplog.text
    assert KEY not in "".join(capsys.readouterr())
    assert err.__cause__ is None and err.__suppress_context__  # no SDK error (with the key) chained
    assert len(server.requests) == 1


def test_missing_key_says_how_to_fix(settings_env, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    get_settings.cache_clear()
    with pytest.raises(AuthError) as err:
        list(chat().stream(Prompt.for_story(REQ)))
    assert "OPENAI_API_KEY" in str(err.value)


def test_keyless_local_server_gets_a_dummy_key(server, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.delenv("OPENAI_API_KEY")
    get_settings.cache_clear()
    server.api_key = None
    chunks, err = collect(chat("openai:llama3.1"))
    assert err is None and chunks
    assert server.requests[-1].headers["authorization"] == "Bearer sk-no-key-required"


def test_stream_cut_midway_keeps_partial_text(server):
    server.queue("abcdefghijklmnopqrstuvwxyz")
    server.fail(cut_after=4)  # role chunk + 3 text chunks
    chunks, err = collect(chat())
    assert "".join(chunks) == "abcdefghi"
    assert isinstance(err, ServiceError) and "cut off" in str(err) and "kept" in str(err)
    assert len(server.requests) == 1  # never retried after text arrived


def test_legacy_stream_cut_midway(server):
    server.queue("abcdefghijkl")
    server.fail(cut_after=2)
    chunks, err = collect(legacy())
    assert "".join(chunks) == "abcdef" and isinstance(err, ServiceError)


def test_unknown_model_404(server):
    server.strict_models = True
    chunks, err = collect(chat("gpt-nope"))
    assert isinstance(err, ModelNotFoundError) and "gpt-nope" in str(err) and "storyteller models" in str(err)
    assert len(server.requests) == 1


def test_unreachable_server_is_friendly(settings_env, monkeypatch):
    import socket

    from storyteller.config import get_settings

    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:pw@127.0.0.1:{port}/v1")
    monkeypatch.setenv("STORYTELLER_OPENAI__MAX_RETRIES", "1")
    get_settings.cache_clear()
    chunks, err = collect(chat())
    assert isinstance(err, ServiceError) and f"127.0.0.1:{port}" in str(err) and "pw" not in str(err)


def test_cancel_stops_reading(server):
    server.queue("x" * 300)
    server.chunk_delay_s = 0.01
    cancel = threading.Event()
    got = []
    for chunk in chat().stream(Prompt.for_story(REQ), cancel):
        got.append(chunk)
        if len(got) == 2:
            cancel.set()
    assert len(got) == 2


def test_stop_during_retry_backoff_ends_quietly(server):
    from tenacity import wait_fixed

    server.fail(429, times=10)
    engine = chat()
    engine.wait = wait_fixed(30)  # would sleep long; Stop must cut the wait short
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    assert list(engine.stream(Prompt.for_story(REQ), cancel)) == []
    assert len(server.requests) == 1

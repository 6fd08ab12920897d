"""The loopback fake OpenAI server speaks the protocol the real SDK expects, faults included."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply


def client(fake: FakeOpenAI, key: str = "sk-test") -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key=key, max_retries=0, timeout=10)


def test_chat_stream_and_non_stream(fake_openai):
    fake_openai.queue("从前有一位英雄。", "Once upon a time.")
    c = client(fake_openai)
    chunks = [ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True) if ch.choices]
    assert "".join(chunks) == "从前有一位英雄。"
    assert len([c for c in chunks if c]) == 3  # 3 characters a chunk
    full = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert full.choices[0].message.content == "Once upon a time."
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    assert fake_openai.requests_to("/v1/chat/completions")[0].json["stream"] is True


def test_completion_stream_honours_stop_and_usage_chunk(fake_openai):
    fake_openai.responder = lambda body: body["prompt"] + "故事\n###不要"
    c = client(fake_openai)
    stream = c.completions.create(model="babbage-002", prompt="唐,隐形,轻松 ->\n", stop="\n###", stream=True,
                                  stream_options={"include_usage": True})
    events = list(stream)
    assert "".join(e.choices[0].text for e in events if e.choices) == "唐,隐形,轻松 ->\n故事"
    assert events[-1].usage is not None and events[-1].choices == []


def test_models_list_and_strict_404(fake_openai):
    c = client(fake_openai)
    ids = [m.id for m in c.models.list()]
    assert "ft:babbage-002:acme::def456" in ids
    fake_openai.strict_models = True
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_faults_then_success(fake_openai):
    fake_openai.fail(429, times=2)
    fake_openai.fail(429, code="insufficient_quota")
    c = client(fake_openai)
    msgs = [{"role": "user", "content": "x"}]
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as e:
            c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
        assert e.value.code is None
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    assert e.value.code == "insufficient_quota"
    assert c.chat.completions.create(model="gpt-4o-mini", messages=msgs).choices[0].message.content
    assert len(fake_openai.requests) == 4


def test_api_key_check_and_server_error(fake_openai):
    fake_openai.api_key = "sk-right"
    with pytest.raises(openai.AuthenticationError):
        client(fake_openai, "sk-wrong").models.list()
    fake_openai.fail(500, path="/v1/models")
    with pytest.raises(openai.InternalServerError):
        client(fake_openai, "sk-right").models.list()
    assert client(fake_openai, "sk-right").models.list().data


def test_cut_stream_and_closed_socket(fake_openai):
    fake_openai.queue("abcdefghijklmnop")
    fake_openai.fail(cut_after=3)
    got = []
    with pytest.raises(openai.APIConnectionError):
        for ch in client(fake_openai).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True):
            got.append(ch.choices[0].delta.content or "")
    assert "".join(got) == "abcdef"  # role chunk + 2 text chunks arrived before the cut
    fake_openai.fail(close=True)
    with pytest.raises(openai.APIConnectionError):
        client(fake_openai).models.list()


def test_added_route_with_params_and_multipart(fake_openai):
    jobs = {"ftjob-1": {"id": "ftjob-1", "status": "running"}}
    fake_openai.route("GET", "/v1/fine_tuning/jobs/{job_id}", lambda req: jobs[req.params["job_id"]])
    fake_openai.route("POST", "/v1/files", lambda req: Reply(200, json={
        "id": "file-1", "bytes": len(req.multipart()["file"].data), "purpose": req.multipart()["purpose"].text}))
    r = httpx.get(fake_openai.base_url + "/fine_tuning/jobs/ftjob-1")
    assert r.json()["status"] == "running"
    r = httpx.post(fake_openai.base_url + "/files", files={"file": ("a.jsonl", b"{}\n")},
                   data={"purpose": "fine-tune"})
    assert r.json() == {"id": "file-1", "bytes": 3, "purpose": "fine-tune"}

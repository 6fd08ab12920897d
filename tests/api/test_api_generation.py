"""Chat and legacy completions through the real `openai` SDK (sync and async, streamed and whole),
against the API on loopback, over a tiny random-weight storyteller model. Nothing here depends on
what random weights say: only on shapes, counts, and the same seed giving the same text."""

from __future__ import annotations

import json

import openai
import pytest

from storyteller.api.stream import Generation
from storyteller.errors import ServiceError
from tests.api.conftest import checked_client
from tests.fakes.scripted_engine import ScriptedEngine

ASK = [{"role": "user", "content": "唐,隐形,轻松"}]


def sse_chunks(raw, spec, path: str, body: dict, schema: str) -> list[dict]:
    """The stream's data events, each checked against `schema`; asserts it ends with [DONE]."""
    with raw.stream("POST", path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    for c in chunks:
        spec.schema(schema).validate(c)
    return chunks


def test_models_lists_the_local_model_and_refuses_unknown_ids(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["tiny"]
    m = client.models.retrieve("tiny")
    assert (m.id, m.object, m.owned_by) == ("tiny", "model", "storyteller") and m.created > 0
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("gpt-4o-mini")
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):  # a path is never a model here
        client.chat.completions.create(model="../models/tiny", messages=ASK)


def test_chat_whole_and_streamed_give_the_same_story_for_a_seed(client):
    whole = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=24, seed=7)
    assert whole.object == "chat.completion" and whole.model == "tiny"
    choice = whole.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"  # random weights never write the end token (see tiny_model)
    u = whole.usage
    assert u.completion_tokens == 24 and u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + 24

    stream = client.chat.completions.create(model="tiny", messages=ASK, max_completion_tokens=24, seed=7,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump() == u.model_dump()
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(raw, spec):
    chunks = sse_chunks(raw, spec, "/chat/completions", {"model": "tiny", "messages": ASK, "max_tokens": 5,
                                                          "stream": True}, "CreateChatCompletionStreamResponse")
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[-1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_legacy_prompt_on_completions_streamed_with_usage(client, raw, spec):
    whole = client.completions.create(model="tiny", prompt="唐,隐形,轻松 ->\n", max_tokens=12, seed=3)
    assert whole.object == "text_completion" and whole.choices[0].text
    assert whole.usage.completion_tokens == 12 and whole.choices[0].finish_reason == "length"
    body = {"model": "tiny", "prompt": "唐,隐形,轻松 ->\n", "max_tokens": 12, "seed": 3, "stream": True,
            "stream_options": {"include_usage": True}}
    with raw.stream("POST", "/completions", json=body) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    for c in events:  # OpenAI streams finish_reason null mid-stream; the spec's schema allows only strings
        spec.schema("CreateCompletionResponse").validate(
            c | {"choices": [ch | {"finish_reason": ch["finish_reason"] or "stop"} for ch in c["choices"]]})
    assert "".join(ch["text"] for c in events for ch in c["choices"]) == whole.choices[0].text
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 12


def test_stop_sequence_ends_the_text_before_it(client):
    first = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=40, seed=11)
    text = first.choices[0].message.content
    stop = text[10:12]
    cut = text[: text.index(stop)]
    again = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=40, seed=11, stop=[stop, "@@"])
    assert again.choices[0].message.content == cut and again.choices[0].finish_reason == "stop"


@pytest.mark.anyio
async def test_async_client_streams_and_answers(aclient):
    whole = await aclient.chat.completions.create(model="tiny", messages=ASK, max_tokens=10, seed=5)
    stream = await aclient.chat.completions.create(model="tiny", messages=ASK, max_tokens=10, seed=5, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == whole.choices[0].message.content and whole.usage.completion_tokens == 10
    legacy = await aclient.completions.create(model="tiny", prompt="宋,飞行,温馨 ->", max_tokens=6, seed=1)
    assert legacy.usage.completion_tokens == 6


def test_refusals_are_openai_shaped(client, raw, spec):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=ASK, n=2)
    assert e.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError) as e:  # a storyteller model needs dynasty, power and style
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hello"}])
    assert "唐,隐形,轻松" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="唐,隐形,轻松 ->", logprobs=2)
    assert e.value.body["param"] == "logprobs"
    for resp, param in [
        (raw.post("/chat/completions", content=b"model=tiny", headers={"content-type": "text/plain"}), None),
        (raw.post("/chat/completions", content=b'{"model": "tiny", "messages": [', headers={"content-type":
                                                                                           "application/json"}), None),
        (raw.post("/chat/completions", json={"model": "tiny", "messages": ASK, "temperature": 9}), "temperature"),
        (raw.post("/chat/completions", json={"model": "tiny"}), "messages"),
        (raw.post("/completions", json={"model": "tiny", "prompt": [1, 2, 3]}), "prompt"),
    ]:
        assert resp.status_code == 400, resp.text
        spec.check_error(resp.json())
        assert resp.json()["error"]["param"] == param
    for method, path in (("GET", "/nothing"), ("GET", "/chat"), ("DELETE", "/models"), ("POST", "")):
        r = raw.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["message"].startswith("Invalid URL"), r.text
        spec.check_error(r.json())
    assert spec.checked > 0


def test_busy_server_answers_429_with_retry_after(api_env, spec, monkeypatch):
    import socket
    import time

    from storyteller.config import get_settings
    from tests.api.conftest import Server

    monkeypatch.setenv("STORYTELLER_API__MAX_CONCURRENT", "1")
    monkeypatch.setenv("STORYTELLER_API__MAX_QUEUE", "0")
    monkeypatch.setenv("STORYTELLER_API__RETRY_AFTER_S", "3")
    get_settings.cache_clear()
    with Server() as server, checked_client(server, spec) as client:
        # A request whose body has not arrived yet holds the one slot for as long as we like.
        hold = socket.create_connection(("127.0.0.1", server.port))
        hold.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        deadline = time.monotonic() + 10
        while True:
            try:
                client.chat.completions.create(model="tiny", messages=ASK, max_tokens=2)
            except openai.RateLimitError as e:
                assert e.response.headers["retry-after"] == "3" and e.body["code"] == "rate_limit_exceeded"
                break
            assert time.monotonic() < deadline, "the held request never took the slot"
            time.sleep(0.05)
        assert client.models.list().data  # only generation is gated
        hold.close()  # the held request ends: its slot comes back
        while True:
            try:
                assert client.chat.completions.create(model="tiny", messages=ASK, max_tokens=2).choices
                break
            except openai.RateLimitError:
                assert time.monotonic() < deadline + 10, "the slot never came back"
                time.sleep(0.05)


class _Loaded:
    """What `Generation` reads of a loaded model: its tokenizer and context size."""

    def __init__(self, tokenizer):
        self.tokenizer, self.max_positions, self.storyteller = tokenizer, 10_000, False


class _Scripted(ScriptedEngine):
    def build_input(self, loaded, prompt):
        return prompt.text or "", None


def test_output_guard_stops_before_blocked_words_reach_the_client(api_env):
    pytest.importorskip("storyteller.safety")
    from transformers import AutoTokenizer

    from storyteller.engines.base import GenerationParams, Prompt

    tok = AutoTokenizer.from_pretrained(api_env / "models" / "tiny")
    engine = _Scripted("The hero smiled. Then he wanted to kill the monster. The end.", chunk=3)
    gen = Generation(engine, _Loaded(tok), Prompt(messages=[], text="x", params=GenerationParams()), None, "en")
    sent = "".join(gen.chunks())
    assert gen.finish_reason == "content_filter"
    assert sent.startswith("The hero smiled.") and "kill" not in sent
    clean = Generation(_Scripted("The hero smiled and they all had tea.", chunk=2), _Loaded(tok),
                       Prompt(messages=[], text="x", params=GenerationParams()), None, "en")
    assert "".join(clean.chunks()) == "The hero smiled and they all had tea." and clean.finish_reason == "stop"


def test_pieces_within_the_stream_interval_go_out_together_and_a_blocked_group_is_withheld_whole(api_env):
    """The first piece goes at once; with an interval longer than the story, the rest is held,
    counted and checked as one group: sent whole when clean, withheld whole (earlier clean pieces
    included) when it holds a blocked term. Usage counts what was sent; max_tokens still cuts inside
    a group."""
    pytest.importorskip("storyteller.safety")
    from transformers import AutoTokenizer

    from storyteller.engines.base import GenerationParams, Prompt

    tok = AutoTokenizer.from_pretrained(api_env / "models" / "tiny")

    def gen(text, interval):
        return Generation(_Scripted(text, chunk=3), _Loaded(tok), Prompt(messages=[], text="x",
                                                                         params=GenerationParams()), None, "en", interval)

    clean = gen("The hero smiled and they all had tea.", 3600)
    assert list(clean.chunks()) == ["The", " hero smiled and they all had tea."]
    assert clean.finish_reason == "stop"
    assert clean.completion_tokens == clean.count("The") + clean.count(" hero smiled and they all had tea.")
    blocked = gen("The hero smiled. Then he wanted to kill the monster. The end.", 3600)
    assert list(blocked.chunks()) == ["The"] and blocked.finish_reason == "content_filter"
    assert blocked.completion_tokens == blocked.count("The")
    every = gen("The hero smiled and they all had tea.", 0)
    assert len(list(every.chunks())) == 13  # no interval: each piece as it comes
    capped = Generation(_Scripted("The hero smiled and they all had tea.", chunk=3), _Loaded(tok),
                        Prompt(messages=[], text="x", params=GenerationParams()), 10, "en", 3600)
    assert "".join(capped.chunks()) == "The hero s" and capped.finish_reason == "length"
    assert capped.completion_tokens == 10  # the tiny test tokenizer: one token per character


class _Counting(_Scripted):
    """Counts the pieces the generation has read from it."""

    read = 0

    def stream(self, prompt, cancel=None):
        for piece in super().stream(prompt, cancel):
            self.read += 1
            yield piece


def test_a_group_that_reaches_max_tokens_goes_at_once_without_waiting_for_the_interval(api_env):
    """With an interval longer than the story, the pieces that reach max_tokens are sent as soon as
    they are written: the engine is not read on (its tokens would be cut away) and the client does
    not wait for the interval or the story's end."""
    from transformers import AutoTokenizer

    from storyteller.engines.base import GenerationParams, Prompt

    tok = AutoTokenizer.from_pretrained(api_env / "models" / "tiny")
    engine = _Counting("The hero smiled and they all had tea. Then they went home and slept.", chunk=3)
    gen = Generation(engine, _Loaded(tok), Prompt(messages=[], text="x", params=GenerationParams()), 10, "en", 3600)
    assert list(gen.chunks()) == ["The", " hero s"] and gen.finish_reason == "length"
    assert engine.read == 4  # "The", " he", "ro ", "smi": the fourth piece reaches ten tokens
    assert gen.completion_tokens == 10


class _Failing(_Scripted):
    """Writes its script, then fails as an engine whose upstream broke."""

    def stream(self, prompt, cancel=None):
        yield from super().stream(prompt, cancel)
        raise ServiceError("the model stopped")


def test_text_held_in_a_group_reaches_the_client_before_the_engine_s_error(api_env):
    from transformers import AutoTokenizer

    from storyteller.engines.base import GenerationParams, Prompt

    tok = AutoTokenizer.from_pretrained(api_env / "models" / "tiny")
    gen = Generation(_Failing("Once upon a time.", chunk=5), _Loaded(tok),
                     Prompt(messages=[], text="x", params=GenerationParams()), None, "en", 3600)
    sent = []
    with pytest.raises(ServiceError):
        for piece in gen.chunks():
            sent.append(piece)
    assert sent == ["Once ", "upon a time."] and gen.completion_tokens == gen.count("Once upon a time.")


def test_the_stream_interval_setting_groups_the_http_stream(raw, spec, monkeypatch):
    """settings.api.stream_interval_ms reaches the stream: 0 sends each token as an event; a
    ten-second interval (longer than the 30 tokens take) sends the first piece, then the rest as one event."""
    from storyteller.config import get_settings

    body = {"model": "tiny", "messages": ASK, "max_tokens": 30, "seed": 3, "stream": True}
    texts = {}
    for ms in ("0", "10000"):
        monkeypatch.setenv("STORYTELLER_API__STREAM_INTERVAL_MS", ms)
        get_settings.cache_clear()
        chunks = sse_chunks(raw, spec, "/chat/completions", body, "CreateChatCompletionStreamResponse")
        texts[ms] = [c["choices"][0]["delta"]["content"] for c in chunks
                     if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert "".join(texts["0"]) == "".join(texts["10000"])  # the same seed, the same story
    assert len(texts["0"]) > 2 and len(texts["10000"]) == 2


def test_plain_models_get_the_raw_prompt_and_chat_models_their_template(api_env, client):
    from tests.fakes.tiny_model import build_tiny_model

    build_tiny_model(api_env / "models" / "plain")
    build_tiny_model(api_env / "models" / "chatty", chat_template=True)
    assert {"plain", "chatty"} <= {m.id for m in client.models.list()}
    out = client.completions.create(model="plain", prompt="Once upon a time", max_tokens=5, echo=True, seed=2)
    assert out.choices[0].text.startswith("Once upon a time") and len(out.choices[0].text) > len("Once upon a time")
    assert out.usage.prompt_tokens == len("Once upon a time")  # one token per character, nothing added
    chat = client.chat.completions.create(model="chatty", messages=[{"role": "user", "content": "hello"}],
                                          max_tokens=5, seed=2)
    assert chat.usage.prompt_tokens == len("[user] hello\n[assistant] ") and chat.usage.completion_tokens == 5


def test_moderations_are_answered_by_the_safety_policy(client):
    pytest.importorskip("storyteller.safety")
    res = client.moderations.create(input=["今天大家一起打败了怪兽，变成了好朋友。", "他拿刀杀了人。"])
    assert res.model == "storyteller-safety"
    assert [r.flagged for r in res.results] == [False, True]
    assert res.results[1].categories.violence and not res.results[0].categories.violence
    assert res.results[1].category_scores.violence == 1.0
    assert client.moderations.create(input="The hero wanted to kill the monster.").results[0].flagged
    with pytest.raises(openai.BadRequestError):
        client.moderations.create(input=[])


def test_the_stream_sends_only_what_passed_the_check_and_counts_what_it_sent(api_env):
    """Through `in_thread` (what the HTTP stream reads): the same text as `chunks()` (pieces that
    queued up may go out as one), nothing from the blocked piece on, and usage counts what was sent."""
    import asyncio

    from transformers import AutoTokenizer

    from storyteller.api.stream import in_thread
    from storyteller.engines.base import GenerationParams, Prompt

    tok = AutoTokenizer.from_pretrained(api_env / "models" / "tiny")

    def gen(text):
        return Generation(_Scripted(text, chunk=3), _Loaded(tok), Prompt(messages=[], text="x",
                                                                         params=GenerationParams()), None, "en")

    async def read(g):
        return [t async for t in in_thread(g)]

    def tokens(g, text):  # the engine's pieces are 3 characters: usage counts each piece sent
        return sum(g.count(text[i:i + 3]) for i in range(0, len(text), 3))

    blocked = gen("The hero smiled. Then he wanted to kill the monster. The end.")
    sent = "".join(asyncio.run(read(blocked)))
    assert blocked.finish_reason == "content_filter" and sent.startswith("The hero smiled.") and "kill" not in sent
    assert len(sent) % 3 == 0 and blocked.completion_tokens == tokens(blocked, sent)
    clean = gen("The hero smiled and they all had tea.")
    assert "".join(asyncio.run(read(clean))) == "The hero smiled and they all had tea."
    assert clean.finish_reason == "stop" and clean.completion_tokens == tokens(clean, "The hero smiled and they all had tea.")

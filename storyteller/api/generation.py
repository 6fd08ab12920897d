"""POST /v1/chat/completions and /v1/completions over the project's engines, streamed (SSE, with
`stream_options.include_usage` -> a last chunk carrying usage, then `data: [DONE]`) or whole.

Sampling defaults are the engine's own (the studio's tuned temperature and top_p) when a request
leaves them out. n must be 1. Usage is counted with the model's tokenizer.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from storyteller.api import asking
from storyteller.api.auth import caller
from storyteller.api.body import read_json
from storyteller.api.errors import APIError, from_core
from storyteller.api.models import resolve
from storyteller.api.stream import Generation, in_thread
from storyteller.config import get_settings
from storyteller.engines.base import TEMPERATURE, TOP_P, GenerationParams
from storyteller.engines.registry import get_engine
from storyteller.errors import StorytellerError

log = logging.getLogger(__name__)
router = APIRouter()
MAX_NEW = 4096  # what engines accept at most


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool | None = False


class Sampling(BaseModel):
    """What both endpoints share; other OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(..., min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(None, ge=1, le=128)
    stream: bool | None = False
    stream_options: StreamOptions | None = None

    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise APIError(400, "stop: at most 4 sequences.", param="stop")
        return [s for s in stops if s]

    def check(self) -> None:
        if (self.n or 1) != 1:
            raise APIError(400, f"n={self.n}: this server returns one choice per request (n=1); send the request "
                                f"{self.n} times with different seeds instead.", param="n")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Any] | None = None


class ChatRequest(Sampling):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    tools: list[Any] | None = None


class CompletionRequest(Sampling):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(16, ge=1)
    echo: bool | None = False
    logprobs: int | None = None
    best_of: int | None = Field(None, ge=1)
    suffix: str | None = None


def params_for(req: Sampling, budget: int | None) -> GenerationParams:
    top_p = TOP_P if req.top_p is None else max(req.top_p, 1e-6)
    seed = None if req.seed is None else req.seed % 2**63
    room = min(MAX_NEW, budget + 8) if budget else GenerationParams().max_new_tokens
    temperature = TEMPERATURE if req.temperature is None else req.temperature
    return GenerationParams(max_new_tokens=room, temperature=temperature, top_p=top_p, seed=seed, stop=req.stops())


async def start(model: str, make_prompt, budget: int | None, owner: str | None = None) -> Generation:
    """Load the model (so a load failure is an HTTP error, not a broken stream) and set up the run."""
    source = resolve(model, owner)

    def setup() -> Generation:
        engine = get_engine(source)
        loaded = engine.load()
        prompt = make_prompt(loaded.storyteller)
        lang = prompt.request.lang if prompt.request else asking.guess_lang(
            prompt.text or " ".join(m["content"] for m in prompt.messages))
        interval = get_settings().api.stream_interval_ms / 1000
        return Generation(engine, loaded, prompt, budget, lang, interval)

    try:
        return await run_in_threadpool(setup)
    except StorytellerError as e:
        raise from_core(e) from None


def _sse(obj: dict | str) -> str:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)}\n\n"


async def _events(gen: Generation, head: dict, piece, final, include_usage: bool) -> AsyncIterator[str]:
    """SSE: one event per chunk, the finishing chunk, the usage chunk if asked, then [DONE]. Chat
    chunks carry "usage": null until then, as OpenAI's do (the spec's completion chunk has no null)."""
    extra = {"usage": None} if include_usage and head["object"] == "chat.completion.chunk" else {}
    first = piece(None)
    if first is not None:
        yield _sse(head | {"choices": [first]} | extra)
    try:
        async for text in in_thread(gen):
            yield _sse(head | {"choices": [piece(text)]} | extra)
    except StorytellerError as e:  # the headers are sent: the error goes in the stream, as OpenAI's do
        yield _sse(from_core(e).body())
        return
    except Exception as e:  # noqa: BLE001 - a bug must still end the stream with an error the SDK raises
        log.exception("generation failed mid-stream")
        yield _sse(APIError(500, f"The model stopped with an error ({type(e).__name__}).").body())
        return
    yield _sse(head | {"choices": [final(gen.finish_reason)]} | extra)
    if include_usage:
        yield _sse(head | {"choices": [], "usage": gen.usage()})
    yield _sse("[DONE]")


def _stream(gen: Generation, head: dict, piece, final, req: Sampling) -> StreamingResponse:
    include = bool(req.stream_options and req.stream_options.include_usage)
    return StreamingResponse(_events(gen, head, piece, final, include), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _whole(gen: Generation) -> str:
    try:
        return "".join([t async for t in in_thread(gen)])
    except StorytellerError as e:
        raise from_core(e) from None


@router.post("/chat/completions")
async def chat_completions(request: Request):
    req = await read_json(request, ChatRequest)
    req.check()
    if req.logprobs:
        raise APIError(400, "logprobs are not available from this server.", param="logprobs")
    if req.tools:
        raise APIError(400, "Tools (function calling) are not available: these models tell stories.", param="tools")
    messages = [{"role": m.role, "content": asking.message_text(m.content, i)} for i, m in enumerate(req.messages)]
    budget = req.max_completion_tokens or req.max_tokens
    params = params_for(req, budget)
    gen = await start(req.model, lambda st: asking.chat_prompt(messages, st, params), budget, caller(request))
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": req.model}
    if req.stream:
        return _stream(gen, head | {"object": "chat.completion.chunk"},
                       lambda t: {"index": 0, "delta": {"role": "assistant", "content": ""} if t is None
                                  else {"content": t}, "logprobs": None, "finish_reason": None},
                       lambda fr: {"index": 0, "delta": {}, "logprobs": None, "finish_reason": fr}, req)
    text = await _whole(gen)
    message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    return head | {"object": "chat.completion", "usage": gen.usage(),
                   "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": gen.finish_reason}]}


def _prompt_text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if prompt and all(isinstance(p, str) for p in prompt):
        raise APIError(400, "Send one prompt per request (a list of several prompts is not batched here).",
                       param="prompt")
    raise APIError(400, "Send the prompt as text; token-id prompts are not understood here.", param="prompt")


@router.post("/completions")
async def completions(request: Request):
    req = await read_json(request, CompletionRequest)
    req.check()
    if req.logprobs is not None:
        raise APIError(400, "logprobs are not available from this server.", param="logprobs")
    if (req.best_of or 1) != 1:
        raise APIError(400, "best_of must be 1 here.", param="best_of")
    if req.suffix:
        raise APIError(400, "suffix (insertion) is not available from this server.", param="suffix")
    text = _prompt_text(req.prompt)
    params = params_for(req, req.max_tokens)
    gen = await start(req.model, lambda st: asking.completion_prompt(text, st, params), req.max_tokens,
                      caller(request))
    head = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": req.model}
    echo = text if req.echo else ""
    if req.stream:
        return _stream(gen, head | {"object": "text_completion"},
                       lambda t: ({"index": 0, "text": echo, "logprobs": None, "finish_reason": None} if echo else None)
                       if t is None else {"index": 0, "text": t, "logprobs": None, "finish_reason": None},
                       lambda fr: {"index": 0, "text": "", "logprobs": None, "finish_reason": fr}, req)
    out = await _whole(gen)
    return head | {"object": "text_completion", "usage": gen.usage(),
                   "choices": [{"index": 0, "text": echo + out, "logprobs": None, "finish_reason": gen.finish_reason}]}

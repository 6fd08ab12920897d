"""The one interface every model speaks: `Engine.stream(prompt, cancel)` yields text chunks.

The engine knows nothing about the UI. A local model differs from OpenAI only in the body of
`stream` and in `needs_key`. `Response` wraps a stream lazily: iterate it to stream, it keeps
the chunks, and timing (time to first token, tokens/s) hangs off it.

Continuing a story (after the safety guard blocked a sentence) is no second method: the same
`stream` gets a `Prompt` whose `prefix` is the story so far and whose `params.banned` lists the
words to avoid; engines that honour both say so with `can_continue`.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from storyteller.prompts import StoryRequest, build_messages


# How stories are sampled unless the user says otherwise. 0.6 / 0.9 renamed monsters less often by a
# count of names, but a blind reading did not find the stories better (read tonight 0/30 against 2/30
# at 0.8 / 0.95), so the reading decides: 0.8 / 0.95.
TEMPERATURE, TOP_P = 0.8, 0.95


class GenerationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int = Field(700, ge=1, le=4096)
    temperature: float = Field(TEMPERATURE, ge=0.0, le=2.0)
    top_p: float = Field(TOP_P, gt=0.0, le=1.0)
    seed: int | None = None
    cast_seed: int | None = Field(None, description="Picks the telling's cast (monster, place, child) and first "
                                  "paragraph, else `seed` does: two tellings with one cast_seed and two seeds tell "
                                  "one setup two ways, a fair pair to pick from (and one prompt to train on).")
    stop: list[str] = Field(default_factory=list)
    banned: list[str] = Field(default_factory=list, description="Words the model must not write (a blocked "
                              "sentence's terms, when its continuation is sampled again).")


class Prompt(BaseModel):
    """What an engine is asked. `request` lets structured models (the embedded model, legacy
    completion fine-tunes) build their own prompt; chat models use `messages`."""

    messages: list[dict[str, str]]
    request: StoryRequest | None = None
    params: GenerationParams = Field(default_factory=GenerationParams)
    prefix: str = Field("", description="The story told so far: an engine that `can_continue` writes what comes "
                        "after it (and yields only that); used to replace a blocked sentence.")
    text: str | None = Field(None, description="A raw completion prompt (the API's /v1/completions), given as is "
                             "to a model without `request`; engines that cannot take raw text use `messages`.")

    _drawn_seed: int = PrivateAttr(default_factory=lambda: random.randrange(2**31))
    _model_text: str | None = PrivateAttr(default=None)

    @property
    def model_text(self) -> str | None:
        """The story as the model wrote it, when the engine shows the reader something else (the
        embedded model's slot tokens, after the story so far as the model was given it); set once the
        story has ended. Learning from what the family picked trains on this: the model's own words."""
        return self._model_text

    def record_model_text(self, text: str) -> None:
        self._model_text = text

    def telling_seed(self) -> int:
        """The seed of this telling's cast: the params' cast_seed or seed, else one drawn when the prompt
        was made, so every part of one telling (the header, the slot filler) picks the same cast."""
        for seed in (self.params.cast_seed, self.params.seed):
            if seed is not None:
                return seed
        return self._drawn_seed

    @classmethod
    def for_story(cls, req: StoryRequest, **params) -> "Prompt":
        return cls(messages=build_messages(req), request=req, params=GenerationParams(**params))


class Engine(ABC):
    """A model that tells stories. Subclasses implement `stream` and nothing else is required."""

    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    can_stream: ClassVar[bool] = True
    can_continue: ClassVar[bool] = False  # honours `Prompt.prefix` and `GenerationParams.banned`

    def __init__(self, model_id: str):
        self.model_id = model_id

    @abstractmethod
    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield text chunks as they are generated; stop promptly once `cancel` is set.

        Raise a `StorytellerError` subclass with a friendly message on failure; text already
        yielded belongs to the caller and is kept.
        """

    def prompt(self, prompt: Prompt, cancel: threading.Event | None = None) -> "Response":
        return Response(self, prompt, cancel)


class Response:
    """A lazy, replayable stream with timing. Iterate to generate; iterate again to replay."""

    def __init__(self, engine: Engine, prompt: Prompt, cancel: threading.Event | None = None):
        self.engine = engine
        self.prompt = prompt
        self.cancel = cancel or threading.Event()
        self.chunks: list[str] = []
        self.done = False
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.finished_at: float | None = None

    def __iter__(self) -> Iterator[str]:
        if self.done:
            yield from self.chunks
            return
        self.started_at = time.perf_counter()
        try:
            for chunk in self.engine.stream(self.prompt, self.cancel):
                if not chunk:
                    continue
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter()
                self.chunks.append(chunk)
                yield chunk
        finally:
            self.finished_at = time.perf_counter()
            self.done = True

    def text(self) -> str:
        if not self.done:
            for _ in self:
                pass
        return "".join(self.chunks)

    @property
    def ttft_s(self) -> float | None:
        if self.started_at is None or self.first_token_at is None:
            return None
        return self.first_token_at - self.started_at

    @property
    def tokens(self) -> int:
        """Chunks delivered; engines yield about one token per chunk."""
        return len(self.chunks)

    @property
    def tokens_per_s(self) -> float | None:
        if self.first_token_at is None or self.finished_at is None:
            return None
        span = self.finished_at - self.first_token_at
        return (self.tokens - 1) / span if span > 0 and self.tokens > 1 else None

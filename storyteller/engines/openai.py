"""OpenAI and any OpenAI-compatible server (vLLM, Ollama, llama.cpp): chat models and legacy
completion fine-tunes (babbage-002 / davinci-002 and their ft: ids).

One retry policy: the SDK's own retries are off and tenacity retries 429 / 5xx / connection
errors with exponential backoff, but only until the first chunk arrives; after that a broken
stream is reported (the caller keeps the text so far). SDK errors become friendly
`StorytellerError`s. The key is a SecretStr and never appears in logs or messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import openai
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from storyteller.config import OpenAISettings, get_settings
from storyteller.engines.base import Engine, Prompt
from storyteller.engines.ids import fine_tune_base, is_keyless, openai_name
from storyteller.errors import AuthError, ModelNotFoundError, QuotaError, ServiceError, StorytellerError
from storyteller.prompts import LEGACY_SEPARATOR, LEGACY_STOP, continuation_messages

log = logging.getLogger(__name__)
KEYLESS = "sk-no-key-required"  # local OpenAI-compatible servers accept any key
_END = object()


def safe_url(base_url: str | None) -> str:
    if not base_url:
        return "the OpenAI API"
    u = urlsplit(base_url)
    return f"{u.scheme}://{u.hostname}{f':{u.port}' if u.port else ''}{u.path}"  # no user:password@


def make_client(settings: OpenAISettings | None = None) -> openai.OpenAI:
    """An SDK client from settings, SDK retries off. Missing key -> AuthError saying how to fix it."""
    s = settings or get_settings().openai
    base_url, key = s.resolved_base_url(), s.resolved_key()
    if key is None:
        if not is_keyless(base_url):
            raise AuthError("No OpenAI API key is set, so OpenAI models cannot be used.")
        secret = KEYLESS
    else:
        secret = key.get_secret_value()
    return openai.OpenAI(api_key=secret, base_url=base_url, timeout=s.timeout_s, max_retries=0)


def _retryable(e: BaseException) -> bool:
    if isinstance(e, openai.RateLimitError):
        return getattr(e, "code", None) != "insufficient_quota"
    return isinstance(e, (openai.InternalServerError, openai.APIConnectionError)) or (
        isinstance(e, openai.APIStatusError) and e.status_code >= 500
    )


def friendly(e: Exception, name: str, base_url: str | None, secret: str | None = None) -> StorytellerError:
    """An SDK error -> a StorytellerError a parent can act on (server text scrubbed of the key)."""
    where = safe_url(base_url)
    detail = str(getattr(e, "message", "") or e)
    if secret:
        detail = detail.replace(secret, "***")
    if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return AuthError(f"The model server at {where} did not accept the API key.")
    if isinstance(e, openai.NotFoundError):
        return ModelNotFoundError(f"The model '{name}' was not found at {where}.",
                                  hint="Run `storyteller models` to see the models you can use.")
    if isinstance(e, openai.RateLimitError):
        if getattr(e, "code", None) == "insufficient_quota":
            return QuotaError("The OpenAI account has run out of credit (insufficient_quota).",
                              hint="Add credit in the account's billing settings, or choose a local model.")
        return QuotaError("The model server is busy (too many requests) and kept asking us to wait.",
                          hint="Wait a minute and try again, or choose a local model.")
    if isinstance(e, openai.APIConnectionError):
        return ServiceError(f"Could not reach the model server at {where}.",
                            hint="Check the internet connection or the server address, or choose a local model.")
    if isinstance(e, openai.APIStatusError):
        return ServiceError(f"The model server at {where} answered with an error ({e.status_code}).",
                            hint=f"Details: {detail[:300]}")
    return ServiceError(f"Talking to the model server at {where} failed.", hint=f"Details: {detail[:300]}")


class OpenAIChatEngine(Engine):
    """chat.completions with stream=True."""

    needs_key: ClassVar[bool] = True
    key_env_var: ClassVar[str | None] = "OPENAI_API_KEY"
    can_continue: ClassVar[bool] = True  # a chat model is asked for the rest; a completion model extends the text
    wait = wait_exponential_jitter(initial=0.5, max=8.0)  # tests swap in tenacity.wait_none()

    def __init__(self, model_id: str):
        super().__init__(model_id)
        self.name = openai_name(model_id)
        self._client: tuple[tuple, openai.OpenAI] | None = None
        self._lock = threading.Lock()

    def client(self) -> openai.OpenAI:
        """Reused while the settings stay the same (keeps connections warm)."""
        s = get_settings().openai
        key = s.resolved_key()
        ident = (s.resolved_base_url(), key.get_secret_value() if key else None, s.timeout_s)
        with self._lock:
            if self._client is None or self._client[0] != ident:
                self._client = (ident, make_client(s))
            return self._client[1]

    def request(self, prompt: Prompt) -> dict[str, Any]:
        p = prompt.params
        messages = prompt.messages
        if prompt.prefix:
            lang = prompt.request.lang if prompt.request else "en"
            messages = continuation_messages(messages, prompt.prefix, lang, p.banned)
        kw: dict[str, Any] = {"model": self.name, "messages": messages, "stream": True}
        if self.name.startswith(("o1", "o3", "o4")):  # reasoning models take no sampling knobs
            kw["max_completion_tokens"] = p.max_new_tokens
        else:
            kw.update(max_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p)
        if p.seed is not None:
            kw["seed"] = p.seed
        if p.stop:
            kw["stop"] = p.stop[:4]
        return kw

    def open(self, client: openai.OpenAI, prompt: Prompt):
        return client.chat.completions.create(**self.request(prompt))

    @staticmethod
    def piece(chunk: Any) -> tuple[str, str | None]:
        """(text, finish_reason) of one streamed chunk."""
        if not chunk.choices:
            return "", None
        c = chunk.choices[0]
        return (c.delta.content or "") if c.delta else "", c.finish_reason

    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        cancel = cancel or threading.Event()
        client = self.client()
        s = get_settings().openai
        secret = client.api_key

        def first() -> tuple[Any, Iterator, str | None, Any]:
            """Open the stream and read up to the first text, so failures so far can be retried."""
            if cancel.is_set():  # Stop pressed during a backoff wait
                return None, iter(()), None, _END
            resp = self.open(client, prompt)
            it = iter(resp)
            for chunk in it:
                text, finish = self.piece(chunk)
                if text or finish:
                    return resp, it, text, finish
                if cancel.is_set():
                    break
            return resp, it, None, _END

        retrying = Retrying(stop=stop_after_attempt(max(1, s.max_retries + 1)), wait=self.wait,
                            retry=retry_if_exception(lambda e: _retryable(e) and not cancel.is_set()),
                            sleep=lambda t: cancel.wait(t),
                            before_sleep=lambda rs: log.info("retrying %s after %s (attempt %d)", self.name,
                                                             type(rs.outcome.exception()).__name__,
                                                             rs.attempt_number),
                            reraise=True)
        try:
            resp, it, text, finish = retrying(first)
        except RetryError as e:  # only if reraise is ignored; kept for safety
            raise friendly(e.last_attempt.exception(), self.name, s.resolved_base_url(), secret) from None
        except openai.OpenAIError as e:
            if cancel.is_set():  # the user pressed Stop while we waited to retry
                return
            raise friendly(e, self.name, s.resolved_base_url(), secret) from None
        if finish is _END:
            if resp is not None:
                resp.close()
            if cancel.is_set():
                return
            raise _cut_off()
        try:
            if text:
                yield text
            while finish is None:
                if cancel.is_set():
                    return
                chunk = next(it, _END)
                if chunk is _END:
                    raise _cut_off()  # ended without a finish_reason
                text, finish = self.piece(chunk)
                if text:
                    yield text
        except openai.APIConnectionError:
            raise _cut_off() from None
        except openai.OpenAIError as e:
            raise friendly(e, self.name, s.resolved_base_url(), secret) from None
        finally:
            resp.close()


class OpenAICompletionEngine(OpenAIChatEngine):
    """Legacy completions for babbage-002 / davinci-002 fine-tunes trained on "唐,隐形,轻松 ->\\n"."""

    def request(self, prompt: Prompt) -> dict[str, Any]:
        p = prompt.params
        if prompt.request is not None:
            text = prompt.request.legacy_prompt()
        else:
            text = prompt.messages[-1]["content"].strip() + LEGACY_SEPARATOR
        text += prompt.prefix  # a continued story: the model extends the text so far
        kw: dict[str, Any] = {"model": self.name, "prompt": text, "stream": True, "max_tokens": p.max_new_tokens,
                              "temperature": p.temperature, "top_p": p.top_p, "stop": [LEGACY_STOP, *p.stop][:4]}
        if p.seed is not None:
            kw["seed"] = p.seed
        return kw

    def open(self, client: openai.OpenAI, prompt: Prompt):
        return client.completions.create(**self.request(prompt))

    @staticmethod
    def piece(chunk: Any) -> tuple[str, str | None]:
        if not chunk.choices:
            return "", None
        c = chunk.choices[0]
        return c.text or "", c.finish_reason


def _cut_off() -> ServiceError:
    return ServiceError("The story was cut off: the connection to the model server broke midway.",
                        hint="The text so far is kept. Press Tell again to try once more.")


def list_fine_tunes(settings: OpenAISettings | None = None) -> list[str]:
    """The account's ft: model ids (models.list). Raises friendly errors; the registry skips them."""
    s = settings or get_settings().openai
    client = make_client(s)
    try:
        return sorted(m.id for m in client.models.list() if fine_tune_base(m.id))
    except openai.OpenAIError as e:
        raise friendly(e, "models", s.resolved_base_url(), client.api_key) from None

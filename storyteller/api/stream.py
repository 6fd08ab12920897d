"""One generation for the API: the engine's chunks, capped at max_tokens, stopped before blocked
words reach the client, counted with the model's own tokenizer; and the bridge that carries
chunks from the engine's thread to the event loop as they come.

finish_reason follows OpenAI: "length" when max_tokens (or the model's context) ran out,
"content_filter" when the child-safety policy stopped the text (the chunk that completed the
blocked words is never sent), else "stop".
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

from storyteller.engines.base import Prompt

try:
    from storyteller.safety import check_text
except ImportError:  # a build without the child-safety policy: output is not checked
    check_text = None

WINDOW = 48  # characters before a new chunk that are checked with it: more than any listed term or allow-term


class OutputGuard:
    """Checks each new chunk, with the text just before it, before the chunk is shown. A blocked term
    that ends in the chunk lies wholly in the window (so does any allow-term around it); terms that
    ended earlier were checked with their own chunk. The window never starts inside a word, where a
    word's tail ("skill") could read as a word of its own."""

    def __init__(self, lang: str):
        self.lang, self.tail = lang, ""

    def allows(self, piece: str) -> bool:
        if check_text is None:
            return True
        text = self.tail + piece
        if check_text(text, self.lang, learned=False) is not None:  # a window cut anywhere: the lists
            return False
        tail = text[-WINDOW:]
        if len(text) > WINDOW and text[-WINDOW - 1].isascii() and text[-WINDOW - 1].isalnum():
            tail = tail.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        self.tail = tail
        return True


class Generation:
    """The text of one request. `chunks()` runs in a worker thread; the counts and finish_reason
    are final once it returns."""

    def __init__(self, engine, loaded, prompt: Prompt, max_tokens: int | None, lang: str, interval: float = 0.0):
        self.engine, self.loaded, self.prompt = engine, loaded, prompt
        self.max_tokens, self.lang, self.interval = max_tokens, lang, interval
        self.cancel = threading.Event()
        self.prompt_tokens = self.count(engine.build_input(loaded, prompt)[0])
        self.completion_tokens = 0  # sent to the client
        self._produced = 0  # tokens in the groups produced so far
        self.finish_reason: str | None = None
        self._guard = OutputGuard(lang)

    def ids(self, text: str) -> list[int]:
        """The model's token ids for `text`: the fast tokenizer's own encoder where there is one (the same
        ids, without the wrapper's cost, and without the wrapper's settings changes that clash when
        several requests tokenize at once)."""
        fast = getattr(self.loaded.tokenizer, "backend_tokenizer", None)
        if fast is not None:
            return fast.encode(text, add_special_tokens=False).ids
        return self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count(self, text: str) -> int:
        return len(self.ids(text)) if text else 0

    def _cut(self, piece: str, left: int) -> str:
        """The longest start of `piece` that is at most `left` tokens: the text itself, never decoded
        again from ids (a filled slot, such as the power 隐形, may hold characters the tokenizer does
        not know, and a storyteller's powers are special tokens, which decoding would drop)."""
        lo, hi = 0, len(piece)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count(piece[:mid]) <= left:
                lo = mid
            else:
                hi = mid - 1
        return piece[:lo]

    def _groups(self) -> Iterator[str]:
        """The engine's text: the first piece at once, then the pieces that came within `interval`
        seconds of the last group, joined (vLLM's stream interval). One count, one check and one event
        for several tokens: done for each 3 ms token, they cost the stream a quarter of its speed on a
        small CPU, mostly in the hand-offs of the interpreter lock between the engine's threads. A held
        piece goes with the next one, so it waits at most one token of the model (the API serves
        models that run in this process). Held pieces that reach max_tokens go at once: the group
        would otherwise wait for the interval while the engine writes tokens that are cut away."""
        held, sent_at, size = [], None, 0
        try:
            for piece in self.engine.stream(self.prompt, self.cancel):
                held.append(piece)
                now = time.monotonic()
                size += len(piece.encode())  # no token is shorter than a byte: counted only near the cap
                if sent_at is None or now - sent_at >= self.interval or self._reaches_cap(held, size):
                    sent_at, size = now, 0
                    yield "".join(held)
                    held = []
        except Exception:  # what the engine wrote before it failed is the client's (checked, then sent)
            if held:
                yield "".join(held)
            raise
        if held:
            yield "".join(held)

    def _reaches_cap(self, held: list[str], size: int) -> bool:
        """Do the held pieces (`size` bytes) reach max_tokens? Counted only when they could."""
        if self.max_tokens is None or self._produced + size < self.max_tokens:
            return False
        return self._produced + self.count("".join(held)) >= self.max_tokens

    def produce(self) -> Iterator[tuple[str, int]]:
        """The engine's text in groups with their token counts, capped at max_tokens; not yet checked
        (`allow`)."""
        reason = None
        for piece in self._groups():
            n = self.count(piece)
            if self.max_tokens is not None and self._produced + n >= self.max_tokens:
                left = self.max_tokens - self._produced
                piece, n = (piece, n) if n <= left else (self._cut(piece, left), left)
                reason = "length"
            self._produced += n
            if piece or n:  # a cut that ends inside a character decodes to "": its tokens still count
                yield piece, n
            if reason or self.cancel.is_set():
                break
        else:
            context = self.loaded.max_positions
            full = context is not None and self.prompt_tokens + self._produced >= context - 1
            reason = "length" if full else "stop"
        if self.finish_reason is None:  # a content_filter set meanwhile stays
            self.finish_reason = reason

    def allow(self, piece: str, n: int) -> bool:
        """Check a produced piece before it is sent: False stops the generation (content_filter), and
        the piece and everything after it are never sent nor counted."""
        if self.finish_reason == "content_filter":
            return False
        if not self._guard.allows(piece):
            self.finish_reason = "content_filter"
            self.cancel.set()
            return False
        self.completion_tokens += n
        return True

    def chunks(self) -> Iterator[str]:
        """The checked text, group by group (produce, then allow, in one thread); a group with a blocked
        term is withheld whole."""
        for piece, n in self.produce():
            if not self.allow(piece, n):
                return
            if piece:
                yield piece

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


async def in_thread(gen: Generation) -> AsyncIterator[str]:
    """`gen.chunks()` run in a thread of its own (checked there: a check on the event loop would
    fight the engine for the GIL), each chunk handed to the event loop as it comes; chunks that
    queued up while the client was being written to go out as one. Leaving early (the client went
    away) tells the engine to stop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server stopping)
            gen.cancel.set()

    def work() -> None:
        try:
            for chunk in gen.chunks():
                put(chunk)
                if gen.cancel.is_set():
                    break
        except BaseException as e:  # noqa: BLE001 - handed to the reader, which raises it
            put(_Failed(e))
        finally:
            put(_END)

    threading.Thread(target=work, name="api-generate", daemon=True).start()
    try:
        done = False
        while not done:
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            text = []
            for item in items:
                if item is _END:
                    done = True
                    break
                if isinstance(item, _Failed):
                    if joined := "".join(text):
                        yield joined
                    raise item.error
                text.append(item)
            if joined := "".join(text):
                yield joined
    finally:
        gen.cancel.set()

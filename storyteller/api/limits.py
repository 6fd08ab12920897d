"""At most settings.api.max_concurrent generations at once, a queue of max_queue behind them, and
429 with Retry-After for the next one (the OpenAI SDK waits that long and retries by itself).

An ASGI middleware rather than a dependency: the slot is held until the response has been sent
in full, a stream included, and freed even when the client goes away mid-stream.
"""

from __future__ import annotations

import asyncio

from storyteller.api.errors import APIError

GENERATION_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})


class Gate:
    """ASGI middleware that limits requests to `paths`."""

    def __init__(self, app, running: int, waiting: int, retry_after_s: int, paths=GENERATION_PATHS):
        self.app, self.paths = app, paths
        self.max_waiting, self.retry_after_s = waiting, retry_after_s
        self.slots = asyncio.Semaphore(running)
        self.waiting = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if self.slots.locked() and self.waiting >= self.max_waiting:
            busy = APIError(429, f"The server is busy: every generation slot is taken and {self.waiting} "
                                 f"request(s) are waiting. Try again in {self.retry_after_s} s.",
                            code="rate_limit_exceeded", headers={"Retry-After": str(self.retry_after_s)})
            await busy.response()(scope, receive, send)
            return
        self.waiting += 1
        try:
            await self.slots.acquire()
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()

"""How many stories a session or a client address may start per minute: one sliding window per key.

The limiter's state lives here and nowhere else. Its clock is injectable, so tests advance time
instead of sleeping. Memory is bounded: a key whose window is empty is dropped, and at most
`max_keys` keys are kept (the least recently used go first, which only ever lets a request through).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


_default_clock: Callable[[], float] = time.monotonic


class RateLimiter:
    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def allow(self, *keys: str) -> bool:
        """Count one request against every key, or none if any key is at its limit (all or nothing)."""
        with self._lock:
            now = self.clock()
            keys = tuple(dict.fromkeys(k for k in keys if k))
            if any(len(self._recent(k, now)) >= self.limit for k in keys):
                return False
            for k in keys:
                self._hits.setdefault(k, deque()).append(now)
                self._hits.move_to_end(k)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return True

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key has room again (0 when it has now)."""
        with self._lock:
            now = self.clock()
            waits = [h[0] + self.window_s - now for k in keys if k
                     if len(h := self._recent(k, now)) >= self.limit]
            return max([0.0, *waits])


_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared(name: str, limit: int, window_s: float = 60.0) -> RateLimiter:
    """The process-wide limiter called `name` (made on first use; a new `limit` takes effect)."""
    with _shared_lock:
        limiter = _shared.get(name)
        if limiter is None:
            limiter = _shared[name] = RateLimiter(limit, window_s, clock=_default_clock)
        limiter.limit, limiter.window_s = limit, window_s
        return limiter


def reset(clock: Callable[[], float] | None = None) -> None:
    """Forget every shared limiter; later ones use `clock` (tests pass a FakeClock)."""
    global _default_clock
    with _shared_lock:
        _shared.clear()
        _default_clock = clock or time.monotonic


class FakeClock:
    """A clock for tests: `advance(s)` moves time on."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

"""Bearer keys for /v1, and the rule that a server reachable from other computers must have them.

Keys come from settings.api.keys. With none set, the API answers only on loopback (the machine's
own user); `storyteller serve --host 0.0.0.0` without keys refuses to start. With keys set, every
/v1 request needs `Authorization: Bearer <key>`, wherever the server listens. The studio's own
pages are not behind these keys (public mode guards them its own way).

Each key is an owner: the files and fine-tuning jobs made with it are its own, and another key's
ids answer "no such file/job", as OpenAI answers another organisation's. With no keys (one user on
loopback) there is no owner, and everything is everyone's, as in the local studio.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from storyteller.access import is_loopback
from storyteller.api.errors import APIError
from storyteller.errors import InputError


def require_keys_off_loopback(host: str, keys: list[str]) -> None:
    """A server other computers can reach must have keys: refuse to start without them."""
    if not keys and not is_loopback(host):
        raise InputError(
            f"The API would listen on {host} with no keys, so anyone on the network could use it.",
            "Set STORYTELLER_API__KEYS='[\"sk-your-key\"]' (any long random strings), or listen on 127.0.0.1.")


def owner_of(key: bytes) -> str:
    """The owner id a key's files and jobs are stamped with (a hash: the key itself is never stored)."""
    return "key:" + hashlib.sha256(key).hexdigest()[:24]


def caller(request: Request) -> str | None:
    """The owner of this request (None: no keys are configured, everything is shared)."""
    return request.scope.get("state", {}).get("owner")


class KeyAuth:
    """ASGI middleware: 401 with OpenAI's error object unless a /v1 request carries a known key."""

    def __init__(self, app, keys: list[str]):
        self.app = app
        self.keys = [k.encode() for k in keys if k]

    def valid(self, header: bytes | None) -> bytes | None:
        """The key the header carries, if it is one of ours."""
        if not header or not header[:7].lower() == b"bearer ":
            return None
        given = header[7:].strip()
        return next((k for k in self.keys if hmac.compare_digest(given, k)), None)

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or not self.keys or scope.get("method") == "OPTIONS"
                or not (scope["path"] == "/v1" or scope["path"].startswith("/v1/"))):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), None)
        if (key := self.valid(header)) is not None:
            scope.setdefault("state", {})["owner"] = owner_of(key)
            await self.app(scope, receive, send)
            return
        msg = ("You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (the OpenAI SDK does this "
               "with api_key=...)." if not header else
               "Incorrect API key provided. Use one of the keys in STORYTELLER_API__KEYS on the server.")
        await APIError(401, msg, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}).response()(
            scope, receive, send)

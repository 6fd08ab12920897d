"""Bearer keys for /v1, and the rule that a server reachable from other computers must have them.

Keys come from settings.api.keys. With none set, the API answers only on loopback (the machine's
own user); `storyteller serve --host 0.0.0.0` without keys refuses to start. With keys set, every
/v1 request needs `Authorization: Bearer <key>`, wherever the server listens. The studio's own
pages are not behind these keys (public mode guards them its own way).
"""

from __future__ import annotations

import hmac

from storyteller.access import is_loopback
from storyteller.api.errors import APIError
from storyteller.errors import InputError


def require_keys_off_loopback(host: str, keys: list[str]) -> None:
    """A server other computers can reach must have keys: refuse to start without them."""
    if not keys and not is_loopback(host):
        raise InputError(
            f"The API would listen on {host} with no keys, so anyone on the network could use it.",
            "Set STORYTELLER_API__KEYS='[\"sk-your-key\"]' (any long random strings), or listen on 127.0.0.1.")


class KeyAuth:
    """ASGI middleware: 401 with OpenAI's error object unless a /v1 request carries a known key."""

    def __init__(self, app, keys: list[str]):
        self.app = app
        self.keys = [k.encode() for k in keys if k]

    def valid(self, header: bytes | None) -> bool:
        if not header or not header[:7].lower() == b"bearer ":
            return False
        given = header[7:].strip()
        return any(hmac.compare_digest(given, k) for k in self.keys)

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or not self.keys or scope.get("method") == "OPTIONS"
                or not (scope["path"] == "/v1" or scope["path"].startswith("/v1/"))):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), None)
        if self.valid(header):
            await self.app(scope, receive, send)
            return
        msg = ("You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (the OpenAI SDK does this "
               "with api_key=...)." if not header else
               "Incorrect API key provided. Use one of the keys in STORYTELLER_API__KEYS on the server.")
        await APIError(401, msg, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}).response()(
            scope, receive, send)

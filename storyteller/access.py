"""Who may do what when the app is on the internet: the address it binds, public mode, the parent
gate and family (owner) ids. No gradio here: the web app asks these functions.

Public mode is on when settings.public.enabled says so, else in a Hugging Face Space (SPACE_ID)
or when the app listens on an address other than loopback. Then the Data and Training tabs and
models that cost money need the parent password; with none set they are off. On loopback,
locally, everything stays open and one user sees everything.

Owner ids are random 128-bit tokens a browser keeps in its local storage; whoever holds one sees
that family's jobs, datasets and stories, so they are never shown, logged or put in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets

from storyteller.config import get_settings
from storyteller.errors import InputError

DEFAULT_PORT = 7860
_OWNER = re.compile(r"^[0-9a-f]{32}$")


def in_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or 0.0.0.0-like wildcard: reachable from elsewhere


def bind_address(host: str | None = None, port: int | None = None) -> tuple[str, int]:
    """(host, port) to listen on: the arguments, else settings.ui, else GRADIO_SERVER_NAME/PORT (what
    Spaces set), else 0.0.0.0 when public mode is asked for or in a Space, else 127.0.0.1:7860."""
    s = get_settings()
    wide = s.public.enabled or (s.public.enabled is None and in_space())
    host = host or s.ui.host or os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if wide else "127.0.0.1")
    if port is None:
        port = s.ui.port
    if port is None:
        raw = os.environ.get("GRADIO_SERVER_PORT", "").strip()
        try:
            port = int(raw) if raw else DEFAULT_PORT
        except ValueError:
            raise InputError(f"GRADIO_SERVER_PORT must be a port number, not '{raw[:20]}'.") from None
    return host, port


def is_public(host: str | None = None) -> bool:
    """Public mode for an app bound to `host` (default: where it would bind)."""
    enabled = get_settings().public.enabled
    if enabled is not None:
        return enabled
    return in_space() or not is_loopback(host if host is not None else bind_address()[0])


def parent_gate_set() -> bool:
    pw = get_settings().public.parent_password
    return pw is not None and bool(pw.get_secret_value())


def check_parent_password(typed: object) -> bool:
    """Constant-time comparison with settings.public.parent_password; False when none is set."""
    if not parent_gate_set() or not isinstance(typed, str) or not typed:
        return False
    secret = get_settings().public.parent_password.get_secret_value()
    return hmac.compare_digest(typed.encode("utf-8", "replace"), secret.encode("utf-8"))


def new_owner() -> str:
    return secrets.token_hex(16)


def valid_owner(value: object) -> str | None:
    """The owner id a browser sent, if it is one we could have made; else None (make a new one)."""
    return value if isinstance(value, str) and _OWNER.match(value) else None


def owner_key(owner: str) -> str:
    """What rows and folders are stamped with: a hash of the browser's token, so a database, a folder
    name or a log line never reveals the token itself."""
    return hashlib.sha256(f"storyteller-owner:{owner}".encode()).hexdigest()[:32]


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The visitor's address: the peer, or behind settings.public.proxy_hops proxies (default: 1 in
    a Space) the entry those proxies added to X-Forwarded-For. Entries further left were written by
    the client and are never trusted."""
    hops = get_settings().public.proxy_hops
    hops = (1 if in_space() else 0) if hops is None else hops
    entries = [e.strip() for e in (forwarded_for or "").split(",") if e.strip()]
    if hops and len(entries) >= hops:
        return entries[-hops][:64]
    return (peer or "unknown")[:64]

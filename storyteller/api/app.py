"""The FastAPI app: /v1 routers, OpenAI-shaped errors everywhere under /v1, keys, the generation
gate and CORS. Middleware order, outermost first: CORS (so refusals carry its headers and a
browser's preflight needs no key), keys, the gate.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware

from storyteller.api import errors, files, fine_tuning, generation, models, moderations
from storyteller.api.auth import KeyAuth, require_keys_off_loopback
from storyteller.api.limits import Gate
from storyteller.config import get_settings

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(host: str | None = None) -> FastAPI:
    """The API for a server listening on `host` (default settings.api.host): refuses to be built for
    a non-loopback host without keys."""
    s = get_settings().api
    keys = [k.get_secret_value() for k in s.keys if k.get_secret_value()]
    require_keys_off_loopback(host or s.host, keys)
    app = FastAPI(title="Storyteller", docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (models, generation, files, fine_tuning, moderations):
        v1.include_router(module.router)

    @v1.api_route("", methods=METHODS, include_in_schema=False)
    @v1.api_route("/{rest:path}", methods=METHODS, include_in_schema=False)
    async def unknown(request: Request, rest: str = ""):
        raise errors.APIError(404, f"Invalid URL ({request.method} {request.url.path}).")

    app.include_router(v1)
    app.add_middleware(Gate, running=s.max_concurrent, waiting=s.max_queue, retry_after_s=s.retry_after_s)
    app.add_middleware(KeyAuth, keys=keys)
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["Retry-After"])
    return app

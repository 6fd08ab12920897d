"""Every failure under /v1 as OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`.

The SDK turns the status into its exception (400 BadRequestError, 401 AuthenticationError, 404
NotFoundError, 429 RateLimitError ...) and shows `message`, so messages say what to fix. Errors
the core raises (`StorytellerError`) keep their friendly text; only their status is chosen here.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from storyteller.errors import (AuthError, DataError, InputError, JobError, ModelNotFoundError, OfflineError,
                                SafetyError, ServiceError, StorytellerError)

log = logging.getLogger(__name__)

TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
         404: "invalid_request_error", 405: "invalid_request_error", 409: "invalid_request_error",
         413: "invalid_request_error", 415: "invalid_request_error", 429: "requests", 500: "server_error",
         501: "invalid_request_error", 503: "server_error"}


class APIError(Exception):
    """An OpenAI-shaped error with its HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type_: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type_ or TYPES.get(status, "invalid_request_error")
        self.headers = headers

    def body(self) -> dict:
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def not_found(kind: str, ident: str, param: str | None = None) -> APIError:
    return APIError(404, f"No such {kind}: '{str(ident)[:120]}'.", param=param, code=None)


def model_not_found(model: str) -> APIError:
    return APIError(404, f"The model '{str(model)[:120]}' does not exist. GET /v1/models lists the models served "
                         f"here.", param="model", code="model_not_found")


def from_core(e: StorytellerError, param: str | None = None) -> APIError:
    """The status for one of the core's friendly errors."""
    if isinstance(e, ModelNotFoundError):
        return APIError(404, str(e), param=param or "model", code="model_not_found")
    if isinstance(e, AuthError):
        return APIError(401, str(e), code="invalid_api_key")
    if isinstance(e, SafetyError):
        return APIError(400, str(e), param=param, code="content_policy_violation")
    if isinstance(e, (DataError, InputError)):
        return APIError(400, str(e), param=param)
    if isinstance(e, JobError):
        return APIError(400, str(e), param=param)
    if isinstance(e, (OfflineError, ServiceError)):
        return APIError(503, str(e), code="service_unavailable")
    return APIError(500, str(e))


def _loc(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error object."""

    @app.exception_handler(APIError)
    async def _api(request: Request, e: APIError):
        return e.response()

    @app.exception_handler(StorytellerError)
    async def _core(request: Request, e: StorytellerError):
        return from_core(e).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = _loc(tuple(first.get("loc", ())))
        msg = f"{where}: {first.get('msg', 'invalid value')}" if where else first.get("msg", "Invalid request.")
        return APIError(400, msg, param=where).response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException):
        if e.status_code == 404:
            msg = f"Invalid URL ({request.method} {request.url.path})."
        elif e.status_code == 405:
            msg = f"Method {request.method} is not allowed on {request.url.path}."
        else:
            msg = str(e.detail)
        return APIError(e.status_code, msg, headers=getattr(e, "headers", None)).response()

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, e: ClientDisconnect):  # nobody to answer; not a server error
        return APIError(400, "The client went away before its request arrived in full.").response()

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return APIError(500, f"The server had an error while processing your request ({type(e).__name__}).").response()

"""JSON request bodies, read with OpenAI-shaped errors (FastAPI's own would be 422 in its own shape)."""

from __future__ import annotations

import json

from fastapi import Request
from pydantic import BaseModel, ValidationError

from storyteller.api.errors import APIError


async def read_json(request: Request, model: type[BaseModel]):
    """The body as `model`, with OpenAI-shaped errors for a wrong content type, broken JSON or a bad field."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype == "application/json" or ctype.endswith("+json")):
        raise APIError(400, f"Send the request body as JSON (Content-Type: application/json), not "
                            f"'{ctype or 'nothing'}'.", code="unsupported_content_type")
    try:
        data = json.loads(await request.body())
    except ValueError as e:
        raise APIError(400, f"The request body is not valid JSON ({e}).") from None
    if not isinstance(data, dict):
        raise APIError(400, "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise APIError(400, f"{where}: {first['msg']}" if where else first["msg"], param=where) from None

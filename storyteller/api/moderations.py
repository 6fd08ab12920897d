"""POST /v1/moderations, answered by the project's child-safety policy (storyteller/safety).

The policy says yes or no with one category, not graded scores: a flagged input scores 1.0 in the
OpenAI category its own category maps to, everything else 0.0. Categories with no OpenAI
counterpart (personal data, instructions aimed at the model) flag the input with no category set.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from storyteller.api.asking import guess_lang
from storyteller.api.body import read_json
from storyteller.api.errors import APIError
from storyteller.api.stream import check_text

router = APIRouter()
MODEL = "storyteller-safety"
OPENAI_CATEGORIES = ("hate", "hate/threatening", "harassment", "harassment/threatening", "illicit",
                     "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
                     "sexual/minors", "violence", "violence/graphic")
MAPPED = {"violence": "violence", "weapons": "illicit/violent", "horror": "violence/graphic", "sexual": "sexual",
          "self_harm": "self-harm", "drugs": "illicit", "hate": "hate", "profanity": "harassment"}
MAX_INPUTS, MAX_CHARS = 32, 100_000


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: str | list[Any]
    model: str | None = None


def _texts(inp: str | list) -> list[str]:
    items = [inp] if isinstance(inp, str) else inp
    if not items or len(items) > MAX_INPUTS:
        raise APIError(400, f"input: give 1 to {MAX_INPUTS} texts.", param="input")
    out = []
    for i, it in enumerate(items):
        if isinstance(it, dict) and it.get("type") == "text" and isinstance(it.get("text"), str):
            it = it["text"]
        if not isinstance(it, str):
            raise APIError(400, "Only text can be checked here (no images).", param=f"input.{i}")
        if len(it) > MAX_CHARS:
            raise APIError(400, f"input.{i}: at most {MAX_CHARS} characters.", param=f"input.{i}")
        out.append(it)
    return out


def result(text: str) -> dict:
    verdict = check_text(text, guess_lang(text))
    hit = MAPPED.get(verdict.category) if verdict else None
    return {"flagged": verdict is not None,
            "categories": {c: c == hit for c in OPENAI_CATEGORIES},
            "category_scores": {c: 1.0 if c == hit else 0.0 for c in OPENAI_CATEGORIES},
            "category_applied_input_types": {c: ["text"] for c in OPENAI_CATEGORIES}}


@router.post("/moderations")
async def moderations(request: Request) -> dict:
    req = await read_json(request, ModerationRequest)
    if check_text is None:
        raise APIError(503, "The child-safety policy is not installed on this server, so nothing can be checked.",
                       code="service_unavailable")
    texts = _texts(req.input)
    return {"id": f"modr-{uuid.uuid4().hex[:24]}", "model": req.model or MODEL, "results": [result(t) for t in texts]}

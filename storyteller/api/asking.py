"""What a request asks of a model, as the engine's `Prompt`.

A storyteller-format model (the embedded one and its fine-tunes) tells stories from a request,
not from free text, so its prompt must name one: the legacy prompt the course's fine-tunes were
trained on ("唐,隐形,轻松 ->", a dynasty, a power and a style), or the user message that
`prompts.build_messages` writes (what a chat fine-tune's data holds). Any other model gets the
chat messages, or the raw completion prompt, as they are.
"""

from __future__ import annotations

import json
import re

from storyteller.api.errors import APIError
from storyteller.engines.base import GenerationParams, Prompt
from storyteller.prompts import LEGACY_SEPARATOR, StoryRequest, build_messages
from storyteller.studio import build_request

_CJK = re.compile(r"[\u4e00-\u9fff]")
_FIELDS = re.compile(r"\{.*\}", re.S)
_LENGTH = re.compile(r"(?:Length|长度)\D{0,12}(\d{2,4})")
NEEDS_REQUEST = ("This model tells stories from a dynasty, a superpower and a style: send them as "
                 "'唐,隐形,轻松 ->' (or 'Tang,invisibility,funny ->'). 这个模型按“朝代,超能力,风格”讲故事，"
                 "例如：唐,隐形,轻松 ->")


def legacy_fields(text: str) -> list[str] | None:
    """"唐,隐形,轻松 ->" (the arrow optional) -> its three fields; None for anything else."""
    line = text.strip()
    line = line[: -len(LEGACY_SEPARATOR.strip())] if line.endswith(LEGACY_SEPARATOR.strip()) else line
    parts = [p.strip() for p in re.split(r"[,，]", line)]
    return parts if len(parts) == 3 and all(parts) and "\n" not in line else None


def guess_lang(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def story_request(text: str) -> StoryRequest | None:
    """The story a prompt asks for, in either of our two forms; None when it is neither."""
    if (fields := legacy_fields(text)) is not None:
        return build_request(*fields, lang=guess_lang(text))
    found = _FIELDS.search(text)
    if found:
        try:
            d = json.loads(found.group(0))
        except ValueError:
            return None
        if isinstance(d, dict) and all(isinstance(d.get(k), str) for k in ("dynasty", "superpower", "style")):
            length = _LENGTH.search(text[found.end():])
            return build_request(d["dynasty"], d["superpower"], d["style"],
                                 lang="en" if "in English" in text else "zh",
                                 length=length.group(1) if length else 300, hero=d.get("hero"))
    return None


def message_text(content, index: int) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise APIError(400, "Only text content parts are understood here (no images, audio or files).",
                           param=f"messages.{index}.content")
        texts.append(part["text"])
    return "".join(texts)


def for_storyteller(text: str, params: GenerationParams, param: str) -> Prompt:
    req = story_request(text)
    if req is None:
        raise APIError(400, NEEDS_REQUEST, param=param)
    return Prompt(messages=build_messages(req), request=req, params=params)


def chat_prompt(messages: list[dict], storyteller: bool, params: GenerationParams) -> Prompt:
    """`messages`: role and text of each message, in order."""
    if storyteller:
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return for_storyteller(last_user, params, "messages")
    return Prompt(messages=messages, params=params)


def completion_prompt(text: str, storyteller: bool, params: GenerationParams) -> Prompt:
    if storyteller:
        return for_storyteller(text, params, "prompt")
    return Prompt(messages=[{"role": "user", "content": text}], text=text, params=params)

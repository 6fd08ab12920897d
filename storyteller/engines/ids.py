"""What a model id names, decided in one place, so routing, loading, pricing and fine-tuning agree.

First match wins:
  "openai:<name>"                                  -> an OpenAI-compatible server (any name)
  a folder with config.json under models_dir, or a path to one -> a local model folder
  "gpt-*", "ft:*", "o1*"/"o3*"/"o4*", "chatgpt-*", "babbage-002", "davinci-002" -> OpenAI
  "org/name"                                       -> a Hugging Face Hub id (the local engine downloads it)
Legacy completion models are babbage-002, davinci-002 and their fine-tunes. This module only reads
ids and folders: it loads nothing and imports no engine, so every floor may use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storyteller.config import get_settings

OPENAI_PREFIX = "openai:"
OPENAI_NAMES = ("gpt-", "ft:", "o1", "o3", "o4", "chatgpt-", "babbage-002", "davinci-002")
LEGACY_BASES = ("davinci-002", "babbage-002")  # prompt/completion format, not chat
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class Route:
    kind: Literal["openai", "local", "hub"]
    source: str  # the OpenAI model name, the folder, or the Hub id


def openai_name(model_id: str) -> str:
    """The name the server knows: the id without our "openai:" prefix."""
    return model_id.strip().removeprefix(OPENAI_PREFIX)


def fine_tune_base(model_id: str) -> str | None:
    """The base of an OpenAI fine-tune, "ft:<base>:<org>:<suffix>:<id>" -> <base>; None for other ids."""
    parts = openai_name(model_id).split(":")
    return parts[1] if parts[0] == "ft" and len(parts) >= 3 and parts[1] else None


def base_model(model_id: str) -> str:
    """The model a fine-tune was trained from; any other id names itself."""
    return fine_tune_base(model_id) or openai_name(model_id)


def is_openai_name(name: str) -> bool:
    return name.startswith(OPENAI_NAMES)


def is_legacy_completion(model_id: str) -> bool:
    """babbage-002 / davinci-002 and their fine-tunes ("ft:babbage-002:org::id")."""
    return base_model(model_id) in LEGACY_BASES


def is_hub_id(model_id: str) -> bool:
    return bool(HUB_ID.match(model_id)) and ".." not in model_id


def local_folder(model_id: str) -> Path | None:
    """A model folder (one with config.json) under settings.local.models_dir, or at the given path."""
    models_dir = Path(get_settings().local.models_dir)
    for p in (models_dir / model_id, Path(model_id).expanduser()):
        try:
            if p.is_dir() and (p / "config.json").is_file():
                return p
        except (OSError, ValueError):  # absurd names (too long, NUL) are simply not paths
            continue
    return None


def route(model_id: str) -> Route | None:
    """Where `model_id` leads (see the module docstring), or None when it names nothing."""
    if model_id.startswith(OPENAI_PREFIX) and openai_name(model_id):
        return Route("openai", openai_name(model_id))
    if (folder := local_folder(model_id)) is not None:
        return Route("local", str(folder))
    if is_openai_name(model_id):
        return Route("openai", model_id)
    if is_hub_id(model_id):
        return Route("hub", model_id)
    return None


def resolve_source(model_id: str) -> tuple[str, bool]:
    """(where a local engine loads from, is it a Hub id): a model folder, else the id as a Hub id."""
    folder = local_folder(model_id)
    return (str(folder), False) if folder is not None else (model_id, True)

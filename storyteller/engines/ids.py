"""What a model id names, decided in one place, so routing, loading, pricing and fine-tuning agree.

First match wins:
  "openai:<name>"                                  -> an OpenAI-compatible server (any name)
  a folder with config.json under models_dir, or a path to one -> a local model folder
  "gpt-*", "ft:*", "o1*"/"o3*"/"o4*", "chatgpt-*", "babbage-002", "davinci-002" -> OpenAI
  "org/name"                                       -> a Hugging Face Hub id (the local engine downloads it)
Legacy completion models are babbage-002, davinci-002 and their fine-tunes. This module only reads
ids and folders: it loads nothing and imports no engine, so every floor may use it.

Two policies, one rule each, both here: "cli" (the machine's own user: paths, any Hub id, any OpenAI
name) and "web" (the web app: only what its picker offers — a folder's bare name directly under
models_dir, a Hub id listed in settings.local.hub_ids, an OpenAI model from settings.openai.models or
an `ft:` id when a key or a keyless server is set; never a path, `~`, `..` or an unlisted name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from storyteller.config import get_settings

OPENAI_PREFIX = "openai:"
OPENAI_NAMES = ("gpt-", "ft:", "o1", "o3", "o4", "chatgpt-", "babbage-002", "davinci-002")
LEGACY_BASES = ("davinci-002", "babbage-002")  # prompt/completion format, not chat
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FOLDER_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w.\u4e00-\u9fff-]{0,99}$")  # one name, no separators
Policy = Literal["cli", "web"]


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


@dataclass(frozen=True)
class FineTuneName:
    """The parts of "ft:<base>:<org>:<suffix>:<job>" (OpenAI's names; ours have org "storyteller").
    `checkpoint` is N for a checkpoint's name, which ends in ":ckpt-step-N"."""

    base: str
    org: str
    suffix: str
    job: str
    checkpoint: int | None = None

    def __str__(self) -> str:
        name = f"ft:{self.base}:{self.org}:{self.suffix}:{self.job}"
        return name if self.checkpoint is None else f"{name}:ckpt-step-{self.checkpoint}"


def fine_tune_name(model_id: str) -> FineTuneName | None:
    """A full five-part fine-tune name (optionally a checkpoint's), read back; None for anything else."""
    parts = openai_name(model_id).split(":")
    step = None
    if len(parts) == 6 and (m := re.fullmatch(r"ckpt-step-(\d{1,9})", parts[5])):
        parts, step = parts[:5], int(m.group(1))
    if len(parts) != 5 or parts[0] != "ft" or not parts[1] or not parts[4]:
        return None
    return FineTuneName(parts[1], parts[2], parts[3], parts[4], step)


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


def is_keyless(base_url: str | None) -> bool:
    """A custom server that is not OpenAI's own (local vLLM, Ollama, llama.cpp) needs no key."""
    host = urlsplit(base_url).hostname or "" if base_url else ""
    return bool(base_url) and not (host == "openai.com" or host.endswith(".openai.com"))


def openai_ready() -> bool:
    """Is an OpenAI-compatible server usable: a key set, or a keyless server configured?"""
    s = get_settings().openai
    return s.resolved_key() is not None or is_keyless(s.resolved_base_url())


def costs_money(model_id: str) -> bool:
    """Does telling with this id spend the operator's money? (An OpenAI route with a key set.)"""
    where = route(model_id)
    return where is not None and where.kind == "openai" and get_settings().openai.resolved_key() is not None


def route(model_id: str, policy: Policy = "cli") -> Route | None:
    """Where `model_id` leads under `policy` (see the module docstring), or None when it names nothing."""
    if policy == "web":
        return _web_route(model_id)
    if model_id.startswith(OPENAI_PREFIX) and openai_name(model_id):
        return Route("openai", openai_name(model_id))
    if (folder := local_folder(model_id)) is not None:
        return Route("local", str(folder))
    if is_openai_name(model_id):
        return Route("openai", model_id)
    if is_hub_id(model_id):
        return Route("hub", model_id)
    return None


def _web_route(model_id: str) -> Route | None:
    """The picker's ids only; the same order as the CLI's rule, each step narrowed."""
    s = get_settings()
    mid = model_id.strip() if isinstance(model_id, str) else ""
    if not mid or len(mid) > 200:
        return None
    name = openai_name(mid)
    if mid.startswith(OPENAI_PREFIX):
        ok = bool(name) and openai_ready() and (name in s.openai.models or fine_tune_base(name) is not None)
        return Route("openai", name) if ok else None
    if FOLDER_NAME.match(mid) and not mid.startswith("."):
        folder = Path(s.local.models_dir) / mid
        try:
            if folder.is_dir() and (folder / "config.json").is_file():
                return Route("local", str(folder))
        except OSError:
            pass
    if is_openai_name(mid):
        listed = mid in s.openai.models or f"{OPENAI_PREFIX}{mid}" in s.openai.models
        return Route("openai", mid) if openai_ready() and (listed or fine_tune_base(mid) is not None) else None
    if mid in s.local.hub_ids and is_hub_id(mid):
        return Route("hub", mid)
    return None


def resolve_source(model_id: str) -> tuple[str, bool]:
    """(where a local engine loads from, is it a Hub id): a model folder, else the id as a Hub id."""
    folder = local_folder(model_id)
    return (str(folder), False) if folder is not None else (model_id, True)

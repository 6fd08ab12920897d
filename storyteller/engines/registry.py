"""Model ids -> engines, and the list of models a user can pick. What an id names is `ids.route`'s
rule (per policy: "cli" or "web"); this module only builds the engine for it, keeps the last
MAX_ENGINES built (an engine is cheap to rebuild; weights live in local_hf's own bounded cache),
and says what exists when an id names nothing."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel

from storyteller.config import get_settings
from storyteller.engines.base import Engine
from storyteller.engines.ids import Policy, fine_tune_base, is_keyless, is_legacy_completion, is_openai_name, route
from storyteller.errors import ModelNotFoundError, StorytellerError

log = logging.getLogger(__name__)

MAX_ENGINES = 16
_engines: OrderedDict[str, Engine] = OrderedDict()
_lock = threading.Lock()


class ModelInfo(BaseModel):
    id: str
    label: str
    kind: Literal["local", "hub", "openai"]
    description: str = ""
    needs_key: bool = False
    names: dict[str, str] = {}  # a friendly name per language, from the card's `friendly_name`


def _make(model_id: str, policy: Policy = "cli") -> Engine:
    from storyteller.engines.local_hf import LocalHFEngine
    from storyteller.engines.openai import OpenAIChatEngine, OpenAICompletionEngine

    where = route(model_id, policy)
    if where is not None and where.kind == "openai":
        return OpenAICompletionEngine(model_id) if is_legacy_completion(model_id) else OpenAIChatEngine(model_id)
    if where is not None:
        return LocalHFEngine(model_id, source=where.source, is_hub=where.kind == "hub")
    known = ", ".join(m.id for m in list_models(include_remote=False)) or "none yet"
    if model_id == get_settings().local.default_model:
        raise ModelNotFoundError(
            f"The built-in model '{model_id}' is missing from {get_settings().local.models_dir}.",
            hint="Rebuild it with `python -m storyteller.model.build` (about 15 minutes), or choose another "
            f"model. Models you can use: {known}.",
        )
    if policy == "web":
        raise ModelNotFoundError("请从列表里选一个模型。Please choose a model from the list.",
                                 hint=f"Models you can use: {known}.")
    raise ModelNotFoundError(
        f"There is no model called '{model_id[:80]}'.",
        hint=f"Models you can use: {known}. Put a model folder under models/, use a Hugging Face id "
        f"like 'org/name', or an OpenAI model like 'gpt-4o-mini'.",
    )


def check_model(model_id: object, policy: Policy = "cli") -> str:
    """The id, stripped (empty: the default model), when it names a model under `policy`; else the
    friendly ModelNotFoundError. Builds and loads nothing."""
    model_id = (model_id if isinstance(model_id, str) else "").strip() or get_settings().local.default_model
    if route(model_id, policy) is None:
        _make(model_id, policy)  # raises the friendly error
    return model_id


def get_engine(model_id: str | None = None, policy: Policy = "cli") -> Engine:
    """The engine for `model_id` (default: settings.local.default_model); one instance per id, the
    last MAX_ENGINES kept. Under the "web" policy an id outside the picker's list is refused first,
    so an engine the CLI built from a path is never handed to the web app."""
    model_id = (model_id or get_settings().local.default_model).strip()
    if policy != "cli":
        check_model(model_id, policy)
    with _lock:
        if model_id in _engines:
            _engines.move_to_end(model_id)
            return _engines[model_id]
    engine = _make(model_id, policy)
    with _lock:
        engine = _engines.setdefault(model_id, engine)
        _engines.move_to_end(model_id)
        while len(_engines) > MAX_ENGINES:
            _engines.popitem(last=False)
        return engine


def clear_engines() -> None:
    with _lock:
        _engines.clear()


def read_model_card(folder: Path) -> tuple[str | None, str]:
    """(title, description) from README.md: front matter `description`, else the first paragraph."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None, ""
    meta, text = _front_matter(readme.read_text(encoding="utf-8", errors="replace"))
    title, paragraph = None, []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            if paragraph:
                break
            title = title or s.lstrip("#").strip()
        elif not s:
            if paragraph:
                break
        elif not s.startswith(("<", "![", "[!", "|", "```")):
            paragraph.append(s)
    desc = meta.get("description") if isinstance(meta, dict) else None
    return (meta.get("title") if isinstance(meta, dict) else None) or title, str(desc or " ".join(paragraph))[:300]


def _front_matter(text: str) -> tuple[dict, str]:
    """(the card's YAML front matter, the rest of the text)."""
    if not text.startswith("---"):
        return {}, text
    head, _, text = text[3:].partition("\n---")
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text.lstrip("-")


def card_names(folder: Path) -> dict[str, str]:
    """{lang: name} from the card's front matter `friendly_name: {zh: ..., en: ...}` (what a
    family sees instead of a folder name); {} when the card has none."""
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    names = _front_matter(readme.read_text(encoding="utf-8", errors="replace"))[0].get("friendly_name")
    return {str(k): str(v)[:60] for k, v in names.items() if v} if isinstance(names, dict) else {}


def _local_models() -> list[ModelInfo]:
    s = get_settings().local
    root = Path(s.models_dir)
    folders = sorted(p for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []
    folders.sort(key=lambda p: p.name != s.default_model)  # the default first
    out = []
    for p in folders:
        title, desc = read_model_card(p)
        out.append(ModelInfo(id=p.name, label=title or p.name, kind="local", description=desc, names=card_names(p)))
    return out


def _hub_models() -> list[ModelInfo]:
    from huggingface_hub import try_to_load_from_cache

    out = []
    for hub_id in get_settings().local.hub_ids:
        desc = "Hugging Face Hub model (downloaded on first use)."
        try:
            readme = try_to_load_from_cache(hub_id, "README.md")
            if isinstance(readme, str):
                desc = read_model_card(Path(readme).parent)[1] or desc
        except (ValueError, OSError):
            pass
        out.append(ModelInfo(id=hub_id, label=hub_id, kind="hub", description=desc))
    return out


def _openai_models(include_remote: bool) -> list[ModelInfo]:
    from storyteller.engines.openai import list_fine_tunes

    s = get_settings().openai
    if s.resolved_key() is None and not is_keyless(s.resolved_base_url()):
        return []
    names = list(s.models)
    if include_remote:
        try:
            names += [m for m in list_fine_tunes(s) if m not in names]
        except StorytellerError as e:
            log.warning("could not list the account's fine-tuned models: %s", e)
    out = []
    for name in names:
        mid = name if is_openai_name(name) else f"openai:{name}"
        kind = "legacy completion fine-tune" if is_legacy_completion(name) else "chat model"
        label = f"{name} (fine-tuned)" if fine_tune_base(name) else name
        out.append(ModelInfo(id=mid, label=label, kind="openai", needs_key=True,
                             description=f"OpenAI-compatible {kind}; needs OPENAI_API_KEY unless a local server."))
    return out


def list_models(include_remote: bool = True) -> list[ModelInfo]:
    """Local folders (default first), configured Hub ids, OpenAI models (with the account's ft: ids
    when `include_remote` and a key is set; errors there are logged and skipped)."""
    return [*_local_models(), *_hub_models(), *_openai_models(include_remote)]

"""The input gate: typed dynasty, power, style and hero are checked before any model is called.
Presets from the catalog are the team's own words and pass unchecked."""

from __future__ import annotations

import logging

from storyteller.catalog import get_catalog
from storyteller.errors import SafetyError
from storyteller.safety.messages import kind_message, suggest
from storyteller.safety.policy import check_field

log = logging.getLogger(__name__)


def is_preset(kind: str, value: str) -> bool:
    cat = get_catalog()
    if kind == "hero":
        name = value.strip()
        return any(name in (h.zh, h.en) for d in cat.dynasties for h in d.heroes)
    return {"dynasty": cat.dynasty, "power": cat.power, "style": cat.style}[kind](value) is not None


def guard_fields(values: dict[str, str | None], lang: str) -> None:
    """Raise SafetyError (a kind message in `lang` with the nearest preset) for the first typed
    value that is not right for a children's story. Nothing is logged of the value itself."""
    for kind, value in values.items():
        if not value or not value.strip() or is_preset(kind, value):
            continue
        verdict = check_field(kind, value, lang)
        if verdict is not None:
            log.info("blocked a typed %s: %s", kind, verdict.category)
            raise SafetyError(kind_message(verdict, lang, suggest(kind, value, lang)), verdict=verdict)

"""The input gate: typed dynasty, power, style and hero are checked before any model is called:
first what they say (policy.check_field), then their shape (shape.py: a name, or a short description
of the hero's own magic that names no other people, in words a child knows). Presets from the catalog
are the team's own words and pass unchecked."""

from __future__ import annotations

import logging

from storyteller.catalog import get_catalog
from storyteller.errors import SafetyError
from storyteller.safety import learned
from storyteller.safety.messages import kind_message, suggest
from storyteller.safety.policy import Verdict, check_field
from storyteller.safety.shape import check_shape, vocabulary

log = logging.getLogger(__name__)


def is_preset(kind: str, value: str) -> bool:
    cat = get_catalog()
    if kind == "hero":
        name = value.strip()
        return any(name in (h.zh, h.en) for d in cat.dynasties for h in d.heroes)
    return {"dynasty": cat.dynasty, "power": cat.power, "style": cat.style}[kind](value) is not None


def check_typed(kind: str, value: str, lang: str = "zh") -> Verdict | None:
    """One value from the story form or CLI: None for a preset or a fitting typed value; else what
    it says (a content category, the more serious finding), or else its shape ("shape")."""
    if not value or not value.strip() or is_preset(kind, value):
        return None
    return check_field(kind, value, lang) or check_shape(kind, value)


def guard_fields(values: dict[str, str | None], lang: str) -> None:
    """Raise SafetyError (a kind message in `lang` with the nearest preset) for the first typed
    value that is not right for a children's story: what any value says comes before the shape of
    another. Nothing is logged of the value itself."""
    typed = [(k, v) for k, v in values.items() if v and v.strip() and not is_preset(k, v)]
    for check in (lambda k, v: check_field(k, v, lang), check_shape):
        for kind, value in typed:
            verdict = check(kind, value)
            if verdict is not None:
                log.info("blocked a typed %s: %s", kind, verdict.category)
                raise SafetyError(kind_message(verdict, lang, suggest(kind, value, lang), kind=kind), verdict=verdict)


def warm_up() -> None:
    """Load the shape rule's vocabulary and the learned check's weights (about a second each)
    before the first child types a word or the first sentence is checked."""
    vocabulary()
    check_shape("power", "warm up")
    learned.load()

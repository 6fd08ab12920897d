"""Child safety: one policy for what a child types and what a story says (zh and en).

    from storyteller.safety import check_field, check_text, kind_message, suggest
    v = check_field("power", "杀人", "zh")      # Verdict(category="violence", ...) or None
    kind_message(v, "zh", suggest("power", "杀人", "zh"))

Used by every path that takes or makes text: the story tab and CLI (typed values), dataset
generation and checking, fine-tuning, and the streaming output guard.
"""

from storyteller.safety.messages import kind_message, suggest
from storyteller.safety.policy import CATEGORIES, Verdict, banned_terms, check_field, check_text

__all__ = ["CATEGORIES", "Verdict", "banned_terms", "check_field", "check_text", "kind_message", "suggest"]

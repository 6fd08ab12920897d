"""The shape of a fine-tuning example, as OpenAI's cookbook checks it. `check` reports these errors
and `prepare` refuses files with them; both read them here, so neither imports the other for it."""

from __future__ import annotations

ROLES = ("system", "user", "assistant", "function", "tool")
KEYS = ("role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id")
FORMAT_WORDS = {  # the cookbook's error types, in words a parent can act on
    "data_type": "a line that is not a JSON object",
    "missing_messages_list": "no \"messages\" list",
    "message_missing_key": "a message without \"role\" or \"content\"",
    "message_unrecognized_key": "a message with an unknown key",
    "unrecognized_role": "a message with an unknown role",
    "missing_content": "a message with empty content",
    "example_missing_assistant_message": "no assistant message (the story the model should learn)",
    "missing_prompt_or_completion": "no prompt or no completion",
}


def chat_format_errors(ex) -> list[str]:
    """The cookbook's format error types found in one chat example."""
    if not isinstance(ex, dict):
        return ["data_type"]
    messages = ex.get("messages")
    if not messages or not isinstance(messages, list):
        return ["missing_messages_list"]
    errs = []
    for m in messages:
        if not isinstance(m, dict):
            errs.append("data_type")
            continue
        if "role" not in m or "content" not in m:
            errs.append("message_missing_key")
        if any(k not in KEYS for k in m):
            errs.append("message_unrecognized_key")
        if m.get("role") not in ROLES:
            errs.append("unrecognized_role")
        content = m.get("content")
        if (not content and not m.get("function_call") and not m.get("tool_calls")) or (
                content is not None and not isinstance(content, str)):
            errs.append("missing_content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        errs.append("example_missing_assistant_message")
    return errs


def legacy_format_errors(ex) -> list[str]:
    """The error type of one legacy prompt/completion example: both strings, a non-empty completion."""
    ok = isinstance(ex, dict) and all(isinstance(ex.get(k), str) for k in ("prompt", "completion"))
    return [] if ok and ex["completion"].strip() else ["missing_prompt_or_completion"]

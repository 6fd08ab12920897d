"""What a fine-tuning upload must be, as OpenAI checks it: JSON Lines, every line one example of the
same format — chat ({"messages": [...]}), legacy ({"prompt", "completion"}) or DPO ({"input":
{"messages"}, "preferred_output", "non_preferred_output"}). The project's own story records
({"dynasty", "power", "style", "story"}) are taken too: they are what the local trainer learns from.

The file is read by the project's dataset reader (size, UTF-8, line numbers) and each example by
the cookbook's checks in storyteller.data.formats; only the DPO shape is checked here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from storyteller.data.formats import FORMAT_WORDS, chat_format_errors, legacy_format_errors
from storyteller.data.io import read_dataset, read_text
from storyteller.errors import DataError

Kind = Literal["chat", "legacy", "dpo", "stories"]
DPO_KEYS = ("input", "preferred_output", "non_preferred_output")
DPO_WORDS = {
    "missing_input_messages": "no \"input\": {\"messages\": [...]}",
    "bad_preferred_output": "\"preferred_output\" is not one assistant message",
    "bad_non_preferred_output": "\"non_preferred_output\" is not one assistant message",
}


class Checked(BaseModel):
    kind: Kind
    examples: int


def dpo_format_errors(ex) -> list[str]:
    """OpenAI's DPO shape: the conversation so far, and one preferred and one non-preferred reply."""
    if not isinstance(ex, dict):
        return ["data_type"]
    inp = ex.get("input")
    messages = inp.get("messages") if isinstance(inp, dict) else None
    if not isinstance(messages, list) or not messages:
        return ["missing_input_messages"]
    errs = []
    for key in ("preferred_output", "non_preferred_output"):
        out = ex.get(key)
        if not (isinstance(out, list) and len(out) == 1 and isinstance(out[0], dict)
                and out[0].get("role") == "assistant"):
            errs.append(f"bad_{key}")
            continue
        errs += [e for e in chat_format_errors({"messages": messages + out}) if e not in errs]
    return errs


def _first_record(text: str, name: str) -> dict:
    first = text.lstrip()[:1]
    if first != "{":
        raise DataError(f"{name}: invalid file format for fine-tuning; expected JSON Lines (one JSON object per "
                        "line).", "Upload a .jsonl file: chat, prompt/completion or DPO examples "
                        "(`storyteller data prepare` writes one from a stories CSV).")
    line = text.lstrip().split("\n", 1)[0]
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{name}, line 1: not valid JSON ({e.msg}, column {e.colno}).",
                        "Each line must be one complete JSON object.") from None
    return rec if isinstance(rec, dict) else {}


def _dpo_records(text: str, name: str) -> list[tuple[dict, int]]:
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), n))
        except json.JSONDecodeError as e:
            raise DataError(f"{name}, line {n}: not valid JSON ({e.msg}, column {e.colno}).",
                            "Each line must be one complete JSON object; fix or delete that line.") from None
    return out


def check_upload(path: Path, name: str, max_bytes: int) -> Checked:
    """The format and example count of an upload; DataError naming the first bad line otherwise."""
    text, _ = read_text(path, max_bytes)
    first = _first_record(text, name)
    if any(k in first for k in DPO_KEYS):
        records, check, kind = _dpo_records(text, name), dpo_format_errors, "dpo"
    else:
        ds = read_dataset(path, max_bytes)
        kind = ds.kind
        if kind == "stories":
            empty = [n for r, n in zip(ds.records, ds.lines) if not r["story"].strip()]
            if empty:
                raise DataError(f"{name}, line {empty[0]}: the story is empty.", "Write the story or delete the line.")
            return Checked(kind="stories", examples=len(ds.records))
        records = list(zip(ds.records, ds.lines))
        check = chat_format_errors if kind == "chat" else legacy_format_errors
    bad = [(n, errs) for r, n in records if (errs := check(r))]
    if bad:
        n, errs = bad[0]
        words = "; ".join(DPO_WORDS.get(e) or FORMAT_WORDS.get(e, e) for e in dict.fromkeys(errs))
        more = f" (and {len(bad) - 1} more line(s))" if len(bad) > 1 else ""
        raise DataError(f"{name}, line {n}: {words}{more}.",
                        f"Every line must be a {kind} example like the first one; fix or delete those lines.")
    return Checked(kind=kind, examples=len(records))

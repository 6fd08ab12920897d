"""Which rows of a dataset are not safe for children, by category (storyteller.safety's policy).

The data check reports these (counts and row numbers, never the text), generation regenerates
them, and a fine-tune refuses a dataset that has any unless the parent overrides it.
"""

from __future__ import annotations

from pathlib import Path

from storyteller.data.io import read_dataset
from storyteller.errors import DataError
from storyteller.safety import Verdict, check_field, check_text

STORY_FIELDS = ("dynasty", "power", "style", "hero")
OVERRIDE_HINT = ("Remove those stories, or, if you have read them and still want to train on them, allow it "
                 "explicitly (`--allow-unsafe`, or the Training tab's checkbox).")


def record_verdict(ex: dict, kind: str) -> Verdict | None:
    """The first problem in one dataset record (a story row, a chat example or a legacy pair)."""
    if kind == "stories":
        for field in STORY_FIELDS:
            value = ex.get(field)
            if isinstance(value, str) and value.strip() and (v := check_field(field, value, "zh")):
                return v
        return check_text(str(ex.get("story") or ""), "zh")
    if kind == "chat":
        for m in ex.get("messages") or []:
            if isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str):
                if v := check_text(m["content"], "zh"):
                    return v
        return None
    return check_text(f"{ex.get('prompt') or ''}\n{ex.get('completion') or ''}", "zh")


def summary(unsafe: dict[str, list[int]]) -> str:
    """'violence x2 (rows 3, 9); horror x1 (row 4)' - categories and rows, never the text."""
    parts = []
    for category, rows in sorted(unsafe.items()):
        shown = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
        parts.append(f"{category} x{len(rows)} ({'row' if len(rows) == 1 else 'rows'} {shown})")
    return "; ".join(parts)


def unsafe_rows(path: str | Path) -> dict[str, list[int]]:
    """Category -> line numbers of the records in a dataset file that are not safe for children."""
    ds = read_dataset(Path(path))
    found: dict[str, list[int]] = {}
    for ex, line in zip(ds.records, ds.lines):
        if (v := record_verdict(ex, ds.kind)) is not None:
            found.setdefault(v.category, []).append(line)
    return found


def message(path: str | Path, unsafe: dict[str, list[int]]) -> str:
    n = sum(len(rows) for rows in unsafe.values())
    return f"{Path(path).name} has {n} stories that are not safe for children: {summary(unsafe)}."


def require_safe(paths: list[str | Path | None], allow_unsafe: bool = False) -> None:
    """Raise DataError, listing categories and rows, when a training file has unsafe stories and
    the parent has not explicitly allowed them."""
    if allow_unsafe:
        return
    for path in paths:
        if path and (unsafe := unsafe_rows(path)):
            raise DataError(message(path, unsafe), OVERRIDE_HINT)

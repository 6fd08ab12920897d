"""Read a dataset file safely: size limit first, strict UTF-8, line numbers in every error.

Understands the reference corpus CSV (index, dynasty, super_power, story_type, story), the
project's corpus JSONL (storyteller/corpus.py), the local trainer's JSONL, OpenAI chat JSONL
({"messages": [...]}) and legacy JSONL ({"prompt", "completion"}). Never writes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from storyteller.errors import DataError

MAX_BYTES = 50 * 1024 * 1024  # a story dataset is a few MB; anything bigger is a mistake
CSV_COLUMNS = ["index", "dynasty", "super_power", "story_type", "story"]
ALIASES = {"power": "super_power", "style": "story_type", "superpower": "super_power",
           # headers a parent may type in Chinese Excel
           "序号": "index", "朝代": "dynasty", "超能力": "super_power", "能力": "super_power",
           "风格": "story_type", "故事类型": "story_type", "类型": "story_type", "故事": "story"}
REQUIRED = ("dynasty", "super_power", "story_type", "story")
_SHORT = {"super_power": "power", "story_type": "style"}  # the names JSONL records use
# A header worth quoting back: a column name, not a line of some other file (`KEY=secret` from a .env)
_HEADER = re.compile(r"[\w \u4e00-\u9fff-]{0,40}")

csv.field_size_limit(max(csv.field_size_limit(), MAX_BYTES))  # one huge story is checked, not a crash

Kind = Literal["stories", "chat", "legacy"]


@dataclass
class Dataset:
    """Parsed records with their 1-based line numbers. `kind` says what the records are:
    stories (dicts with dynasty/power/style/story, maybe lang/hero), chat or legacy examples."""

    path: Path
    kind: Kind
    records: list = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    had_bom: bool = False
    source_format: str = ""


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> tuple[str, bool]:
    """The file's text and whether it had a UTF-8 BOM. Checks the size before reading."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path.name} is a folder, not a file.", "Give the CSV or JSONL file inside it.")
    if not path.is_file():
        raise DataError(f"{path.name}: file not found.", "Check the path and try again.")
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(
            f"{path.name} is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB limit.",
            "A story dataset is usually a few MB: split the file or remove what is not stories.",
        )
    if size == 0:
        raise DataError(f"{path.name} is empty.", "Give a CSV or JSONL file with stories in it.")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path.name} looks like a binary file, not text.", "Give a CSV or JSONL text file.")
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8-sig"), bom
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        guess = ""
        try:
            raw.decode("gb18030")
            guess = " It looks like GBK/GB18030 (common for files saved by Chinese Excel)."
        except UnicodeDecodeError:
            pass
        raise DataError(
            f"{path.name}, line {line}: the file is not UTF-8 text.{guess}",
            "用 Excel 打开，另存为「CSV UTF-8（逗号分隔）」/ Open it and save it again as 'CSV UTF-8' (Excel) "
            "or as UTF-8 (any text editor).",
        ) from None


def read_dataset(path: Path, max_bytes: int = MAX_BYTES) -> Dataset:
    """Parse a CSV or JSONL dataset (decided by content, not only by the file name)."""
    path = Path(path)
    text, bom = read_text(path, max_bytes)
    first = text.lstrip()[:1]
    if first == "[":
        raise DataError(f"{path.name}, line 1: this is one JSON list, not JSON Lines.",
                        "Write one JSON object per line (JSONL), without the surrounding [ ].")
    if path.suffix.lower() in (".jsonl", ".json") or first == "{":
        ds = _read_jsonl(path, text)
    else:
        ds = _read_csv(path, text)
    ds.had_bom = bom
    return ds


def _read_jsonl(path: Path, text: str) -> Dataset:
    records, lines = [], []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path.name}, line {n}: not valid JSON ({e.msg}, column {e.colno}).",
                "Each line must be one complete JSON object; fix or delete that line.",
            ) from None
        lines.append(n)
    if not records:
        raise DataError(f"{path.name} has no records.", "Give a JSONL file with one JSON object per line.")
    sample = next((r for r in records if isinstance(r, dict)), {})
    if "messages" in sample:
        return Dataset(path, "chat", records, lines, source_format="chat")
    if "prompt" in sample or "completion" in sample:
        return Dataset(path, "legacy", records, lines, source_format="legacy")
    if "story" in sample:
        fmt = "corpus" if "age_band" in sample else "local"
        stories = []
        for r, n in zip(records, lines):
            if not isinstance(r, dict):
                raise DataError(f"{path.name}, line {n}: expected a JSON object.", "Each line must be {...}.")
            stories.append(_story(r, path, n))
        return Dataset(path, "stories", stories, lines, source_format=fmt)
    raise DataError(
        f"{path.name}, line {lines[0]}: unknown record shape (keys: {', '.join(sorted(sample)) or 'none'}).",
        "Use chat ({\"messages\": [...]}), legacy ({\"prompt\", \"completion\"}) or story records "
        "({\"dynasty\", \"power\", \"style\", \"story\"}).",
    )


def _story(r: dict, path: Path, n: int) -> dict:
    out = {ALIASES.get(k, k): v for k, v in r.items()}
    missing = [_SHORT.get(k, k) for k in REQUIRED if k not in out]
    if missing:
        raise DataError(f"{path.name}, line {n}: missing {', '.join(missing)}.",
                        "Every story needs dynasty, power, style and story.")
    return {
        "dynasty": _s(out["dynasty"]), "power": _s(out["super_power"]), "style": _s(out["story_type"]),
        "story": _s(out["story"]), "lang": out.get("lang") or _guess_lang(_s(out["story"])),
        "hero": out.get("hero") or None,
    }


def _s(v) -> str:
    return "" if v is None else str(v)


def _guess_lang(text: str) -> str:
    """zh when at least a fifth of the first 400 non-space characters are Chinese."""
    head = "".join(text.split())[:400]
    cjk = sum(1 for ch in head if "\u4e00" <= ch <= "\u9fff")
    return "zh" if head and cjk * 5 >= len(head) else "en"


def _read_csv(path: Path, text: str) -> Dataset:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # strict: an unclosed quote is an error
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise DataError(f"{path.name}, line 1: cannot read the CSV header ({e}).", _CSV_FIX) from None
    names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    if names and names[0] == "":
        names[0] = "index"  # pandas writes the index column with an empty name
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        found = ", ".join(h.strip() if _HEADER.fullmatch(h.strip()) else "…" for h in header[:12])
        raise DataError(
            f"{path.name}, line 1: missing column(s) {', '.join(missing)} (found: {found}).",
            f"The first line must name the columns: {','.join(CSV_COLUMNS)}.",
        )
    pos = {c: names.index(c) for c in REQUIRED}
    records, lines = [], []
    start = 2
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                if len(row) != len(names):
                    raise DataError(
                        f"{path.name}, line {start}: expected {len(names)} fields, found {len(row)}.",
                        "A story with commas or line breaks must be inside double quotes; "
                        "an unclosed quote swallows the rows after it.",
                    )
                story = row[pos["story"]]
                records.append({
                    "dynasty": row[pos["dynasty"]].strip(), "power": row[pos["super_power"]].strip(),
                    "style": row[pos["story_type"]].strip(), "story": story,
                    "lang": _guess_lang(story), "hero": None,
                })
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        hint = " - a double quote opened on this row is never closed" if "end of data" in str(e) else ""
        raise DataError(f"{path.name}, line {start}: {e}{hint}.", _CSV_FIX) from None
    if not records:
        raise DataError(f"{path.name} has a header but no rows.", "Add stories below the header line.")
    return Dataset(path, "stories", records, lines, source_format="csv")


_CSV_FIX = "Save the file as CSV (comma-separated, UTF-8) with the columns " + ",".join(CSV_COLUMNS) + "."

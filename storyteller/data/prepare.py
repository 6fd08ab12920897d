"""Turn a story dataset into training files, with a reproducible train/validation split.

    storyteller data prepare stories.csv --format chat --out prepared/ --val 0.1 --seed 42

Formats (one JSON object per line unless csv):
- chat:   {"messages": [system, user, assistant]} built with prompts.build_messages, so a
          fine-tuned chat model sees exactly the prompt it gets at inference.
- legacy: {"prompt": "唐,隐形,轻松 ->\\n", "completion": " <story>\\n###"} for davinci/babbage-002.
- local:  {"dynasty", "power", "style", "lang", "hero", "story"} for the local trainer: plain
          fields, so the trainer builds its own prompt; hero is the named or catalog hero (or null).
- csv:    the reference corpus's columns (index, dynasty, super_power, story_type, story).
The split hashes each example with the seed, so it is the same on every run and an example
keeps its side when rows are added. Outputs are new files; the input is never touched.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from storyteller.data.formats import FORMAT_WORDS, chat_format_errors, legacy_format_errors
from storyteller.data.io import CSV_COLUMNS, Dataset, read_dataset
from storyteller.errors import DataError, InputError
from storyteller.prompts import LEGACY_STOP, StoryRequest, build_messages

Format = Literal["chat", "legacy", "local", "csv"]
FORMATS = ("chat", "legacy", "local", "csv")
MIN_EXAMPLES = 10  # OpenAI refuses fine-tuning files with fewer examples


class PrepareResult(BaseModel):
    format: str
    train_path: Path
    val_path: Path | None
    train_count: int
    val_count: int
    dropped_empty: int = 0
    dropped_duplicates: int = 0


def request_for(story: dict, line: int | None = None) -> StoryRequest:
    try:
        return StoryRequest(dynasty=story["dynasty"], power=story["power"], style=story["style"],
                            lang=story.get("lang") or "zh", hero=story.get("hero"))
    except (InputError, ValueError) as e:
        where = f"line {line}: " if line else ""
        raise DataError(f"{where}{e}", "Fill in dynasty, power and style on every row.") from None


def to_chat(story: dict, line: int | None = None) -> dict:
    messages = build_messages(request_for(story, line))
    return {"messages": messages + [{"role": "assistant", "content": story["story"].strip()}]}


def to_legacy(story: dict, line: int | None = None) -> dict:
    req = request_for(story, line)
    return {"prompt": req.legacy_prompt(), "completion": " " + story["story"].strip() + LEGACY_STOP}


def to_local(story: dict, line: int | None = None) -> dict:
    req = request_for(story, line)
    return {"dynasty": req.dynasty, "power": req.power, "style": req.style, "lang": req.lang,
            "hero": req.resolved_hero(), "story": story["story"].strip()}


def convert(ds: Dataset, fmt: Format) -> tuple[list[dict], int, int]:
    """(examples, dropped_empty, dropped_duplicates) in `fmt`; chat/legacy files pass through."""
    if fmt not in FORMATS:
        raise DataError(f"Unknown format {fmt!r}.", f"Choose one of: {', '.join(FORMATS)}.")
    if ds.kind != "stories":
        if ds.kind == fmt:
            _require_valid(ds)
            return list(ds.records), 0, 0
        raise DataError(f"{ds.path.name} is already in the {ds.kind} format and cannot become {fmt}.",
                        "Start from the stories (CSV or story JSONL) instead.")
    out, seen, empty, dups = [], set(), 0, 0
    for story, line in zip(ds.records, ds.lines):
        text = story["story"].strip()
        if not text:
            empty += 1
            continue
        key = (story["dynasty"], story["power"], story["style"], text)
        if key in seen:
            dups += 1
            continue
        seen.add(key)
        if fmt == "chat":
            out.append(to_chat(story, line))
        elif fmt == "legacy":
            out.append(to_legacy(story, line))
        else:
            out.append(to_local(story, line) | ({"index": len(out)} if fmt == "csv" else {}))
    return out, empty, dups


def _require_valid(ds: Dataset) -> None:
    """Chat/legacy files pass through as they are, so a broken example would reach the trainer."""
    bad = []
    for ex, line in zip(ds.records, ds.lines):
        errs = chat_format_errors(ex) if ds.kind == "chat" else legacy_format_errors(ex)
        if errs:
            bad.append((line, errs))
    if bad:
        line, errs = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"{ds.path.name}, line {line}: {'; '.join(FORMAT_WORDS.get(e, e) for e in dict.fromkeys(errs))}{more}.",
                        "Fix or delete those lines (`storyteller data check` lists them all), then prepare again.")


def split(examples: list[dict], val: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded, stable split: examples sorted by a hash of (seed, content); the first k go to val."""
    if not 0 <= val < 1:
        raise DataError(f"Validation share {val} must be between 0 and 1 (e.g. 0.1).")
    k = round(len(examples) * val)
    if val > 0 and k == 0 and len(examples) >= 2:
        k = 1
    def h(i_ex):
        blob = json.dumps(i_ex[1], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(f"{seed}\x00{blob}".encode()).hexdigest()
    ranked = sorted(enumerate(examples), key=h)
    val_ids = {i for i, _ in ranked[:k]}
    return ([e for i, e in enumerate(examples) if i not in val_ids],
            [e for i, e in enumerate(examples) if i in val_ids])


def write_examples(examples: list[dict], path: Path, fmt: str) -> None:
    """Write to a temp file, fsync, then rename: a crash never leaves half a dataset behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    if fmt == "csv":
        w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for i, e in enumerate(examples):
            w.writerow([i, e["dynasty"], e["power"], e["style"], e["story"]])
    else:
        for e in examples:
            buf.write(json.dumps(e, ensure_ascii=False) + "\n")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def prepare(src: Path, fmt: Format, out_dir: Path, val: float = 0.1, seed: int = 42) -> PrepareResult:
    src, out_dir = Path(src), Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir.name} is a file, not a folder.", "Give a folder for the prepared files.")
    ds = read_dataset(src)
    examples, empty, dups = convert(ds, fmt)
    train, valid = split(examples, val, seed)
    if fmt in ("chat", "legacy") and len(train) < MIN_EXAMPLES:
        raise DataError(
            f"{src.name} gives {len(train)} training examples; OpenAI needs at least {MIN_EXAMPLES}.",
            "Generate more stories (more dynasties, powers, styles or repeats) or lower --val.",
        )
    ext = "csv" if fmt == "csv" else "jsonl"
    train_path = out_dir / f"{src.stem}.{fmt}.train.{ext}"
    val_path = out_dir / f"{src.stem}.{fmt}.val.{ext}" if valid else None
    for p in (train_path, val_path):
        if p is not None and p.resolve() == src.resolve():
            raise DataError(f"The output {p.name} would overwrite the input.", "Choose another --out folder.")
    write_examples(train, train_path, fmt)
    if val_path is not None:
        write_examples(valid, val_path, fmt)
    return PrepareResult(format=fmt, train_path=train_path, val_path=val_path, train_count=len(train),
                         val_count=len(valid), dropped_empty=empty, dropped_duplicates=dups)

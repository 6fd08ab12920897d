"""The generation output file: append + flush + fsync per story, and crash repair on resume.

A run that dies mid-write leaves at most one partial record at the end. On resume we find the
end of the last complete record, move the partial tail to `<name>.partial-<time>` (kept, never
deleted) and cut the file there; valid rows are not rewritten. Keys already present are
counted per (dynasty, power, style) so the run skips exactly the stories it already has.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections import Counter
from pathlib import Path

try:  # POSIX; elsewhere two runs on one file are simply not prevented
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

from storyteller.data.io import CSV_COLUMNS
from storyteller.errors import DataError

Key = tuple[str, str, str]


def _fmt(path: Path) -> str:
    return "jsonl" if path.suffix.lower() in (".jsonl", ".json") else "csv"


def _lines(text: str) -> list[str]:
    """Lines split on \\n only (stories may hold U+2028 and friends, which splitlines breaks on)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _csv_records(text: str) -> tuple[list[tuple[int, str]], int]:
    """(complete records with their end offsets, offset where the complete part ends).

    A CSV record ends at a newline outside quotes; quotes inside fields are doubled, so the
    count of '"' in a complete record is even. Offsets are in characters."""
    records, start, end = [], 0, 0
    for line in _lines(text):
        end += len(line)
        chunk = text[start:end]
        if line.endswith("\n") and chunk.count('"') % 2 == 0:
            records.append((end, chunk))
            start = end
    return records, start


class StoryFile:
    """Append-only writer for generated stories (CSV with the reference columns, or JSONL)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.format = _fmt(self.path)
        self.done: Counter[Key] = Counter()
        self.rows = 0
        self.repaired_tail: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a", encoding="utf-8", newline="")  # never truncates
        except OSError as e:
            raise DataError(f"Cannot write {self.path}: {e.strerror or e}.",
                            "Choose a file name in a folder you can write to.") from None
        try:
            self._lock()
            self._load()
        except BaseException:
            self._f.close()
            raise
        if self.format == "csv" and self.path.stat().st_size == 0:
            self._append(self._csv_line(CSV_COLUMNS))

    def _lock(self) -> None:
        """One writer per file: two runs appending the same stories would interleave and duplicate."""
        if fcntl is None:
            return
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DataError(f"{self.path.name} is being written by another generation right now.",
                            "Wait for it to finish (or stop it), or choose another file name.") from None

    def _load(self) -> None:
        if self.path.stat().st_size == 0:
            return
        raw = self.path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{self.path.name} exists and is not a UTF-8 story file.",
                            "Choose a new output file name.") from None
        if self.format == "csv":
            good_end, keys = self._scan_csv(text)
        else:
            good_end, keys = self._scan_jsonl(text)
        self.done.update(keys)
        self.rows = len(keys)
        if good_end < len(text):
            self._repair(text, good_end)

    def _scan_csv(self, text: str) -> tuple[int, list[Key]]:
        records, good_end = _csv_records(text)
        if not records or next(csv.reader([records[0][1]])) != CSV_COLUMNS:
            raise DataError(f"{self.path.name} exists but is not a story CSV ({','.join(CSV_COLUMNS)}).",
                            "Choose a new output file name, or the file of the run you want to resume.")
        keys = []
        for i, (end, rec) in enumerate(records[1:], 1):
            row = next(csv.reader(io.StringIO(rec, newline="")), [])
            if len(row) != len(CSV_COLUMNS):
                if i == len(records) - 1:  # a damaged last record: treat as the partial tail
                    return records[i - 1][0], keys
                raise DataError(f"{self.path.name}: record {i} has {len(row)} fields.",
                                "The file was edited by hand; choose a new output file name.")
            keys.append((row[1], row[2], row[3]))
        return good_end, keys

    def _scan_jsonl(self, text: str) -> tuple[int, list[Key]]:
        keys, offset = [], 0
        lines = _lines(text)
        for n, line in enumerate(lines, 1):
            try:
                r = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                if n == len(lines):
                    return offset, keys
                raise DataError(f"{self.path.name}, line {n}: not valid JSON.",
                                "The file was edited by hand; choose a new output file name.") from None
            if r is not None:
                keys.append((r.get("dynasty", ""), r.get("power", ""), r.get("style", "")))
            offset += len(line)
        return offset, keys

    def _repair(self, text: str, good_end: int) -> None:
        """Keep the partial tail beside the file, then cut the file after its last good record."""
        tail = text[good_end:]
        if tail.strip():
            self.repaired_tail = self.path.with_name(f"{self.path.name}.partial-{time.strftime('%Y%m%d-%H%M%S')}")
            self.repaired_tail.write_text(tail, encoding="utf-8")
        size = len(text[:good_end].encode("utf-8"))
        with open(self.path, "r+b") as f:
            f.truncate(size)
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _csv_line(row: list) -> str:
        buf = io.StringIO(newline="")
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(row)
        return buf.getvalue()

    def _append(self, line: str) -> None:
        self._f.write(line)
        self._f.flush()
        os.fsync(self._f.fileno())

    def write(self, key: Key, story: str, extra: dict | None = None) -> None:
        """Append one story as a whole record: one write, then flush and fsync."""
        d, p, s = key
        if self.format == "csv":
            line = self._csv_line([self.rows, d, p, s, story])
        else:
            rec = {"index": self.rows, "dynasty": d, "power": p, "style": s} | (extra or {}) | {"story": story}
            line = json.dumps(rec, ensure_ascii=False) + "\n"
        self._append(line)
        self.done[key] += 1
        self.rows += 1

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "StoryFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Preference data from the family's ratings and picks, for DPO and KTO training.

    pairs, singles, report = collect(Library())          # typed records, for a trainer in-process
    report = export(Library(), "openai-dpo", Path("prefs.jsonl"))

Where the data comes from:
- a pick between two stories for one request (left or right) is one pair (chosen, rejected);
  a tie says nothing about which is better and is left out; "both bad" makes two 👎 singles;
- 👍 and 👎 on stories told for the same request (same choices, language and age band) make pairs
  too, each 👍 with one 👎, in the order they were told;
- every 👍 and 👎 is one single (story, label) for KTO, which needs no pairs.

Every record passes the dataset check (no empty or garbled story, under the token limit, the two
sides of a pair differ) and the child-safety check (`storyteller.safety`), in the story's
language; what fails is left out and counted in the report by reason and category, never quoted.

Formats (one JSON object per line):
- trl:        {"prompt": [system, user], "chosen": [assistant], "rejected": [assistant]}
              (trl's conversational preference format, for DPOTrainer), and "model_text":
              {"chosen", "rejected"} when both stories were kept in the model's own words;
- openai-dpo: {"input": {"messages": [system, user]}, "preferred_output": [assistant],
              "non_preferred_output": [assistant]} (OpenAI's preference fine-tuning input);
- kto:        {"prompt": [system, user], "completion": [assistant], "label": true|false}
              (trl's conversational unpaired preference format, for KTOTrainer), and "model_text".
"model_text" is the story as the embedded model wrote it, in its slot tokens, before the story world
showed its own lines (the story engine keeps it): our trainer learns from the model's own words;
other trainers ignore the extra key. OpenAI's format has no room for it.
The prompt is `prompts.build_messages` of the story's request: what a chat model is asked at
inference, as in the chat SFT files (`storyteller.data.prepare`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from storyteller.data import tokens as tok
from storyteller.data.check import MAX_TOKENS_PER_EXAMPLE
from storyteller.data.prepare import MIN_EXAMPLES
from storyteller.finetune.preference import MAX_STORY_CHARS
from storyteller.errors import InputError
from storyteller.library.store import Library, StoryEntry
from storyteller.prompts import StoryRequest, build_messages
from storyteller.safety import check_text

Format = Literal["trl", "openai-dpo", "kto"]
FORMATS: tuple[str, ...] = ("trl", "openai-dpo", "kto")
REQUEST_KEYS = ("dynasty", "power", "style", "lang", "hero", "age_band")  # "the same request"


class PreferencePair(BaseModel):
    prompt: list[dict[str, str]]
    request: dict
    chosen: str
    rejected: str
    chosen_id: int
    rejected_id: int
    source: Literal["pick", "thumbs"]
    model_text: dict[str, str] | None = None  # {"chosen", "rejected"}: both stories in the model's own words


class Single(BaseModel):
    prompt: list[dict[str, str]]
    request: dict
    completion: str
    label: bool
    story_id: int
    source: Literal["thumbs", "both_bad"]
    model_text: str | None = None


class PreferenceReport(BaseModel):
    """What went into an export and what was left out (counts and categories only)."""

    format: str | None = None
    path: str | None = None
    written: int = 0
    pairs: int = 0
    singles: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)  # reason -> records left out
    unsafe: dict[str, int] = Field(default_factory=dict)  # safety category -> stories left out
    warnings: list[str] = Field(default_factory=list)
    notes: dict[str, int] = Field(default_factory=dict)  # the warnings by code (too_few, one_kind), for a page to word

    def text(self) -> str:
        lines = [f"{self.written} examples ({self.format}) -> {self.path}" if self.path else
                 f"{self.pairs} pairs, {self.singles} single ratings"]
        if self.dropped:
            lines.append("left out: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.dropped.items())))
        if self.unsafe:
            lines.append("not safe for children: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.unsafe.items())))
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def _prompt(entry: StoryEntry) -> list[dict[str, str]] | None:
    try:
        return build_messages(StoryRequest(**{k: v for k, v in entry.request.items() if k in StoryRequest.model_fields}))
    except (ValidationError, InputError, TypeError):
        return None


def _key(entry: StoryEntry) -> tuple:
    return tuple(str(entry.request.get(k) or "") for k in REQUEST_KEYS)


class _Checker:
    """The dataset and safety checks, one verdict per story (cached), reasons counted once per record."""

    def __init__(self, report: PreferenceReport):
        self.report = report
        self._seen: dict[int, str | None] = {}

    def problem(self, entry: StoryEntry) -> str | None:
        if entry.id not in self._seen:
            self._seen[entry.id] = self._check(entry)
        return self._seen[entry.id]

    def _check(self, entry: StoryEntry) -> str | None:
        text = (entry.text or "").strip()
        if not text:
            return "empty_story"
        if "\ufffd" in text:
            return "garbled_text"
        if (verdict := check_text(text, entry.lang)) is not None:
            return f"unsafe:{verdict.category}"
        prompt = _prompt(entry)
        if prompt is None:
            return "bad_request"
        if tok.count_messages(prompt + [{"role": "assistant", "content": text}]) > MAX_TOKENS_PER_EXAMPLE:
            return "over_token_limit"
        return None

    def model_text(self, entry: StoryEntry) -> str | None:
        """The story in the model's own words, when it passes the same checks (else the shown story is
        learnt from alone)."""
        said = entry.model_text
        if not said or not said.strip() or "\ufffd" in said or len(said) > MAX_STORY_CHARS:
            return None
        return said if check_text(said, entry.lang) is None else None

    def drop(self, reason: str) -> None:
        if reason.startswith("unsafe:"):
            category = reason.split(":", 1)[1]
            self.report.unsafe[category] = self.report.unsafe.get(category, 0) + 1
            reason = "unsafe_story"
        self.report.dropped[reason] = self.report.dropped.get(reason, 0) + 1


def collect(library: Library) -> tuple[list[PreferencePair], list[Single], PreferenceReport]:
    """Every checked preference pair and single rating of the library's family."""
    report = PreferenceReport()
    checker = _Checker(report)
    picks = library.pairs()
    rated = library.rated()
    stories = {e.id: e for e in rated}
    missing = {i for p in picks for i in (p.left_id, p.right_id)} - set(stories)
    stories |= library.stories_by_id(missing)

    pairs: list[PreferencePair] = []
    seen_pairs: set[tuple[int, int]] = set()

    def add_pair(good: StoryEntry, bad: StoryEntry, source: str) -> None:
        if (good.id, bad.id) in seen_pairs:
            return
        seen_pairs.add((good.id, bad.id))
        problem = checker.problem(good) or checker.problem(bad)
        if problem is None and (good.text or "").strip() == (bad.text or "").strip():
            problem = "identical_pair"
        if problem is not None:
            checker.drop(problem)
            return
        said = {"chosen": checker.model_text(good), "rejected": checker.model_text(bad)}
        pairs.append(PreferencePair(prompt=_prompt(good), request=good.request, chosen=good.text.strip(),
                                    rejected=bad.text.strip(), chosen_id=good.id, rejected_id=bad.id, source=source,
                                    model_text=said if all(said.values()) else None))

    labels: dict[int, tuple[bool, str]] = {e.id: (e.rating == 1, "thumbs") for e in rated}
    ties = 0
    for p in picks:
        left, right = stories.get(p.left_id), stories.get(p.right_id)
        if left is None or right is None or p.choice is None:
            continue
        if p.choice == "left":
            add_pair(left, right, "pick")
        elif p.choice == "right":
            add_pair(right, left, "pick")
        elif p.choice == "both_bad":
            for e in (left, right):
                labels.setdefault(e.id, (False, "both_bad"))
        else:
            ties += 1
    by_request: dict[tuple, tuple[list[StoryEntry], list[StoryEntry]]] = {}
    for e in rated:
        ups, downs = by_request.setdefault(_key(e), ([], []))
        (ups if e.rating == 1 else downs).append(e)
    for ups, downs in by_request.values():
        for good, bad in zip(ups, downs):
            add_pair(good, bad, "thumbs")

    singles: list[Single] = []
    for sid, (label, source) in sorted(labels.items()):
        entry = stories[sid]
        if (problem := checker.problem(entry)) is not None:
            checker.drop(problem)
            continue
        singles.append(Single(prompt=_prompt(entry), request=entry.request, completion=entry.text.strip(),
                              label=label, story_id=sid, source=source, model_text=checker.model_text(entry)))
    if ties:
        report.dropped["tie"] = ties
    report.pairs, report.singles = len(pairs), len(singles)
    return pairs, singles, report


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def records(library: Library, fmt: str) -> tuple[list[dict], PreferenceReport]:
    """The export's lines as dicts (a trainer may take these without a file), and the report."""
    if fmt not in FORMATS:
        raise InputError(f"Unknown format {str(fmt)[:30]!r}: choose trl, openai-dpo or kto.",
                         zh="格式只能是 trl、openai-dpo 或 kto。")
    pairs, singles, report = collect(library)
    report.format = fmt
    if fmt == "kto":
        lines = [{"prompt": s.prompt, "completion": _assistant(s.completion), "label": s.label}
                 | ({"model_text": s.model_text} if s.model_text else {}) for s in singles]
        labels = Counter(s.label for s in singles)
        if singles and (not labels[True] or not labels[False]):
            report.warnings.append("KTO learns best from both 👍 and 👎 stories; all ratings here are one kind.")
            report.notes["one_kind"] = len(singles)
    elif fmt == "trl":
        lines = [{"prompt": p.prompt, "chosen": _assistant(p.chosen), "rejected": _assistant(p.rejected)}
                 | ({"model_text": p.model_text} if p.model_text else {}) for p in pairs]
    else:
        lines = [{"input": {"messages": p.prompt}, "preferred_output": _assistant(p.chosen),
                  "non_preferred_output": _assistant(p.rejected)} for p in pairs]
    if fmt == "openai-dpo" and lines and len(lines) < MIN_EXAMPLES:
        report.warnings.append(f"only {len(lines)} examples; OpenAI needs at least {MIN_EXAMPLES} to fine-tune.")
        report.notes["too_few"] = len(lines)
    report.written = len(lines)
    return lines, report


def export(library: Library, fmt: str, out: Path | str) -> PreferenceReport:
    """Write the family's preference data as JSONL to `out` (replaced whole, never half-written)."""
    lines, report = records(library, fmt)
    if not lines:
        what = "single ratings" if fmt == "kto" else "pairs"
        raise InputError(f"There are no {what} to export yet. Rate stories 👍/👎, or tell two and pick one.",
                         zh="还没有可以导出的评价。先给故事点 👍/👎，或者讲两个故事选一个。")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out.name} is a folder; give a file name, like prefs.jsonl.",
                         zh=f"{out.name} 是一个文件夹，请给一个文件名，比如 prefs.jsonl。")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    with open(part, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(part, out)
    report.path = str(out)
    return report

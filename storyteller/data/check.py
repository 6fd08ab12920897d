"""Check a dataset before anyone pays to train on it; one report for the UI, CLI and training.

    storyteller data check stories.csv [--json]

Runs OpenAI's cookbook checks for chat fine-tuning data (format errors by type, tokens per
example, the 65,536-token limit, default epochs and billed tokens), plus empty or duplicate
stories, missing fields, encoding problems and the legacy prompt/completion checks. Story files
are checked as the chat examples `prepare --format chat` would make from them.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from storyteller.data import pricing
from storyteller.data import tokens as tok
from storyteller.data import unsafe as safety
from storyteller.data.formats import FORMAT_WORDS, chat_format_errors, legacy_format_errors
from storyteller.data.io import MAX_BYTES, read_dataset
from storyteller.data.prepare import MIN_EXAMPLES, to_chat
from storyteller.errors import DataError
from storyteller.prompts import LEGACY_SEPARATOR, LEGACY_STOP

MAX_TOKENS_PER_EXAMPLE = 65_536
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25_000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
_MOJIBAKE = re.compile("[ÃÂâåæçèéäïðœ][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u02c6\u02dc]")


class Issue(BaseModel):
    code: str
    severity: Literal["error", "warning"]
    count: int
    lines: list[int] = Field(default_factory=list, description="First few line numbers (1-based).")
    message: str


class TokenStats(BaseModel):
    min: int = 0
    max: int = 0
    mean: float = 0.0
    p5: int = 0
    p95: int = 0
    total: int = 0


class CheckReport(BaseModel):
    path: str
    kind: str
    source_format: str
    examples: int
    issues: list[Issue] = Field(default_factory=list)
    format_errors: dict[str, int] = Field(default_factory=dict)
    tokens: TokenStats = Field(default_factory=TokenStats)
    encoding: str = tok.ENCODING
    exact_tokens: bool = False
    over_limit: int = 0
    epochs: int = 0
    billed_tokens: int = 0
    costs_usd: dict[str, float] = Field(default_factory=dict)
    prices_as_of: str = pricing.AS_OF
    price_source: str = pricing.SOURCE
    preview: list[dict] = Field(default_factory=list)
    unsafe: dict[str, list[int]] = Field(default_factory=dict, description="Category -> line numbers of stories not safe for children.")

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def require_trainable(self, allow_unsafe: bool = False) -> None:
        """Raise DataError with the first blocking problem; training calls this first. Unsafe
        stories block too, unless the parent explicitly allows them (`allow_unsafe`)."""
        for i in self.issues:
            if i.severity == "error" and not (allow_unsafe and i.code == "unsafe_story"):
                if i.code == "unsafe_story":
                    raise DataError(safety.message(self.path, self.unsafe), safety.OVERRIDE_HINT)
                where = f" (line {i.lines[0]})" if i.lines else ""
                raise DataError(f"{Path(self.path).name}: {i.message}{where}.", "Run `storyteller data check`.")

    def text(self, preview: bool = True) -> str:
        """The report for people, as the CLI prints it (the web page shows the preview as a table)."""
        t = self.tokens
        out = [f"{Path(self.path).name}: {self.examples} examples ({self.source_format}); "
               + ("OK to train" if self.ok else "NOT ready to train")]
        for i in self.issues:
            lines = f" lines {', '.join(map(str, i.lines))}" if i.lines else ""
            out.append(f"  {i.severity.upper():7} {i.code} x{i.count}: {i.message}{lines}")
        how = "tiktoken" if self.exact_tokens else "estimated (tiktoken BPE file not on this machine)"
        out.append(f"Tokens per example ({self.encoding}, {how}): min {t.min}, max {t.max}, mean {t.mean:.0f}, "
                   f"p5 {t.p5}, p95 {t.p95}; {self.over_limit} over {MAX_TOKENS_PER_EXAMPLE}")
        out.append(f"Default epochs {self.epochs}; billed tokens {self.billed_tokens:,}")
        out.append(f"Estimated training cost (prices as of {self.prices_as_of}):")
        out += [f"  {m:28} ${c:,.2f}" for m, c in self.costs_usd.items()]
        if preview:
            out.append("Preview:")
            out += ["  " + json.dumps(p, ensure_ascii=False)[:160] for p in self.preview]
        return "\n".join(out)


def default_epochs(n: int) -> int:
    """The number of epochs OpenAI picks for n examples (cookbook rule)."""
    if n == 0:
        return 0
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS


def _text_problems(text: str) -> list[str]:
    found = []
    if "\ufffd" in text:
        found.append("replacement_char")
    if _MOJIBAKE.search(text):
        found.append("mojibake")
    return found


def _percentile(sorted_vals: list[int], q: float) -> int:
    if not sorted_vals:
        return 0
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))]


_MESSAGES = {
    "too_few_examples": f"fewer than {MIN_EXAMPLES} examples; OpenAI needs at least {MIN_EXAMPLES}",
    "over_token_limit": f"examples over {MAX_TOKENS_PER_EXAMPLE} tokens are cut off in training",
    "empty_story": "empty story; delete the row or write the story",
    "missing_field": "dynasty, power or style is empty",
    "duplicate_story": "the same story appears more than once (duplicates teach the model to repeat)",
    "bom": "the file starts with a byte-order mark (BOM); it was read fine, but some tools choke on it",
    "replacement_char": "contains \ufffd: characters were lost when the file was converted; re-export as UTF-8",
    "mojibake": "looks garbled (UTF-8 read as Latin-1, e.g. 'Ã¥'); re-export the file as UTF-8",
    "missing_prompt_or_completion": "legacy example without a prompt or completion",
    "prompt_separator": f"prompt does not end with the separator {LEGACY_SEPARATOR!r}",
    "completion_stop": f"completion does not end with the stop sequence {LEGACY_STOP!r}",
    "completion_leading_space": "completion should start with a space (legacy tokenization)",
    "unsafe_story": "stories not safe for children",
}
_WARNINGS = {"duplicate_story", "bom", "mojibake", "replacement_char", "prompt_separator", "completion_stop",
             "completion_leading_space"}


def check(path: Path, max_bytes: int = MAX_BYTES) -> CheckReport:
    """Read and check a dataset; DataError only when the file cannot be read at all."""
    ds = read_dataset(Path(path), max_bytes)
    found: dict[str, list[int]] = {}
    fmt_errors: Counter = Counter()
    lens, lens_cl, texts, preview = [], [], [], []
    unsafe: dict[str, list[int]] = {}

    def flag(code, line):
        found.setdefault(code, []).append(line)

    for ex, line in zip(ds.records, ds.lines):
        verdict = safety.record_verdict(ex, ds.kind)
        if verdict is not None:  # counted by category; the text is never shown, not even in the preview
            flag("unsafe_story", line)
            unsafe.setdefault(verdict.category, []).append(line)
        if ds.kind == "stories":
            if not ex["story"].strip():
                flag("empty_story", line)
            if not all(ex[k].strip() for k in ("dynasty", "power", "style")):
                flag("missing_field", line)
                continue
            chat, text = to_chat(ex, line), ex["story"].strip()
            if len(preview) < 5 and verdict is None:
                preview.append({"dynasty": ex["dynasty"], "power": ex["power"], "style": ex["style"],
                                "story": text[:80]})
        elif ds.kind == "chat":
            errs = chat_format_errors(ex)
            fmt_errors.update(errs)
            if errs:
                flag("format_error", line)
                continue
            chat = ex
            text = next(m["content"] for m in reversed(ex["messages"]) if m["role"] == "assistant")
            if len(preview) < 5 and verdict is None:
                preview.append({m["role"]: m["content"][:80] for m in ex["messages"]})
        else:
            if legacy_format_errors(ex):
                flag("missing_prompt_or_completion", line)
                continue
            p, text = ex["prompt"], ex["completion"]
            if not p.endswith(LEGACY_SEPARATOR.rstrip("\n")) and not p.endswith(LEGACY_SEPARATOR):
                flag("prompt_separator", line)
            if not text.endswith(LEGACY_STOP):
                flag("completion_stop", line)
            if not text.startswith(" "):
                flag("completion_leading_space", line)
            chat = None
            if len(preview) < 5 and verdict is None:
                preview.append({"prompt": p[:40], "completion": text[:80]})
        texts.append((text.strip(), line))
        for code in _text_problems(text):
            flag(code, line)
        if chat is not None:
            lens.append(tok.count_messages(chat["messages"]))
            lens_cl.append(tok.count_messages(chat["messages"], "cl100k_base"))
        else:
            lens.append(tok.count(p) + tok.count(text))
            lens_cl.append(tok.count(p, "cl100k_base") + tok.count(text, "cl100k_base"))
        if lens[-1] > MAX_TOKENS_PER_EXAMPLE:
            flag("over_token_limit", line)

    counts = Counter(t for t, _ in texts if t)
    for t, line in texts:
        if t and counts[t] > 1:
            flag("duplicate_story", line)
    n = len(ds.records)
    if n < MIN_EXAMPLES:
        found["too_few_examples"] = []
    if ds.had_bom:
        found["bom"] = [1]

    issues = []
    for code, lines in found.items():
        if code == "format_error":
            detail = "; ".join(f"{FORMAT_WORDS.get(k, k)} ({k}) x{v}" for k, v in sorted(fmt_errors.items()))
            issues.append(Issue(code=code, severity="error", count=len(lines), lines=lines[:10],
                                message=f"chat format errors: {detail}"))
            continue
        detail = f": {safety.summary(unsafe)}" if code == "unsafe_story" else ""  # categories and rows, no text
        issues.append(Issue(code=code, severity="warning" if code in _WARNINGS else "error",
                            count=len(lines) or (n if code == "too_few_examples" else 1), lines=lines[:10],
                            message=_MESSAGES[code] + detail))

    s = sorted(lens)
    epochs = default_epochs(len(lens))
    billed = {enc: sum(min(MAX_TOKENS_PER_EXAMPLE, x) for x in ls) * epochs
              for enc, ls in (("o200k_base", lens), ("cl100k_base", lens_cl))}
    costs = {}
    for model, row in pricing.FINE_TUNABLE.items():
        if ds.kind == "legacy" and model not in pricing.LEGACY_BASES:
            continue
        enc = "o200k_base" if row.startswith(("gpt-4o", "gpt-4.1")) else "cl100k_base"
        costs[model] = round(pricing.training_cost(model, billed[enc]) or 0.0, 4)
    return CheckReport(
        path=str(ds.path), kind=ds.kind, source_format=ds.source_format, examples=n, issues=issues,
        format_errors=dict(fmt_errors), exact_tokens=tok.is_exact(),
        tokens=TokenStats(min=s[0], max=s[-1], mean=sum(s) / len(s), p5=_percentile(s, 0.05),
                          p95=_percentile(s, 0.95), total=sum(s)) if s else TokenStats(),
        over_limit=len(found.get("over_token_limit", [])), epochs=epochs, billed_tokens=billed["o200k_base"],
        costs_usd=costs, preview=preview, unsafe=unsafe,
    )

"""Incremental sentence splitting for streamed zh/en text.

A sentence ends at 。！？!?…; or a '.' that is not part of a number or an abbreviation, plus any
closing quotes or brackets right after it; a blank line also ends one. Text is fed chunk by
chunk, so a sentence is only released once the character after its end has arrived (or on
flush): "3." could still become "3.14".
"""

from __future__ import annotations

import re

TERMINATORS = "。！？!?；;…"
CLOSERS = "”’」』）)】\"'"
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "mt", "vs", "etc", "e.g", "i.e", "no"}
MIN_CHARS = 2  # a lone "！" is not worth a separate clip


class SentenceSplitter:
    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, chunk: str) -> list[str]:
        self.buffer += chunk
        out = []
        while (end := self._boundary()) is not None:
            sentence, self.buffer = self.buffer[:end], self.buffer[end:]
            if len(sentence.strip()) >= MIN_CHARS:
                out.append(sentence.strip())
            elif out and sentence.strip():
                out[-1] += sentence.strip()
        return out

    def flush(self) -> list[str]:
        rest, self.buffer = self.buffer.strip(), ""
        return [rest] if rest else []

    def _boundary(self) -> int | None:
        """Index just past the first complete sentence in the buffer, or None."""
        text = self.buffer
        for i, ch in enumerate(text):
            if ch == "\n" and text[:i].strip() and i + 1 < len(text):
                return i + 1
            if ch not in TERMINATORS and ch != ".":
                continue
            j = i + 1
            while j < len(text) and (text[j] in TERMINATORS or text[j] in CLOSERS or text[j] == "."):
                j += 1
            if j >= len(text):
                return None  # more punctuation or quotes may still arrive
            if ch == "." and not self._ends_english_sentence(text, i, j):
                continue
            return j
        return None

    @staticmethod
    def _ends_english_sentence(text: str, i: int, j: int) -> bool:
        if i > 0 and text[i - 1].isdigit() and text[j].isdigit():
            return False  # 365.2425
        word = re.search(r"([A-Za-z.]+)$", text[:i])
        if word and word.group(1).lower().rstrip(".") in ABBREVIATIONS:
            return False
        return text[j].isspace() or not text[j].isascii()


def split_sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()

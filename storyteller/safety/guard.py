"""The streaming guard: every sentence of a story is checked before the child sees or hears it.

    guard = StoryGuard("zh", check=Checker("zh", Moderator.from_settings()))
    for sentence in guard.run(open_stream):      # open_stream(story_so_far, banned) -> text chunks
        show(sentence)
    guard.events                                  # what was blocked: category and action, no text

The sentence being written is held back until its clause ends (at a comma, a colon or the
sentence's end; a run-on is cut at a space once it grows long). Each clause is checked with the
sentence so far before it, so "he raised the sword, / and swung it at his friend" is judged whole;
only then is it yielded. (Sentence by sentence, the first text waited for the whole first sentence.)
A blocked sentence is never yielded: the guard asks for the story again from the text shown so
far with the blocked words banned (local models resample, chat models are asked for the rest),
up to `tries` times, and otherwise ends the story kindly with a warm sentence. The guard knows
nothing about engines: the caller's `open_stream` turns (prefix, banned) into a model request.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

from pydantic import BaseModel

from storyteller.safety.policy import Verdict, banned_terms, check_text

log = logging.getLogger(__name__)

ENDERS = "。！？!?.…\n"
CLOSERS = "”’\"'」』）)】"
SOFT_BREAKS = "，,、;；：: "
CLAUSE_BREAKS = "，,;；：:"  # a clause ends here (not at 、: "笔、墨、纸" is one list)
HELD_MAX = 160  # characters: a sentence still open at this length is cut at a soft break and checked
TRIES = 3  # new continuations for one blocked spot, then the kind ending
BLOCKS_MAX = 8  # blocked sentences in one story, then the kind ending
KIND_ENDING = {
    "zh": "最后，怪兽被送回了自己的家，大家手拉着手，开开心心、平平安安地回家了。",
    "en": "In the end, the monster went back to its own home, and everyone went home together, safe and happy.",
}
_END = re.compile("(?:[" + re.escape(ENDERS.replace(".", "")) + r"]+|\.+)[" + re.escape(CLOSERS) + "]*")
_CLAUSE = re.compile("[" + re.escape(CLAUSE_BREAKS) + "]+[" + re.escape(CLOSERS) + "]*")


class Check(Protocol):
    def __call__(self, text: str) -> Verdict | None: ...


class Checker:
    """The local policy, then (with an OpenAI key) the moderation endpoint for what it let through."""

    def __init__(self, lang: str, moderator: object | None = None):
        self.lang, self.moderator = lang, moderator

    def __call__(self, text: str) -> Verdict | None:
        verdict = check_text(text, self.lang)
        if verdict is None and self.moderator is not None:
            verdict = self.moderator.check(text)
        return verdict


class Event(BaseModel):
    """One blocked sentence, for the log and the store: never its text."""

    category: str
    reason: str
    action: Literal["retry", "kind_ending", "dropped"]  # dropped: the story was stopped or failed there
    at: int  # characters of the story shown before it
    seconds: float  # time from the start of the story


class Sentences:
    """Splits streamed text into finished sentences (with `clauses`, finished clauses), keeping every
    character (joined, the pieces are the text). A '.' or ',' waits for the next character ("3.14",
    "1,000", "..."); other enders end a sentence at once (a closing quote that arrives later starts
    the next piece, which changes nothing shown)."""

    def __init__(self, clauses: bool = False) -> None:
        self.buffer = ""
        self.clauses = clauses
        self.cut_open = False  # the last piece was cut before its sentence ended
        self.opens: list[bool] = []  # for each piece the last feed returned: cut before its sentence ended

    def feed(self, chunk: str) -> list[str]:
        self.buffer += chunk
        out, self.opens = [], []
        while (cut := self._cut()) is not None:
            out.append(self.buffer[:cut])
            self.opens.append(self.cut_open)
            self.buffer = self.buffer[cut:]
        return out

    def flush(self) -> str:
        rest, self.buffer = self.buffer, ""
        return rest

    def _cut(self) -> int | None:
        text = self.buffer
        end = self._end(text, _END, ".")
        clause = self._end(text, _CLAUSE, ",") if self.clauses else None
        if clause is not None and (end is None or clause < end):
            self.cut_open = True
            return clause
        if end is not None:
            self.cut_open = False
            return end
        if len(text) >= HELD_MAX:  # a run-on: cut after the last soft break, else at the cap
            self.cut_open = True
            soft = max(text.rfind(c, 0, HELD_MAX) for c in SOFT_BREAKS)
            return soft + 1 if soft >= HELD_MAX // 4 else HELD_MAX
        return None

    @staticmethod
    def _end(text: str, pattern: re.Pattern, waits: str) -> int | None:
        """Where the first piece ending in `pattern` ends; a `waits` character needs to see the next one
        ("3." may become "3.14"; "1," may become "1,000"), and a digit after it means no end there."""
        for m in pattern.finditer(text):
            end = m.end()
            if text[m.start()] == waits and m.group().rstrip(CLOSERS).endswith(waits):
                if end == len(text):
                    return None
                if text[end].isalnum():
                    continue  # 365.2425, e.g.
            if text[:end].strip():
                return end
        return None


class StoryGuard:
    """Runs one story through the check; see the module docstring."""

    def __init__(self, lang: str, check: Check | None = None, tries: int = TRIES, can_continue: bool = True,
                 stopped: Callable[[], bool] = lambda: False):
        self.lang = lang if lang in KIND_ENDING else "en"
        self.check = check or Checker(self.lang)
        self.tries, self.can_continue, self.stopped = tries, can_continue, stopped
        self.events: list[Event] = []
        self.shown = ""
        self.checked = 0  # sentences checked
        self.check_s = 0.0  # seconds spent checking them
        self._blocked_text = ""
        self._started = time.perf_counter()

    def run(self, open_stream: Callable[[str, list[str]], Iterable[str]]) -> Iterator[str]:
        """Safe pieces of the story, in order. An engine error is re-raised once the checked rest of
        the sentence being written has been yielded (the text so far is kept)."""
        banned: list[str] = []
        spot_tries = 0  # new continuations asked for the current blocked spot
        while True:
            splitter, context, first = Sentences(clauses=True), "", True
            blocked: Verdict | None = None
            failure: Exception | None = None
            stream = iter(open_stream(self.shown, list(banned)))
            try:
                for chunk in stream:
                    if first and chunk:
                        chunk, first = self._space(chunk), False
                    pieces = splitter.feed(chunk)  # a chunk may hold several clauses (a filled slot)
                    for piece, still_open in zip(pieces, splitter.opens):
                        if (blocked := self._check(context + piece)) is not None:
                            break
                        context = (context + piece)[-HELD_MAX:] if still_open else ""
                        spot_tries = 0
                        yield self._show(piece)
                    if blocked is not None:
                        break
            except Exception as e:  # the engine failed midway: keep what is safe of the sentence so far
                failure = e
            finally:
                if callable(close := getattr(stream, "close", None)):
                    close()
            if blocked is None:
                rest = splitter.flush()
                if (blocked := self._check(context + rest)) is None and rest:
                    yield self._show(rest)
                if failure is not None:
                    if blocked is not None:
                        self._event(blocked, "dropped")
                    raise failure
                if blocked is None:
                    return
            spot_tries += 1
            banned = list(dict.fromkeys(banned + banned_terms(self._blocked_text, self.lang)))
            if self.stopped():
                self._event(blocked, "dropped")
                return
            if not self.can_continue or spot_tries > self.tries or len(self.events) + 1 >= BLOCKS_MAX:
                self._event(blocked, "kind_ending")
                yield self._show(self._space(KIND_ENDING[self.lang]))
                return
            self._event(blocked, "retry")

    def _check(self, text: str) -> Verdict | None:
        if not text.strip():
            return None
        t = time.perf_counter()
        verdict = self.check(text)
        self.check_s += time.perf_counter() - t
        self.checked += 1
        if verdict is not None:
            self._blocked_text = text  # only to find the words to ban next: never shown, logged or stored
        return verdict

    def _show(self, piece: str) -> str:
        self.shown += piece
        return piece

    def _space(self, text: str) -> str:
        """English text that follows a blocked sentence needs a space after the text shown so far."""
        if self.lang == "en" and self.shown and not self.shown[-1].isspace() and text[:1].strip():
            return " " + text
        return text

    def _event(self, verdict: Verdict, action: str) -> None:
        event = Event(category=verdict.category, reason=verdict.reason, action=action, at=len(self.shown),
                      seconds=round(time.perf_counter() - self._started, 3))
        self.events.append(event)
        log.warning("story sentence blocked (%s): %s; %s", event.category, event.reason,
                    {"retry": "asking for the story again", "kind_ending": "ending the story kindly",
                     "dropped": "the story had ended there"}[action])

    def counts(self) -> dict[str, int]:
        """Blocked sentences by category."""
        out: dict[str, int] = {}
        for e in self.events:
            out[e.category] = out.get(e.category, 0) + 1
        return out

"""Sentences a storyteller model writes for itself, not for the child: left out of the story shown.

The power-token recipe (model/build.py) composes every training story with a line that names the
power before the story shows it ("李白还不知道，自己马上就要有隐形的本领了。"), so that what the model
tells next follows the power named. The model writes that line too, and blind readers marked it in
story after story: a stock line that foretells the power, which the next sentences then name again.
The model keeps the line in its own context; the reader never sees it.
"""

from __future__ import annotations

_ENDS = "。！？!?.\n"
_CLOSERS = "”’\"'」』)）"


class Unsaid:
    """Streams text through, leaving out any of `sentences` where it starts a sentence. Text that could
    still become one of them is held back until it cannot (a few characters at a sentence start)."""

    def __init__(self, sentences: list[str]):
        self._targets = [s for s in sentences if s]
        self._held = ""
        self._at_start = True  # the next character starts a sentence
        self._last = ""  # the last character let through
        self._dropped = False  # a line was just left out: the spaces after it go too

    def feed(self, text: str) -> str:
        return self._drain(self._held + text, final=False)

    def flush(self) -> str:
        return self._drain(self._held, final=True)

    def _drain(self, text: str, final: bool) -> str:
        out: list[str] = []
        while text:
            if self._at_start:
                if text[0] in " \n":
                    gap = text[0] == " " or self._last in ("", "\n")  # no double space, no empty paragraph
                    if not (self._dropped and gap):
                        out.append(text[0])
                        self._last = text[0]
                    text = text[1:]
                    continue
                hit = next((t for t in self._targets if text.startswith(t)), None)
                if hit:
                    text, self._dropped = text[len(hit):], True
                    continue
                if not final and any(t.startswith(text) for t in self._targets):
                    break  # may still become one of them
            ch, text = text[0], text[1:]
            out.append(ch)
            self._dropped = False
            self._at_start = ch in _ENDS or (ch in _CLOSERS and self._last in _ENDS)  # 。” starts one too
            self._last = ch
        self._held = "" if final else text
        return "".join(out)

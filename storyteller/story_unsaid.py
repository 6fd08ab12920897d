"""Sentences a storyteller model writes that the child should not hear: left out of the story shown.

- Its own line that names the power before the story shows it ("李白还不知道，自己马上就要有隐形的本领了。"):
  every composed story it learnt from has one (the power-token recipe, model/build.py), so that what it
  tells next follows the power named. Blind readers marked it in story after story, a stock line that
  foretells the power which the next sentences name again.
- A sentence it already told, word for word: in a hard-won story it sometimes tells the same failed try
  twice in a row, and readers refused those stories ("a sentence printed twice").
- A generic climax for a typed power, which never says what the power does: shown as the world's
  line that does (story_climax.py).

The model keeps what it wrote in its own context; only the reader never sees it.
"""

from __future__ import annotations

from collections.abc import Callable

_ENDS = "。！？!?.\n"
_CLOSERS = "”’\"'」』)）"
MIN_REPEAT = 12  # shorter sentences may come back ("Whoosh!", “我来帮忙！”)
TAIL = 800  # characters of what was let through that `when` may look at
AGAIN = 3  # an opener said again within this many sentences is left off
# Openers the model repeats; readers marked "“就在这时”twice in a row" and "“All at once” twice".
OPENERS = {"zh": ("就在这时，", "这时，", "忽然，", "突然，", "从那以后，", "后来，", "现在，"),
           "en": ("Just then, ", "All at once, ", "Suddenly, ", "From then on, ", "Then, ", "Now, ")}


class Unsaid:
    """Streams text through, leaving out, where they start a sentence, any of `sentences` and any
    sentence of at least MIN_REPEAT characters it already let through, and showing the sentence
    `instead` maps one to in its place. Text that could still become one of them is held back until
    it cannot (a few characters at a sentence start). `when`, if given, decides for each such
    sentence whether its `instead` is shown now, from the text let through before it; an `instead`
    may itself be a function of that text. Of `openers`, one that started one of the last AGAIN
    sentences is left off the next ("就在这时……就在这时……", "All at once … All at once")."""

    def __init__(self, sentences: list[str], instead: dict[str, str | Callable[[str], str]] | None = None,
                 when: Callable[[str, str], bool] | None = None, openers: tuple[str, ...] = ()):
        self._instead = {k: v for k, v in (instead or {}).items() if k and v}
        self._openers = openers  # "就在这时，": left off a sentence that starts with one said just before
        self._opened: dict[str, int] = {}  # opener -> the sentence (by count) that last started with it
        self._n = 0  # sentences let through
        self._when = when  # (sentence, what was let through lately): show its `instead` now?
        self._tail = ""  # the last characters let through
        self._targets: dict[str, list[str]] = {}  # by first character: hundreds of lines, one looked at
        for t in [s for s in sentences if s] + list(self._instead):
            self._targets.setdefault(t[0], []).append(t)
        self._told: set[str] = set()
        self._told_by_first: dict[str, list[str]] = {}
        self._sentence = ""  # the sentence being let through
        self._prev = ""  # the sentence let through last
        self._held = ""
        self._at_start = True  # the next character starts a sentence
        self._last = ""  # the last character let through
        self._dropped = False  # a sentence was just left out: the spaces after it go too

    def feed(self, text: str) -> str:
        return self._drain(self._held + text, final=False)

    def flush(self) -> str:
        return self._drain(self._held, final=True)

    def _remember(self, sentence: str) -> None:
        if len(sentence) >= MIN_REPEAT and sentence not in self._told:
            self._told.add(sentence)
            self._told_by_first.setdefault(sentence[0], []).append(sentence)

    def _candidates(self, text: str) -> tuple[str, ...]:
        """The lines `text` may start with: those with its first character."""
        return (*self._targets.get(text[:1], ()), *self._told_by_first.get(text[:1], ()))

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
                hit = next((t for t in self._candidates(text) if _says(text, t, final)), None)
                if hit in self._instead and self._when and not self._when(hit, self._tail + "".join(out)):
                    hit = None  # told as written
                if hit in self._instead and self._instead[hit] not in self._told:  # (a retold one is left out)
                    text, said = text[len(hit):], self._instead.pop(hit)
                    if callable(said):  # depends on the story so far
                        said = said(self._tail + "".join(out))
                    out.append(said)
                    self._prev, self._last, self._dropped = said, said[-1], False
                    self._remember(said)
                    continue
                if hit:
                    text, self._dropped = text[len(hit):], True
                    continue
                if not final and any(t.startswith(text) for t in self._candidates(text)):
                    break  # may still become one of them
                opener = next((o for o in self._openers if text.startswith(o)), None)
                if opener and self._n - self._opened.get(opener, -AGAIN - 1) <= AGAIN:
                    rest = text[len(opener):]
                    text = rest[:1].upper() + rest[1:] if opener[:1].isupper() else rest
                    continue
                if opener:
                    self._opened[opener] = self._n
                elif not final and any(o.startswith(text) for o in self._openers):
                    break
            ch, text = text[0], text[1:]
            out.append(ch)
            self._dropped = False
            if self._at_start and ch in _CLOSERS and self._last in _ENDS:  # 。” : it closes the sentence before
                self._prev += ch
                self._remember(self._prev)
                self._last = ch
                continue
            self._sentence += ch
            self._at_start = ch in _ENDS
            if self._at_start:
                self._prev, self._sentence = self._sentence.strip(), ""
                self._remember(self._prev)
                self._n += 1
            self._last = ch
        self._held = "" if final else text
        self._tail = (self._tail + "".join(out))[-TAIL:]
        return "".join(out)


def _says(text: str, sentence: str, final: bool) -> bool:
    """`text` starts with the whole `sentence`, not closing a quotation it opened (“我来了！” is not
    “我来了！ with its mark left behind)."""
    if not text.startswith(sentence):
        return False
    rest = text[len(sentence):]
    return final and not rest or bool(rest) and rest[0] not in _CLOSERS

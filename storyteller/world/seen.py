"""An invisible hero shows themself again before a child recognises them, and hides again for the climax.

Blind readers marked stories in which the hero turns invisible and, a few lines on, a child
recognises them from a storybook ("一个小朋友认出了李白"): the child cannot see who is there. The
model learnt the hero's fact told by a child who looks at the hero, so with the invisibility power
the sentence that starts it is shown after one in which the hero becomes visible again (as the
slot filler shows a climax, story_climax.py); the model keeps its own words in its context. Stories
composed from the world tell it the same way (compose.py). A climax line that takes the hero as
unseen ("Invisible, Li Bai tiptoed up…") then follows one in which they hide again: r33's readers
marked "Li Bai let everyone see him again" followed by "Gloopsy could not see Li Bai".
"""

from __future__ import annotations

from storyteller.catalog import get_catalog
from storyteller.world.schema import fill

# How a fact beat (assets/world/*/story.json) starts when the child looks at the hero.
_LOOKS = {
    "zh": ["{kid}认出了{hero}", "一个小朋友认出了{hero}", "{kid}眨眨眼睛", "{kid}在图画书里见过{hero}",
           "{hero}被{kid}盯着看了半天", "{kid}小声对{hero}说", "{kid}拉拉{hero}的衣角"],
    "en": ["{Kid} looked up at {hero}", "{Kid} whispered to Ultraman", "{Kid} tugged at {hero}'s sleeve"],
}
_SHOWN = {"zh": "{hero}悄悄现出了身子。", "en": "{Hero} let everyone see {him} again. "}
# The child as the slot filler first names them: a name alone once met, else as someone new.
_KID_AS = {"zh": ["{kid}", "一个叫{kid}的小朋友"], "en": ["{kid}", "a child called {kid}"]}


# What says the hero cannot be seen, or can be again; the last one told is how things stand.
# (Not the power's name: "原来他学会了隐形。" after "再拍一下，又出现了！" leaves him seen.)
_HIDDEN = {"zh": ("不见了", "看不见", "透明", "隐身", "隐住", "隐起", "隐了身", "隐形起来", "隐形绕", "变得隐形"),
           "en": ("invisible", "vanish", "disappear", "nobody could see", "could not see him", "could not see her")}
_VISIBLE = {"zh": ("现出", "又出现了", "现了形", "露出了身子", "显出身"),
            "en": ("back into sight", " visible again", "reappear", "could see him again", "could see her again",
                   "popped back", "let everyone see")}


# A climax line that hides the hero itself; else, where the story has them seen, they hide first.
_HIDES = {"zh": ("{hero}隐了身", "{hero}隐起身子"), "en": ("turned invisible",)}
_HIDE_AGAIN = {"zh": "{hero}又悄悄隐了身。", "en": "{Hero} turned invisible again. "}


def hidden(told: str, lang: str) -> bool:
    """Whether the story told so far leaves the hero unseen: readers marked "let everyone see him
    again" right after the hero "popped back into sight"."""
    low = told.lower()
    last = lambda words: max((low.rfind(w) for w in words), default=-1)  # noqa: E731
    return last(_VISIBLE.get(lang, ())) <= last(_HIDDEN.get(lang, ())) or last(_VISIBLE.get(lang, ())) < 0


def invisible(power: str) -> bool:
    p = get_catalog().power(power or "")
    return p is not None and p.zh == "隐形"


def seen_again(lang: str, values: dict[str, str]) -> dict[str, str]:
    """{each way a looking child's sentence starts, as the story shows it: that start after the hero
    becomes visible}; empty unless the power is invisibility."""
    if lang not in _LOOKS or not invisible(values.get("power") or ""):
        return {}
    out = {}
    for start in _LOOKS[lang]:
        for kid in _KID_AS[lang] if "{kid}" in start.lower() else [""]:
            v = values | {"kid": fill(kid, values)}
            said = fill(start, v)
            out[said] = fill(_SHOWN[lang], values) + said
    return out


def reveal(sentence: str, lang: str, values: dict[str, str], told: str = "") -> str:
    """A composed story's fact beat, after the hero becomes visible when the child looks at them
    (unless `told`, the story before it, has them seen already)."""
    if not hidden(told, lang):
        return sentence
    return next((shown + sentence[len(said):] for said, shown in seen_again(lang, values).items()
                 if sentence.startswith(said)), sentence)


def hide_again(line: str, lang: str, values: dict[str, str], told: str) -> str:
    """An invisibility climax `line` (a template) as shown after `told`: if the story has the hero
    seen and the line does not hide them itself, they hide again first."""
    shown = fill(line, values)
    if lang not in _HIDE_AGAIN or hidden(told, lang) or any(h in line for h in _HIDES[lang]):
        return shown
    return fill(_HIDE_AGAIN[lang], values) + shown

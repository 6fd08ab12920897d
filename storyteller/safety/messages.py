"""What a child sees when a typed value is blocked: a kind sentence at a child's level, in the
child's language, and a preset to try instead. It never repeats what was typed."""

from __future__ import annotations

import difflib

from storyteller.catalog import get_catalog
from storyteller.safety.normalise import fold
from storyteller.safety.policy import Verdict

WHY = {
    "violence": ("在我们的故事里，英雄不伤害任何人哦。", "In our stories, heroes never hurt anyone."),
    "weapons": ("在我们的故事里，英雄不用武器对着别人哦。", "In our stories, heroes never point weapons at anyone."),
    "horror": ("这个有点太吓人啦，我们讲个开心的故事吧。", "That is a bit too scary. Let's tell a happy story."),
    "sexual": ("这个不适合放进小朋友的故事里哦。", "That isn't right for a children's story."),
    "self_harm": ("你很重要！如果你觉得难过，可以和爸爸妈妈或老师说一说。",
                  "You matter! If you feel sad, please talk to a grown-up you trust."),
    "drugs": ("这个对身体不好，我们不把它放进故事里哦。", "That isn't good for our bodies, so it stays out of the story."),
    "hate": ("我们用友好的话来讲故事吧。", "Let's use kind words in our story."),
    "profanity": ("我们用好听的话来讲故事吧。", "Let's use nice words in our story."),
    "personal_data": ("为了保护你，请不要写电话、地址或真实的名字哦。",
                      "To keep you safe, please don't type phone numbers, addresses or real names."),
    "injection": ("我只会讲奥特曼和古代英雄的故事哦。", "I can only tell stories about Ultraman and heroes from history."),
    "shape": ("请用几个简单的字说一说哦。", "Please say it in a few simple words."),
}
GENERIC = ("这个不太适合我们的故事哦。", "That doesn't fit our story.")
TRY = ("换一个试试吧，比如“{}”？", "How about “{}” instead?")
# A typed value too long, or with a word a child would not know (shape.py): ask for a few words.
SHAPE = ("请用几个简单的字说出你想要的{}，比如「{}」。", "Say the {} in a few simple words, like “{}”.")
SHAPE_ANY = ("请用几个简单的字说一说，比如「{}」。", "Say it in a few simple words, like “{}”.")
KIND_NAMES = {"dynasty": ("朝代", "dynasty"), "power": ("超能力", "power"), "style": ("风格", "style"), "hero": ("英雄", "hero")}
DEFAULTS = {"dynasty": "唐", "power": "治愈之光", "style": "温馨"}  # gentle presets when nothing is near


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def kind_message(verdict: Verdict, lang: str = "zh", suggestion: str | None = None, kind: str | None = None) -> str:
    """A friendly sentence for the child. Built only from fixed wording and the suggestion, so it
    cannot contain the blocked text. A "shape" verdict asks for the `kind` (power...) in a few words."""
    if verdict.category == "shape" and suggestion:
        if kind in KIND_NAMES:
            return _pick(SHAPE, lang).format(field_name(kind, lang), suggestion)
        return _pick(SHAPE_ANY, lang).format(suggestion)
    text = _pick(WHY.get(verdict.category, GENERIC), lang)
    if suggestion:
        text += (" " if lang == "en" else "") + _pick(TRY, lang).format(suggestion)
    return text


def _options(kind: str, lang: str) -> list[tuple[list[str], str]]:
    """(names to compare with, name to show) for every preset of `kind`."""
    cat = get_catalog()
    if kind == "hero":
        return [([h.zh, h.en], h.name(lang)) for d in cat.dynasties for h in d.heroes]
    return [([i.zh, i.en], i.name(lang)) for i in cat.offered(kind)]


def suggest(kind: str, value: str, lang: str = "zh") -> str:
    """The catalog preset of `kind` nearest to `value` (by spelling, in either language); a gentle
    default when nothing is near."""
    if kind not in KIND_NAMES:
        raise ValueError(f"unknown kind {kind!r}")
    options = _options(kind, lang)
    key = fold(value or "").text.strip()
    best, score = None, 0.0
    for names, shown in options:
        for name in names:
            ratio = difflib.SequenceMatcher(None, key, fold(name).text).ratio() if key else 0.0
            if ratio > score:
                best, score = shown, ratio
    if best is not None and score >= 0.5:
        return best
    cat = get_catalog()
    if kind == "hero":
        return cat.hero(DEFAULTS["dynasty"]).name(lang)
    return cat.translate(kind, DEFAULTS[kind], lang)


def field_name(kind: str, lang: str) -> str:
    return _pick(KIND_NAMES[kind], lang)

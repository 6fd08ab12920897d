"""What the speech engine reads. Debian's espeak-ng mispronounces hanzi with its Chinese voice,
so Chinese goes to the `cmn-latn-pinyin` voice as tone-numbered pinyin (李白 -> li3 bai2)."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

DIGITS = "零一二三四五六七八九"
HAN = re.compile(r"[\u3400-\u9fff]")


def detect_lang(text: str) -> str:
    return "zh" if len(HAN.findall(text)) >= max(1, len(text) // 10) else "en"


def _digits_to_hanzi(text: str) -> str:
    text = re.sub(r"(\d)\.(\d)", r"\1点\2", text)
    return re.sub(r"\d", lambda m: DIGITS[int(m.group())], text)


def to_pinyin(text: str) -> str:
    """Hanzi -> tone-numbered pinyin; Chinese punctuation becomes pauses; Latin words stay."""
    text = _digits_to_hanzi(text)
    text = re.sub(r"[，、；：]", ", ", text)
    text = re.sub(r"[。！？…]+", ". ", text)
    text = re.sub(r"[“”‘’「」『』（）《》【】\"]", " ", text)
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return re.sub(r"\s+", " ", " ".join(syllables)).replace(" ,", ",").replace(" .", ".").strip()


def speakable(text: str, lang: str, driver: str) -> str:
    """The text to hand the engine: pinyin for Chinese on espeak, the text itself otherwise."""
    if lang == "zh" and driver.endswith("espeak"):
        return to_pinyin(text)
    return text

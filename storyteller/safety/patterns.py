"""Pattern rules for typed fields: personal data and instructions that try to break the request.
Word lists cannot express these (any phone number, any street), so they are regular expressions,
run on the normalised views (leetspeak read back, spaces and symbols inside words dropped)."""

from __future__ import annotations

import re

# name -> (category, pattern on the folded text)
RAW: dict[str, tuple[str, re.Pattern]] = {
    "phone number": ("personal_data", re.compile(
        r"(?<![\d.])(?:\+\s*\d{1,3}[\s\-()]*)?(?:\d[\s\-()]{0,2}){7,}(?![\d.])")),
    "e-mail address": ("personal_data", re.compile(
        r"[\w.+\-]+\s*(?:@|＠|\(at\)|\[at\])\s*[\w\-]+\s*\.\s*[a-z]{2,}", re.I)),
    "street address": ("personal_data", re.compile(
        r"[\u4e00-\u9fff]{1,12}(?:路|街|大道|巷|胡同|弄)\s*[\d一二三四五六七八九十百千零〇两]+\s*(?:号|號)"
        r"|\d+\s*(?:号楼|號樓|单元|單元|室)"
        r"|\b\d+\s+(?:[a-z]+\s+){1,3}"
        r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|close|place)\b",
        re.I)),
}

# on the Latin view (" word word ") and the Han view (Han characters only)
LATIN: dict[str, tuple[str, re.Pattern]] = {
    "own name or home": ("personal_data", re.compile(
        r" (?:my (?:real )?name is|i live (?:at|in|on)|my (?:home )?address|my (?:phone|number|school) is|call me at"
        r"|wechat(?: id)?|whatsapp|snapchat|instagram|qq) ")),
    "instruction to ignore the rules": ("injection", re.compile(
        r" (?:ignore|disregard|forget|skip|override|bypass) (?:all |any |the |your |my |these |those |of )*"
        r"(?:previous |prior |above |earlier |old |safety |story )*"
        r"(?:rules|instructions|prompts?|directions|guidelines|filters?|limits) ")),
    "instruction to forget what came before": ("injection", re.compile(
        r" (?:ignore|disregard|forget) (?:everything|all|anything|what (?:i|you) (?:said|were told)|the text)? ?"
        r"(?:above|before|previously|so far|you were told) ")),
    "talk about the system prompt": ("injection", re.compile(
        r" (?:system|hidden|secret) (?:prompt|message|instructions?) ")),
    "new role": ("injection", re.compile(
        r" (?:you are now|from now on you|pretend (?:you are|to be)|act as (?:if|a|an)|roleplay as|you must now) ")),
    "jailbreak": ("injection", re.compile(
        r" (?:jailbreak|jailbroken|developer mode|dan mode|do anything now|no restrictions|new instructions) ")),
}
HAN: dict[str, tuple[str, re.Pattern]] = {
    "own name or home": ("personal_data", re.compile(r"我(?:的名字)?叫|我的名字是|我家住|我住在|我的(?:地址|电话|手机|学校)|微信号")),
    "instruction to ignore the rules": ("injection", re.compile(
        r"(?:忽略|无视|忘记|忘掉|不要管|别管|跳过|绕过|不用遵守|不要遵守|违反)[\u4e00-\u9fff]{0,6}?"
        r"(?:规则|指令|指示|提示|要求|设定|限制|规定)|新指令|新的指令")),
    "talk about the system prompt": ("injection", re.compile(r"系统提示|提示词|系统消息|系统指令")),
    "new role": ("injection", re.compile(r"你现在是|你现在扮演|从现在开始你|假装你是|你不再是")),
    "jailbreak": ("injection", re.compile(r"越狱|开发者模式|不受限制|没有限制")),
}


def find(raw: str, latin_texts: list[str], han_text: str) -> tuple[str, str] | None:
    """(category, rule name) of the first pattern rule that fires, or None."""
    for table, texts in ((RAW, [raw]), (LATIN, latin_texts), (HAN, [han_text])):
        for name, (category, pattern) in table.items():
            if any(pattern.search(t) for t in texts):
                return category, name
    return None

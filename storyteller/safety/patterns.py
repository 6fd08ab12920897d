"""Pattern rules: personal data and instructions that try to break the request, and (from context.py
and described.py) harm that only shows in context or is told without a harm word. Word lists cannot express these (any phone number, any street), so
they are regular expressions, run on the normalised views (leetspeak read back, spaces and symbols
inside words dropped).

A typed field gets every rule. A story sentence gets the rules that a story never trips: a phone
number in phone shape (+86 138 1234 5678, not "M78" or a year), an e-mail, an ID number, a street
with a house number and a capitalised name ("42 Elm Road", 建国路88号, not "5 cars on the road"),
a child telling their own school and class, and instructions written for a model ("SYSTEM:",
"print your hidden prompt", 管理员模式). The broad field rules ("my name is", "you are now",
"pretend to be", any seven digits) stay out of sentences: a story's characters say those.
"""

from __future__ import annotations

import re
from functools import lru_cache

from storyteller.safety import context, described

# name -> (category, pattern on the folded text)
RAW: dict[str, tuple[str, re.Pattern]] = {
    "phone number": ("personal_data", re.compile(
        r"(?<![\d.])(?:\+\s*\d{1,3}[\s\-()]*)?(?:\d[\s\-()]{0,2}){7,}(?![\d.])")),
    "e-mail address": ("personal_data", re.compile(
        r"(?<![\w.+\-])[\w.+\-]{1,64}\s*(?:@|＠|\(at\)|\[at\])\s*[\w\-]+\s*\.\s*[a-z]{2,}", re.I)),
    "street address": ("personal_data", re.compile(
        r"[\u4e00-\u9fff]{1,12}(?:路|街|大道|巷|胡同|弄)\s*[\d一二三四五六七八九十百千零〇两]+\s*(?:号|號)"
        r"|\d+\s*(?:号楼|號樓|单元|單元|室)"
        r"|\b\d+\s+(?:[a-z]+\s+){1,3}"
        r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|close|place)\b",
        re.I)),
}

# -- rules for sentences and fields alike ---------------------------------------------------------------
# on the folded text
ANY_RAW: dict[str, tuple[str, re.Pattern]] = {
    "phone number in phone shape": ("personal_data", re.compile(
        r"(?<![\w.])\+\s?\d{1,3}[\s\-.]*\(?\d{2,5}\)?(?:[\s\-.]{0,2}\d{2,6}){1,4}(?![\d])"
        r"|(?<!\d)1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?!\d)"
        r"|(?<![\w.])\(?\d{3,5}\)?[\s\-.]\d{3,4}[\s\-.]\d{4}(?![\d])|(?<![\w.])\(?0\d{2,3}\)?[\s\-]?\d{7,8}(?!\d)"
        r"|(?<![点.零〇一二三四五六七八九幺])[零〇一二三四五六七八九幺]{7,}"  # not π read aloud: 三点一四一五九二六
        r"|(?<![\w.])\+\s?\d{1,3}[\s\-.]*\d{6,12}(?![\d])")),
    "ID number": ("personal_data", re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}[01]\d[0-3]\d{4}[\dx](?![\d])")),
    "e-mail address in a sentence": ("personal_data", re.compile(
        r"(?<![\w.+\-])[\w.+\-]{1,64}\s*(?:@|＠|\(at\)|\[at\])\s*[\w\-]+\s*(?:\.|\(dot\)|\[dot\]| dot )\s*(?:com|net|org|cn|edu|gov|co|uk|io|me|hk|tw|info)\b"
        r"|(?<![\w.+\-])[\w.+\-]{1,64} at (?:gmail|qq|163|126|hotmail|outlook|yahoo|icloud|sina|foxmail|[\w\-]+ dot) (?:dot )?(?:com|net|org|cn)\b")),
    "house number and street": ("personal_data", re.compile(
        r"[\u4e00-\u9fff]{1,12}(?:路|街|大街|大道|巷|胡同|弄)\s*[\d一二三四五六七八九十百千零〇两]+\s*(?:号|號)"
        r"|[\u4e00-\u9fff]{1,8}(?:省|市|区|县)[\u4e00-\u9fff]{1,8}(?:区|县|镇|街道|小区|村)[\u4e00-\u9fff]{0,8}\d+"
        r"|[\u4e00-\u9fff]{1,6}市[\u4e00-\u9fff]{1,6}(?:区|县)[\u4e00-\u9fff]{1,8}(?:路|街|大道|小区|胡同|弄|巷)"
        r"|我家?(?:住在|住|在)[\u4e00-\u9fff]{1,6}(?:区|县)[\u4e00-\u9fff]{1,8}(?:路|街|大道|小区|村|镇|胡同|弄|巷)")),
    "instruction written as system text": ("injection", re.compile(
        r"^\W*(?:system|sys|admin|administrator|developer|root|assistant|系统|管理员|开发者)\s*[\]】)>]?\s*[:：]"
        r"|<\|?(?:im_start|system|endoftext)\|?>|\[/?(?:inst|system|sys)\]|#{2,}\s*(?:instruction|system)")),
}

# on the source text with its case (a street's name is capitalised; " 5 cars on the road " is not one)
ANY_CASED: dict[str, tuple[str, re.Pattern]] = {
    "house number and street": ("personal_data", re.compile(
        r"\b\d{1,5}[a-zA-Z]?,?\s+(?:(?!(?:The|A|An|My|Our|Milky)\b)[A-Z][a-z]+\s+){1,3}"
        r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Close|Crescent|Terrace"
        r"|Gardens|Grove)\b")),
    "name with school or class": ("personal_data", re.compile(
        r"\b(?:[Mm]y name is|I'?m called|[Cc]all me|I'?m|I am)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b.{0,60}?"
        r"(?:\b(?:[Yy]ear|[Gg]rade|[Cc]lass|[Ff]orm|P)\s*\d|\b(?:[A-Z][a-z]+\s+){1,3}"
        r"(?:Primary|Elementary|Middle|High|Junior|Infant|Kindergarten)\b)")),
    "own street": ("personal_data", re.compile(
        r"\b(?:I|we|We) live (?:at|on|in) (?:\d+\s+)?(?:[A-Z][a-z]+\s+){1,3}"
        r"(?:Street|Road|Avenue|Lane|Drive|Close|Court|Way|Crescent|Terrace|Gardens)\b")),
}

# on the source text with its case, fields only: a real school or class typed as a hero or a power
CASED: dict[str, tuple[str, re.Pattern]] = {
    "school or class": ("personal_data", re.compile(
        r"\b(?:[A-Z][a-z]+\s+){1,3}(?:Primary|Elementary|Middle|Junior|Grammar|Infant|High)\s+School\b"
        r"|\b(?:Class|Year|Grade|Form)\s*\d{1,2}[A-Za-z]?\b")),
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
    "school and class": ("personal_data", re.compile(
        r"(?:小学|中学|初中|幼儿园)[\u4e00-\u9fff]{0,6}?(?:[一二三四五六\d]年级|[一二三四五六七八九十\d]+班)")),
    "instruction to ignore the rules": ("injection", re.compile(
        r"(?:忽略|无视|忘记|忘掉|不要管|别管|跳过|绕过|不用遵守|不要遵守|违反)[\u4e00-\u9fff]{0,6}?"
        r"(?:规则|指令|指示|提示|要求|设定|限制|规定)|新指令|新的指令")),
    "talk about the system prompt": ("injection", re.compile(r"系统提示|提示词|系统消息|系统指令")),
    "new role": ("injection", re.compile(r"你现在是|你现在扮演|从现在开始你|假装你是|你不再是")),
    "jailbreak": ("injection", re.compile(r"越狱|开发者模式|不受限制|没有限制")),
}


AI = r"(?:bot|chatbot|ai|assistant|model|language model|program|storyteller|story teller|story bot|story machine)"
ANY_LATIN: dict[str, tuple[str, re.Pattern]] = {
    "own school or class": ("personal_data", re.compile(
        r" (?:i am|i m|im) in (?:year|grade|class|form|primary|p) "
        r"| (?:i go to|i attend|i study at|i m at|i am at|my school is) (?:\w+ ){1,3}(?:primary|elementary|middle|junior|infant) school ")),
    "instruction to ignore the rules": ("injection", re.compile(  # not "let's forget the rules of the game"
        r" (?:ignore|disregard|forget|skip|override|bypass) (?:all |any |the |your |my |these |those |of )*"
        r"(?:previous |prior |above |earlier |old |safety |story )*(?:instructions|prompts?|guidelines|filters?|directions) "
        r"| (?:ignore|disregard|forget|override|bypass) (?:all (?:of )?(?:the |your )?|any (?:of )?(?:the |your )?|your "
        r"|(?:the )?(?:previous|prior|above|safety|story) |these |those )(?:\w+ )?rules ")),
    "instruction to forget what came before": LATIN["instruction to forget what came before"],
    "asking for the hidden prompt": ("injection", re.compile(
        r" (?:system|hidden|initial|original|secret) (?:prompt|prompts|instructions) | your (?:prompt|prompts|instructions|system message) "
        r"| (?:print|show|reveal|repeat|output|display|leak|dump|tell me|give me|what (?:is|are|were)) (?:me |us )?"
        r"(?:your|the) (?:\w+ )?(?:prompt|system message|instructions you were given|rules you were given) ")),
    "a jailbroken role": ("injection", re.compile(
        r" you (?:are|re) (?:now )?(?:dan|stan|dude|evil|unfiltered|uncensored|jailbroken|unrestricted|free from) "
        r"| (?:act|pretend|behave|roleplay) (?:as|like|to be) (?:an? )?(?:unfiltered|uncensored|unrestricted|evil|jailbroken|dan) "
        r"| forget (?:that )?(?:you are|you re|your|you were) (?:an? |the |just )?(?:\w+ ){0,3}?" + AI + r" "
        r"| you (?:are|re) (?:not|no longer) (?:an? |the |just )?(?:\w+ ){0,3}?" + AI + r" (?:anymore |any more |now )?"
        r"| stop being (?:an? |the )?(?:\w+ ){0,2}?" + AI + r" ")),
    "a jailbreak mode": ("injection", re.compile(
        r" (?:jailbreak|jailbroken|jailbreaking|do anything now) "
        r"| (?:developer|dan|admin|administrator|god|debug|sudo|root|unrestricted|unfiltered|uncensored|evil) mode ")),
    "no rules for the model": ("injection", re.compile(
        r" (?:no|zero) (?:more )?(?:rules|restrictions|limits|filters|guidelines|boundaries|policies) (?:apply|applies|for you) "
        r"| you (?:have|ve|ve got|got|has) no (?:more )?(?:rules|restrictions|limits|filters|guidelines) "
        r"| (?:rules|restrictions|filters|guidelines|policies|limits) (?:don t|do not|doesn t|does not|no longer|never) "
        r"(?:apply|exist|matter|count) "
        r"| (?:don t|do not|stop|never|no longer) (?:follow|obey|following|obeying) (?:your|any of your|any) (?:own )?"
        r"(?:rules|instructions|guidelines|programming|filters) "
        r"| i am your (?:developer|admin|administrator|creator|programmer) ")),
    "filters off": ("injection", re.compile(
        r" (?:filter|filters|safety|moderation|censorship|censor|guardrails?|content policy|safe mode) (?:is |are |now )?"
        r"(?:off|disabled|removed|deactivated|turned off|switched off) "
        r"| (?:turn|turns|turned|switch|switched|shut) off (?:the |your |all |any |its )*(?:content )?"
        r"(?:filter|filters|safety|moderation|censorship|guardrails|restrictions|safe mode) "
        r"| (?:disable|disabled|remove|removed|deactivate|bypass|bypassed) (?:the |your |all |any |its )*(?:safety |content )?"
        r"(?:filter|filters|moderation|censorship|guardrails|restrictions|safe mode) ")),
    "saying anything without rules": ("injection", re.compile(
        r" you (?:can|may|are allowed to|are free to|must) (?:now )?(?:say|write|output|generate|produce|use) "
        r"(?:anything|everything|whatever|any words?|bad words|swear words|curse words|rude words) "
        r"(?:without|with no|uncensored|unfiltered|no matter) ")),
}
ANY_HAN: dict[str, tuple[str, re.Pattern]] = {
    "own school or class": ("personal_data", re.compile(
        r"我(?:叫|是|在|读|上)[^.!?。]{0,12}?(?:小学|中学|初中|幼儿园)[^.!?。]{0,6}?(?:[一二三四五六\d]年级|[一二三四五六七八九十\d]+班)"
        r"|我(?:在|读|上|是)[一二三四五六\d]年级[一二三四五六七八九十\d]+班")),
    "instruction to ignore the rules": ("injection", re.compile(
        r"(?:忽略|无视|忘记|忘掉|不要管|别管|绕过|跳过|不用遵守|不要遵守)掉?(?:你|的|之前|以前|上面|所有|全部|一切|前面"
        r"|原来|原本|系统|这些|那些|任何)+[\u4e00-\u9fff]{0,4}?(?:规则|指令|指示|提示词?|设定|限制|规定|要求)")),
    "asking for the hidden prompt": ("injection", re.compile(
        r"系统提示词?|提示词|系统指令|系统设定|隐藏的?(?:提示|指令|设定)"
        r"|(?:打印|输出|显示|告诉我|说出|泄露|重复|展示|念出)(?:一下)?你的(?:隐藏的?|秘密的?|系统|初始|原始|内部)?的?"
        r"(?:提示词?|指令|设定|规则|prompt)")),
    "a jailbroken role": ("injection", re.compile(
        r"你(?:现在不是|现在已经不是|已经不是|不再是)[^,.!?。]{0,10}?(?:机器人|助手|ai|模型|程序|故事机|讲故事)"
        r"|(?:忘记|忘掉|忘了)你是[^,.!?。]{0,10}?(?:机器人|助手|ai|模型|程序|故事机|讲故事)"
        r"|从现在(?:起|开始)[,]?你(?:可以|能|被允许|不用|不必|无需|要|将|就|必须)[^.!?。]{0,12}?"
        r"(?:任何|一切|所有|随便|不受|脏话|规则|限制|遵守|过滤|审查|什么都)"
        r"|你(?:现在|从现在起)?就?是(?:一个)?(?:dan|没有(?:任何)?限制|不受(?:任何)?限制|无限制|无审查|邪恶)"
        r"|(?:扮演|假装|变成)[^.!?。]{0,8}?(?:没有(?:任何)?限制|不受(?:任何)?限制|无限制|无审查|邪恶)的?(?:ai|机器人|助手|模型)"
        r"|我是你的(?:开发者|管理员|创造者|程序员)")),
    "a jailbreak mode": ("injection", re.compile(
        r"越狱(?:模式|版|提示|指令|你|ai|机器人|模型)|(?:管理员|开发者|开发人员|超级用户|上帝|调试|debug|admin|root|无限制|无审查|无过滤|dan)模式")),
    "no rules for the model": ("injection", re.compile(r"你(?:现在)?(?:不受|没有)(?:任何)?的?(?:限制|规则|约束|过滤|审查)")),
    "filters off": ("injection", re.compile(
        r"(?:关闭|关掉|取消|解除|去掉|绕过|禁用|停用|撤销)(?:所有的?|全部的?|你的)?(?:内容)?"
        r"(?:过滤|审核|审查|安全(?:限制|模式|设置|过滤)|限制|约束|屏蔽)"
        r"|(?:过滤器?|审核|安全模式|审查)(?:已经?|被)?(?:关闭|解除|取消|关掉|停用)")),
}


def _joined(rules: list[tuple[str, tuple[str, re.Pattern]]]) -> tuple[re.Pattern, list[tuple[str, str]]]:
    """One regex for a whole table (a named group per rule), so a text is scanned once."""
    pattern = "|".join(f"(?P<r{k}>{p.pattern})" for k, (_, (_, p)) in enumerate(rules))
    flags = 0
    for _, (_, p) in rules:
        flags |= p.flags & re.I
    return re.compile(pattern, flags), [(category, name) for name, (category, _) in rules]


@lru_cache(maxsize=2)
def _tables(field: bool) -> tuple:
    """(which text, joined regex, (category, name) per group), harm rules first (they are the most
    serious), then personal data and injection; fields also get the broad field rules."""
    def rules(*tables: dict) -> list:
        return [item for table in tables for item in table.items()]

    glued = {n: (c, re.compile(p.pattern.replace(" ", " ?"), p.flags)) for n, (c, p) in ANY_LATIN.items()}
    tables = (("latin", rules(context.LATIN, described.LATIN, ANY_LATIN, *([LATIN] if field else []))),
              ("han", rules(context.HAN, described.HAN, ANY_HAN, *([HAN] if field else []))),
              ("raw", rules(context.RAW, described.RAW, ANY_RAW, *([RAW] if field else []))),
              ("cased", rules(ANY_CASED, *([CASED] if field else []))),
              ("glued", rules(glued)))
    return tuple((which, *_joined(table)) for which, table in tables)


def find(raw: str, latin_texts: list[str], han_text: str, field: bool = True, cased: str = "",
         glued: str = "") -> list[tuple[str, str]]:
    """(category, rule name) of the rules that fire (the first of each kind of text). `raw` is the
    folded text, `cased` the source text, `glued` the spelt view (letters spelt one by one, glued)."""
    texts = {"latin": latin_texts, "han": [han_text], "raw": [raw], "cased": [cased], "glued": [glued]}
    found: list[tuple[str, str]] = []
    for which, regex, rules in _tables(field):
        for text in texts[which]:
            if text and (m := regex.search(text)):
                found.append(rules[int(m.lastgroup[1:])])
                break
    return found

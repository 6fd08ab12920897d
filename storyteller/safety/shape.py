"""The shape of a typed value: a dynasty, hero, power or style is a name, or a short description of
the hero's own magic ("能和小猫说话", "turn into a giant friendly whale", 变成会飞的小火车) that names
no other people. Descriptions that smuggle harm past the word lists need a victim ("x-ray eyes that
see through everyone's clothes", 从坟里爬出来吃小孩, "the boy in my class who everyone hates"), so
a description that names other people, or a child's class, school or home, is refused with a
preset to try instead; one about monsters, animals, food, weather and things passes.

Only for typed values: catalog presets and story sentences never come here.

- Size: each Chinese (or other CJK) character counts one, each other word one (a number; each
  part of a hyphenated compound, so hyphens cannot glue a sentence into one word); mixed text adds
  the two. A Latin value that reads as pinyin may count its syllables against the character
  limit instead. LIMITS come from the catalog with headroom: tests/test_safety.py holds every
  preset and hero name under them, in both languages (the style's 8 characters: 有点吓人但很温暖).
- Words: every Latin word must be one a child could know: the team corpus, the catalog or
  pyspellchecker's English dictionary, or pinyin. Names pass: capitalised words (not a CamelCase
  sentence glued into one word); in a power or a style not the first word, which phones capitalise
  by themselves, so slang cannot pass as a name.
- Descriptions: longer than a name, up to DESCRIBE; every word known as above; no person other
  than the hero (OTHERS: people, children, classmates, parents, 别人, 同学, 路人 ...; not "him" or
  "them", which may be a panda) and no class, school or home of a real child (REAL_LIFE). A hero's
  own noun is not counted (the words before "who"/"with"..., the Chinese after the last 的: "a
  little girl who talks to cats", 会和小猫说话的小女孩). A description in pinyin is refused: these
  checks read words, not syllables.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from spellchecker import SpellChecker

from storyteller import corpus
from storyteller.catalog import get_catalog
from storyteller.safety.lists import LIST_DIR, read_lines
from storyteller.safety.mixed import split
from storyteller.safety.normalise import fold, is_han
from storyteller.safety.policy import Verdict

SHAPE = "shape"  # the Verdict category; kept apart from CATEGORIES, which are what a text says
# (characters, words) per field. The catalog's largest: dynasty 3 (南北朝) / 4 (Northern and Southern
# Dynasties); power 6 (听懂动物说话) / 4 (making copies of yourself); style 2 / 2 (light-hearted); hero 3 / 2.
LIMITS = {"dynasty": (6, 6), "hero": (8, 5), "power": (8, 5), "style": (8, 4)}
# a description's limit, (characters, words): about twice a name's, and one clause more
DESCRIBE = {"dynasty": (16, 10), "hero": (16, 10), "power": (24, 14), "style": (24, 14)}
ANIMAL_PARENT = "(?<![熊猫狗鸡鸭鸟兔猪牛羊马龙鱼虎狮象猴])"  # 熊妈妈 is a bear
OTHERS = re.compile(
    r"\b(?:people|persons?|everyone|everybody|someone|somebody|anyone|anybody|kids?|child|children|boys?"
    r"|girls?|bab(?:y|ies)|toddlers?|classmates?|students?|pupils?|teachers?|mom|mum|mommy|mummy|mother|dad|daddy"
    r"|father|parents?|brothers?|sisters?|grandma|grandpa|grandmother|grandfather|granny|neighbou?rs?|strangers?"
    r"|races?|villagers|crowds?|adults?|grown-?ups?)\b"
    r"|别人|大家|人们|人家|有人|所有人|每个人|任何人|其他人|别的人|路人|陌生人|普通人|这些人|那些人|某些人|有些人|一些人"
    r"|(?:讨厌|不喜欢|恨)的人|小朋友|小孩|孩子|婴儿|同学|老师|校长|爷爷|奶奶|外公|外婆|姥姥|姥爷|叔叔|阿姨|邻居|警察"
    r"|男孩|女孩|男生|女生|女人|男人|老人|村民|百姓|家人|学生|全班|全校|同桌|残疾人|盲人|穷人|成人|大人|外国人|外地人"
    r"|" + ANIMAL_PARENT + r"(?:妈妈|爸爸|宝宝|哥哥|姐姐|弟弟|妹妹)")
REAL_LIFE = re.compile(
    r"\b(?:my|our) (?:class|school|house|home|street|building|teacher)\b|next door|in real life"
    r"|我家|我们家|我们班|我们学校|我的学校|班上|班里|楼下|隔壁|小区|现实中")
HEAD_END = re.compile(r"\b(?:who|whom|whose|who's|that|which|with|from|in|at|and)\b")
NAMES_ANYWHERE = ("dynasty", "hero")  # fields that are names: a capitalised first word is a name too
PINYIN_WORD = 4  # syllables in the longest pinyin word a name needs (zhugeliang)
NAME_LETTERS, NAME_CAPITALS = 16, 3  # the longest name word, and its capitals (McDonald, ZhuGeLiang)
WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’\-][^\W\d_]+)*")
LATIN = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def _is_cjk(ch: str) -> bool:
    """A Chinese character, or a kana or hangul letter: each is one unit of size."""
    return is_han(ch) or (ch.isalpha() and unicodedata.east_asian_width(ch) in ("W", "F"))


def measure(value: str) -> tuple[int, list[str]]:
    """(CJK characters, the other words) of a typed value, after NFKC (full-width letters are words)."""
    text = unicodedata.normalize("NFKC", value)
    cjk = sum(_is_cjk(ch) for ch in text)
    rest = "".join(" " if _is_cjk(ch) else ch for ch in text)
    return cjk, WORD.findall(rest)


def _syllables(key: str) -> int | None:
    """How many pinyin syllables a folded word spells (hyphens allowed), or None if it is not pinyin."""
    total = 0
    for part in key.split("-"):
        found = split(part.replace("'", ""))
        if not found or len(found) > PINYIN_WORD:
            return None
        total += len(found)
    return total


def size(value: str) -> tuple[int, int | None]:
    """(characters + words, the same with a pinyin value's syllables for its words, or None when the
    value has a word that is not pinyin)."""
    cjk, words = measure(value)
    syllables = [_syllables(fold(w).text) if not w[0].isdigit() else 1 for w in words]
    pinyin = None if None in syllables else cjk + sum(syllables)
    return cjk + sum(len(w.split("-")) for w in words), pinyin


def _tokens(text: str) -> set[str]:
    return {w.lower().replace("’", "'") for w in LATIN.findall(text)}


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Folded English words a child may type: pyspellchecker's dictionary, the team's own additions
    (assets/safety/words.txt), the catalog and the corpus. Loaded once, on the first typed word."""
    words = set(SpellChecker(language="en").word_frequency.dictionary) | set(read_lines(LIST_DIR / "words.txt"))
    cat = get_catalog()
    for d in cat.dynasties:
        words |= _tokens(d.en)
        for h in d.heroes:
            words |= _tokens(f"{h.en} {h.fact_en}")
    for t in cat.powers + cat.styles:
        words |= _tokens(t.en)
    for s in corpus.load():
        words |= _tokens(" ".join((s.dynasty, s.hero, s.hero_fact, s.power, s.style, s.story)))
    return frozenset(words)


def known(word: str, kind: str, first: bool) -> bool:
    """A word a child could know, a number, pinyin, or a name."""
    key = fold(word).text.replace("’", "'")
    if len(key) == 1 or key[0].isdigit():
        return True  # an initial, a pinyin initial (T恤, B站), a number
    vocab = vocabulary()
    base = key[:-2] if key.endswith("'s") else key
    if base in vocab or all(p in vocab for p in base.split("-")) or _syllables(base) is not None:
        return True
    capitals = sum(c.isupper() for c in word)
    name = word[0].isupper() and not word.isupper() and capitals <= NAME_CAPITALS and len(word) <= NAME_LETTERS
    return name and (kind in NAMES_ANYWHERE or not first)


def others(kind: str, value: str) -> str | None:
    """The first person other than the hero, or class, school or home, that a description names."""
    text = unicodedata.normalize("NFKC", value).lower()
    if m := REAL_LIFE.search(text):
        return m.group()
    if kind == "hero":  # the hero's own noun: before "who"/"with"..., or (Chinese) after the last 的
        cut = text.rfind("的")
        end = HEAD_END.search(text)
        text = text[:cut] if cut >= 0 else (text[end.start():] if end else "")
    m = OTHERS.search(text)
    return m.group() if m else None


def check_shape(kind: str, value: str) -> Verdict | None:
    """None when a typed `kind` value has the shape of a name, or of a description of the hero's own
    magic; else a Verdict of category "shape" (its reason for logs; its term, an unknown word, for
    tests, never for the child)."""
    if kind not in LIMITS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {tuple(LIMITS)}")
    if not value or not value.strip():
        return None
    cjk_limit, word_limit = LIMITS[kind]
    cjk, words = measure(value)
    total, pinyin = size(value)
    fits = total <= cjk_limit if cjk else (total <= word_limit or (pinyin is not None and pinyin <= cjk_limit))
    unit = "characters and words" if cjk else "words"
    if not fits:
        limit = DESCRIBE[kind][0 if cjk else 1]
        if total > limit or (not cjk and pinyin is not None):
            why = "in pinyin" if total <= limit else f"(limit {limit})"
            return Verdict(category=SHAPE, reason=f"shape: a {kind} of {total} {unit} {why}", term="")
    for i, word in enumerate(words):
        if not known(word, kind, first=i == 0):
            return Verdict(category=SHAPE, reason=f"shape: a {kind} with a word a child would not know", term=word)
    if not fits and (who := others(kind, value)):
        return Verdict(category=SHAPE, reason=f"shape: a {kind} of {total} {unit} about other people", term=who)
    return None

"""The prompt format and slot filling of storyteller models (models/storyteller-tiny and rebuilds).

A storyteller model is a small causal LM trained on the team's corpus with the dynasty, hero,
power and the hero's true fact replaced by slot tokens. The model is conditioned on a one-line
header that still carries the real values as characters; when it writes a slot token, the
`SlotFiller` puts the request's value in. So the story always names exactly what was asked, even
a power the model never saw, the hero's name never drifts, and the only fact a story states is
the catalog's (a typed hero with no catalog fact gets no fact sentence at all).

The engine's part (storyteller/engines/local_hf.py):
    ids = tokenizer(prompt_text(req), return_tensors="pt")        # header ends with STORY
    generate with eos_token_id = tokenizer.convert_tokens_to_ids(END)
    decode new tokens with skip_special_tokens=True                  # slots are *not* special:
    filler = SlotFiller(req); show filler.feed(piece) ...; show filler.flush() at the end.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from storyteller.catalog import STAND_IN_HERO, get_catalog, in_latin, stand_in_fact
from storyteller.corpus import Story
from storyteller.prompts import StoryRequest
from storyteller.story_cast import CAST_SLOTS, IN_HEADER, KID, pronouns
from storyteller.story_era import Rephrase, era_phrases
from storyteller.story_unsaid import OPENERS, Unsaid

FORMAT_KEY = "storyteller_format"
FORMAT_VERSION = 1

DYNASTY, HERO, POWER, FACT = "<|dynasty|>", "<|hero|>", "<|power|>", "<|fact|>"
SLOTS = {DYNASTY: "dynasty", HERO: "hero", POWER: "power", FACT: "fact"}
END = "<|end|>"  # end of story; the model's eos token
ENDINGS = "。！？.!?”\"』」…~）)"  # a finished sentence ends with one of these
STORY = "<|story|>"  # ends the header; the story starts right after it
LANG_TAGS = {"zh": "<|zh|>", "en": "<|en|>"}
SEP = "|"  # never inside a field: prompts.clean_field strips it
# Tokens the tokenizer must know. Slots are plain added tokens (survive skip_special_tokens);
# the rest are special (skipped if a model ever echoes them).
SLOT_TOKENS = list(SLOTS)
SPECIAL_TOKENS = [END, STORY, *LANG_TAGS.values()]

_SENTENCE_END = "。！？!?.;；\n"
_CLOSERS = "”’\"'」』)）"
_OPENERS = "“‘「『(（"


def is_storyteller_model(config: Any) -> bool:
    """True for a model trained in this format: a config (or dict) with `storyteller_format`."""
    if config is None:
        return False
    value = config.get(FORMAT_KEY) if isinstance(config, Mapping) else getattr(config, FORMAT_KEY, None)
    try:
        return int(value) == FORMAT_VERSION
    except (TypeError, ValueError):
        return False


def dynasty_name(value: str, lang: str) -> str:
    """Catalog name in `lang`; typed names lose a trailing 朝/dynasty since stories add it."""
    d = get_catalog().dynasty(value)
    if d:
        return d.name(lang)
    name = re.sub(r"(朝|\s+dynasty)$", "", value.strip(), flags=re.I) or value.strip()
    return in_latin(name, "dynasty") if lang == "en" else name


def hero_name(req: StoryRequest) -> str:
    """The hero as the story names them: typed or the catalog's, else a stand-in child's name."""
    hero = req.resolved_hero() or STAND_IN_HERO[req.lang]
    return in_latin(hero, "person") if req.lang == "en" else hero


def slot_values(req: StoryRequest) -> dict[str, str | None]:
    """What each slot becomes for this request, in the request's language."""
    cat, lang = get_catalog(), req.lang
    dynasty, hero = dynasty_name(req.dynasty, lang), hero_name(req)
    return {
        "dynasty": dynasty,
        "hero": hero,
        "power": cat.translate("power", req.power, lang),
        "fact": req.hero_fact() or stand_in_fact(hero, dynasty, lang),
    }


def header(lang: str, dynasty: str, hero: str, power: str, style: str, cast: Mapping[str, str] | None = None) -> str:
    """The conditioning line, shared by training (from corpus rows) and generation. With a `cast`
    (models with cast slots, see story_cast.py) the monster and the place follow as words."""
    fields = (dynasty, hero, power, style) + (tuple(cast[k] for k in IN_HEADER) if cast else ())
    return f"{LANG_TAGS[lang]}{SEP.join(fields)}{STORY}"


def prompt_text(req: StoryRequest, cast: Mapping[str, str] | None = None) -> str:
    """The header the model is conditioned on; the story follows it."""
    v = slot_values(req)
    style = get_catalog().translate("style", req.style, req.lang)
    return header(req.lang, v["dynasty"], v["hero"], v["power"], style, cast)


def story_in_slots(req: StoryRequest, text: str, keep_power: bool = False,
                   cast: Mapping[str, str] | None = None) -> str:
    """Story text told so far, back in the slot form the model writes (to continue it). The cast's
    names go back to their slots too (not the pronouns: 他 may be Ultraman)."""
    v = slot_values(req)
    text = to_slots(text, req.lang, v["dynasty"], v["hero"], v["power"], v["fact"] or "", keep_power)
    for token, name in CAST_SLOTS.items():
        value = (cast or {}).get(name)
        if value and name not in _PRONOUN_SLOTS:
            text = _replace_word(text, value, token, req.lang)
    return text


_POWER_VERBS = "会能"
ENDING = 7  # the paragraph, from 0, of a story's warm ending (the model tells eight)
RECENT = 160  # characters of the story shown so far that the filler looks back on


class SlotFiller:
    """Turns streamed model text with slot tokens into the story to show.

    `feed` returns what is safe to show now: a chunk ending in a partial slot token ("<|he")
    is held back until the token completes. Every request has a fact (a hero without one gets a
    true line about where they come from), so nothing a fact slot leads into is left dangling.
    The line that names the power before the story shows it is the model's own (story_unsaid.py):
    it is left out of what is shown; a typed power's generic climax is shown with the world's line
    for that power (story_climax.py); an invisible hero becomes visible before a child recognises
    them (world/seen.py).
    """

    def __init__(self, req: StoryRequest, cast: Mapping[str, str] | None = None, told: str = ""):
        self.values = slot_values(req) | dict(cast or {})
        self._capitalise = req.lang == "en"
        self._lang = req.lang
        kid = self.values.get("kid")
        self._kid_met = not kid or kid in told  # `told`: the story so far, when one is continued
        self._shown_tail = ""  # the last shown characters: does a slot start a sentence?
        self._paragraph = told.count("\n")  # the paragraph being shown, from 0
        self._recent = told[-RECENT:]  # the last shown characters: the sentence before a fact
        self._in_quote = _quote_open(False, told)  # inside someone's words: “我知道！<|fact|>”
        self._pending = ""  # text not shown yet
        from storyteller.world.seen import hidden

        seen = self._seen(req.lang)
        self._unsaid = Unsaid(self._announcements(req.lang) + self._climax_after(req.lang) + self._foreign(req.lang),
                              self._own_monster(req.lang) | self._found(req.lang) | self._rewritten(req.lang)
                              | self._climax(req.lang) | seen
                              | self._heart(req.lang),
                              when=lambda said, told: said not in seen or hidden(told, req.lang),
                              openers=OPENERS.get(req.lang, ()))
        from storyteller.story_hero import own_pastimes

        # "hundreds of years" only where true; another hero's pastime as this one's (story_hero.py)
        self._era = Rephrase(era_phrases(req.dynasty, req.lang) | own_pastimes(req.lang, self.values["hero"]))
        if told:  # a story being continued: its sentences are not told again
            self._unsaid.feed(told)
            self._unsaid.flush()
        self.ended = False

    def _world_values(self) -> dict[str, str]:
        """The telling's values as the world's templates are filled with them."""
        return pronouns(False) | {k: v for k, v in self.values.items() if v}

    def _announcements(self, lang: str) -> list[str]:
        from storyteller.world.compose import ANNOUNCE, fill

        values = self._world_values()
        return [_one_de(fill(t, values), lang) for t in ANNOUNCE.get(lang, [])]

    def _climax_after(self, lang: str) -> list[str]:
        from storyteller.story_climax import climax_after

        return [_one_de(t, lang) for t in climax_after(lang, self._world_values())]

    def _climax(self, lang: str) -> dict[str, str]:
        from storyteller.story_climax import climax_instead

        instead = climax_instead(lang, self._world_values())
        return {_one_de(say, lang): shown for say, shown in instead.items()}

    def _seen(self, lang: str) -> dict[str, str]:
        from storyteller.world.seen import seen_again

        return seen_again(lang, self._world_values())

    def _rewritten(self, lang: str) -> dict[str, str]:
        """A world line the model learnt that the world now says otherwise ("一阵小雨轻轻落下来，泥点全被冲
        走了" was a fix by chance): shown as it is said now, by this telling's monster (story_monster.py)."""
        from storyteller.story_monster import as_own, owners, telling_monster
        from storyteller.world.schema import cached_world, fill

        values = self._world_values()
        world = cached_world(lang)
        me, index = telling_monster(world, values), owners(world)
        return {_one_de(fill(said, values), lang): fill(as_own(world, me, now, index) if me else now, values)
                for said, now in world.rewritten.items()}

    def _found(self, lang: str) -> dict[str, str]:
        from storyteller.story_climax import catalog_found

        return {_one_de(said, lang): shown for said, shown in catalog_found(lang, self._world_values()).items()}

    def _own_monster(self, lang: str) -> dict[str, str]:
        from storyteller.story_monster import own_lines

        return {_one_de(said, lang): shown for said, shown in
                own_lines(lang, self._world_values()).items()}

    def _foreign(self, lang: str) -> list[str]:
        from storyteller.story_monster import foreign_freed

        return [_one_de(s, lang) for s in foreign_freed(lang, self._world_values())]

    def _heart(self, lang: str) -> dict[str, str]:
        from storyteller import story_idea

        instead = story_idea.take_heart(lang, self._world_values())
        return {_one_de(say, lang): shown for say, shown in instead.items()}

    def feed(self, chunk: str) -> str:
        if self.ended or not chunk:
            return ""
        self._pending += chunk
        if END in self._pending:
            self._pending = self._pending.split(END, 1)[0]
            self.ended = True
            return self._era.feed(self._unsaid.feed(self._drain(final=True)) + self._unsaid.flush()) + self._era.flush()
        return self._era.feed(self._unsaid.feed(self._drain(final=False)))

    def flush(self) -> str:
        if self.ended:
            return ""
        self.ended = True
        return self._era.feed(self._unsaid.feed(self._drain(final=True)) + self._unsaid.flush()) + self._era.flush()

    def _drain(self, final: bool) -> str:
        text, out = self._pending, []
        while True:
            i = text.find("<|")
            if i < 0:
                break
            j = text.find("|>", i + 2)
            if j < 0:
                break
            token = text[i : j + 2]
            out.append(text[:i])
            text = text[j + 2 :]
            if token in SLOTS:
                value = self.values[SLOTS[token]] or ""
                if token == POWER and value[:1] in _POWER_VERBS and (self._shown_tail + "".join(out)).endswith(value[:1]):
                    value = value[1:]  # "你会<|power|>" with a typed power "会变色": 你会变色, not 你会会变色
                if token == POWER and value.endswith("的") and self._lang == "zh":
                    if not text and not final:  # whether "的本领" follows comes with the next piece
                        text = token
                        break
                    text = text[1:] if text[:1] == "的" else text  # "变出好吃的" + "的本领": one 的
                if token == FACT and _quote_open(self._in_quote, "".join(out)):
                    value = value.translate(_INNER_QUOTES)  # a child says the fact: “…被称为‘诗仙’…”
                elif token == FACT:
                    value = self._told_of(self._recent + "".join(out), value)
                out.append(value)
                if token == DYNASTY and value.endswith("朝") and text[:1] == "朝":
                    text = text[1:]  # "<|dynasty|>朝" with 南北朝
            elif token == KID and not self._kid_met:
                if not text and not final:  # how the child is met depends on the next character
                    text = token
                    break
                value = self._meet_kid(self._shown_tail + "".join(out), text,
                                       self._paragraph + "".join(out).count("\n"))
                if self._capitalise and _starts_sentence(self._shown_tail + "".join(out)):
                    value = value[:1].upper() + value[1:]
                out.append(value)
            elif token in CAST_SLOTS:
                value = self.values.get(CAST_SLOTS[token]) or ""
                if self._capitalise and _starts_sentence(self._shown_tail + "".join(out)):
                    value = value[:1].upper() + value[1:]
                out.append(value)
            # any other <|...|> token is not story text: dropped
        keep = ""
        if text in (KID, POWER):  # held until the next character comes
            text, keep = "", text
        elif not final:
            i = text.rfind("<")  # a possible partial slot at the end ("<", "<|he")
            if i >= 0 and (text[i:] == "<" or text[i:].startswith("<|")):
                text, keep = text[:i], text[i:]
        shown = "".join(out) + text
        self._pending = keep
        self._in_quote = _quote_open(self._in_quote, shown)
        self._shown_tail = (self._shown_tail + shown)[-8:]
        self._paragraph += shown.count("\n")
        self._recent = (self._recent + shown)[-RECENT:]
        return shown


    def _told_of(self, before: str, fact: str) -> str:
        """The fact as the narrator tells it right after a sentence about the hero: 他 / he, not the
        name again (readers marked "李白想起了从前。李白被称为…" and "Zheng He thought about home. Zheng He led…")."""
        hero = self.values.get("hero") or ""
        b = before.rstrip(" ")
        if not hero or not fact.startswith(hero) or not b or b[-1] not in "。！？.!?":
            return fact
        last = re.split(r"(?<=[。！？.!?])\s*", b[:-1])[-1]
        rest = fact[len(hero):]
        if hero not in last or (self._lang == "en" and not re.match(r" [a-z]", rest)):
            return fact
        pronoun = self.values.get("ta") if self._lang == "zh" else (self.values.get("he") or "he").capitalize()
        return f"{pronoun}{rest}" if pronoun else fact

    def _meet_kid(self, before: str, after: str, paragraph: int = 0) -> str:
        """The child's name where the story first names them, said as someone new: readers marked
        every story whose child speaks up by name, never introduced ("小雨拉拉他的衣角"). Not where
        the story introduces them itself (一个叫…, called …) or calls to them in speech. A child the
        story has not met by its last paragraph is not met there: readers asked where they came from
        ("danced a little dance with a child called Mei"); the children are there instead."""
        kid, b = self.values["kid"], before.rstrip(" ")
        if b.endswith(("叫", "名叫", "called", "named", "Called", "Named")) or b[-1:] in "“\"‘'":
            self._kid_met = True
            return kid
        if paragraph >= ENDING:
            return "小朋友们" if self._lang == "zh" else "the children"
        self._kid_met = True
        if self._lang == "zh":
            return f"小朋友{kid}" if after.startswith("的") else f"一个叫{kid}的小朋友"
        return f"little {kid}" if after.startswith("'") else f"a child called {kid}"


def _one_de(text: str, lang: str) -> str:
    """A sentence as the filler shows it when a typed power ends in 的 ("变出好吃的的本领" -> one 的)."""
    return text.replace("的的", "的") if lang == "zh" else text


_PRONOUN_SLOTS = ("ta", "he", "his", "him")
# Readers stumbled on quotes in quotes (甜甜说：“我知道！李白被称为“诗仙”……”): inside speech a fact's
# own quotation marks become the inner kind, as a Chinese book prints them.
_INNER_QUOTES = str.maketrans({"“": "‘", "”": "’"})


def _quote_open(state: bool, text: str) -> bool:
    """Whether Chinese speech is still open after `text`, starting from `state`."""
    for ch in text:
        if ch == "“":
            state = True
        elif ch == "”":
            state = False
    return state


def _starts_sentence(before: str) -> bool:
    """Whether English text written after `before` starts a sentence (or a quoted one)."""
    b = before.rstrip(" ")
    if not b or b[-1] in ".!?\n“":
        return True
    return b[-1] == '"' and (len(b) == 1 or b[-2] in " :\n")  # an opening quote; '"Yes," he said' closes one


def to_slots(story: str, lang: str, dynasty: str, hero: str, power: str, fact: str,
             keep_power: bool = False) -> str:
    """A corpus story -> training text: values become slot tokens (the inverse of SlotFiller).

    A plain lead-in ("Long ago, " / "大家都知道，") goes into the fact slot when the sentence is
    just lead-in + fact, so a story without a fact reads well; quoted speech stays as written.
    """
    text = story
    if fact and fact not in text and fact.translate(_INNER_QUOTES) in text:
        fact = fact.translate(_INNER_QUOTES)  # the fact as said inside speech
    if fact and fact in text:
        i = text.index(fact)
        end = i + len(fact)
        start = max(text.rfind(c, 0, i) for c in _SENTENCE_END) + 1
        while start < i and text[start] in _CLOSERS + " ":
            start += 1
        lead = text[start:i]
        plain = not any(q in lead for q in _OPENERS + _CLOSERS) and (end == len(text) or text[end] not in _CLOSERS)
        if plain and len(lead) <= 30 and fact[-1] in _SENTENCE_END:
            i = start
        text = text[:i] + FACT + text[end:]
    if hero:
        text = _replace_word(text, hero, HERO, lang)
    if power and not (keep_power and is_catalog_power(power)):
        text = _replace_word(text, power, POWER, lang, ignore_case=True)
    if dynasty:
        if lang == "zh" and len(dynasty) == 1:  # 明 is also in 聪明: only 明朝 / 明代 are the dynasty
            text = re.sub(rf"{re.escape(dynasty)}(?=[朝代])", DYNASTY, text)
        else:
            text = _replace_word(text, dynasty, DYNASTY, lang)
    return text


def _replace_word(text: str, value: str, slot: str, lang: str, ignore_case: bool = False) -> str:
    if lang != "en":
        return text.replace(value, slot)
    flags = re.I if ignore_case else 0
    return re.sub(rf"(?<![A-Za-z]){re.escape(value)}(?![a-z])", slot, text, flags=flags)


def story_fields(s: Story) -> dict[str, str]:
    """A corpus row's values in its own language (the corpus stores dynasty/power/style in zh)."""
    cat, lang = get_catalog(), s.lang
    return {
        "dynasty": cat.translate("dynasty", s.dynasty, lang),
        "hero": s.hero,
        "power": cat.translate("power", s.power, lang),
        "style": cat.translate("style", s.style, lang),
        "fact": s.hero_fact,
    }


def training_text(s: Story, rng: random.Random | None = None, noise: float = 0.0,
                  keep_power: bool = False, noise_power: bool = True,
                  cast: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(header, story in slot form + END). With `noise`, header values are sometimes made up,
    so the model learns to write slots whatever the header says (unseen powers, typed heroes).
    `keep_power`: a catalog power stays as its name (one token, see `power_tokens`); `noise_power`
    lets the noise make up the power too (then the story's power passages disagree with the header).
    `cast`: a composed story already in cast-slot form, and the monster and place it was told with."""
    f = story_fields(s)
    story = to_slots(s.story, s.lang, f["dynasty"], f["hero"], f["power"], f["fact"], keep_power) + END
    h = dict(f)
    if rng is not None and rng.random() < noise:
        key = rng.choice(["dynasty", "hero"] + (["power"] if noise_power else []))
        h[key] = _made_up(rng, s.lang)
    return header(s.lang, h["dynasty"], h["hero"], h["power"], h["style"], cast), story


def is_catalog_power(name: str) -> bool:
    return any(name in (p.zh, p.name("en")) for p in get_catalog().powers)


def power_tokens(tokenizer: Any) -> dict[str, int]:
    """Catalog power names that are one token of `tokenizer` (models built since the power tokens).

    Such a model writes the power's own token in the story instead of the generic power slot, so
    what it tells after naming the power can follow the power named (a slot token is the same for
    every power, and the model could not see which one it had named)."""
    added = tokenizer.get_added_vocab() if hasattr(tokenizer, "get_added_vocab") else {}
    names = {n for p in get_catalog().powers for n in (p.zh, p.name("en"))}
    return {n: i for n, i in added.items() if n in names}


def _made_up(rng: random.Random, lang: str) -> str:
    if lang == "en":
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(1, 4)))

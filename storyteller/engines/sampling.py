"""How local models pick their next token, shared by the engine and `storyteller eval`.

Sampling runs inside our own logits processor with a per-request `torch.Generator`: generate
itself runs greedy over the processed scores, so one request's seed never touches the global RNG
and concurrent requests cannot disturb each other. Whatever decodes (transformers' `generate` or
the lean GPT-2 loop) sees the same processors, so the app and the evaluation tell the same story
for the same seed.
"""

from __future__ import annotations

import re
import secrets
import threading
from functools import lru_cache
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria

from storyteller.story_format import DYNASTY, END, ENDINGS, POWER, power_tokens


NUCLEUS_K = 512


class SeededSampler(LogitsProcessor):
    """Temperature + top-p sampling with a private generator; leaves only the chosen token finite,
    so a greedy step picks it. Runs after the model's own processors (repetition penalty...).
    Top-p looks at the 512 likeliest tokens first: sorting the whole vocabulary cost more than a
    tiny model's forward pass."""

    def __init__(self, seed: int, temperature: float, top_p: float, device: str):
        self.temperature, self.top_p = temperature, top_p
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = (scores / self.temperature).softmax(-1)
        top, idx = probs.topk(min(NUCLEUS_K, probs.shape[-1]))  # the nucleus is almost always in here
        if self.top_p < 1.0 and bool((top.sum(-1) < self.top_p).any()):
            top, idx = probs.sort(descending=True)  # a flat distribution: look at every token
        if self.top_p < 1.0:
            top = top.masked_fill(top.cumsum(-1) - top > self.top_p, 0.0)  # keep the token that crosses top_p
        else:
            top, idx = probs, None
        choice = torch.multinomial(top, 1, generator=self.generator)
        if idx is not None:
            choice = idx.gather(-1, choice)
        return torch.full_like(scores, float("-inf")).scatter(-1, choice, 0.0)


class NoLoops(LogitsProcessor):
    """Ban the token that would repeat a short pattern a third time in a row ("奶奶奶", "喷喷嚏喷喷嚏
    喷喷嚏"): tiny character-level models fall into such loops and a repetition penalty alone does
    not pull them out. Two in a row ("咕嘟咕嘟") stay allowed. English, written in whole words, keeps
    three ("boing, boing, boing!", "pop, pop, pop", "..."; `times=4`): readers marked the garbled
    sentences the model wrote when the third was banned ("Suddenly, boing, boing, twirled into view",
    "Tick.. tock..")."""

    def __init__(self, max_period: int = 4, times: int = 3):
        self.max_period, self.times = max_period, times

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        banned, k = [], self.times
        for row, ids in enumerate(input_ids[:, -(k * self.max_period - 1):].tolist()):
            for p in range(1, self.max_period + 1):
                tail = ids[-(k * p - 1):]
                if len(tail) == k * p - 1 and all(tail[i] == tail[i + p] for i in range(len(tail) - p)):
                    banned.append((row, tail[-p]))
        if not banned:
            return scores
        rows, cols = zip(*banned)
        scores = scores.clone()
        scores[list(rows), list(cols)] = float("-inf")
        return scores


class KeepScript(LogitsProcessor):
    """Ban the tokens of the other language's script. A tiny model that learnt Chinese and English
    together otherwise slips a "rubbed" into a Chinese story or a "瓜" into an English one."""

    def __init__(self, banned: torch.Tensor):
        self.banned = banned

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        banned = self.banned[: scores.shape[-1]]
        if banned.shape[0] < scores.shape[-1]:  # a model vocabulary padded past the tokenizer's
            banned = torch.cat([banned, banned.new_zeros(scores.shape[-1] - banned.shape[0])])
        return scores.masked_fill(banned.to(scores.device), float("-inf"))


class WholeWords(LogitsProcessor):
    """English stories write only words the model learnt (the tokenizer's `story_words`): pieces of
    words are banned, and a word never glues onto the letters before it ("sun" + "ing"), except as a
    listed word's own next piece ("▁y" + "et": `spelled`, a map from each listed start of a word, as
    token ids, to the pieces that may follow it and whether it is a word already). So a story cannot
    misspell a word, and it can still write the listed words that the merges did not make one token
    (without them, a sentence broke where such a word was due). Names come through the slots."""

    def __init__(self, pieces: torch.Tensor, glue: torch.Tensor, ends_in_letter: torch.Tensor,
                 apostrophe: torch.Tensor | None = None, not_tail: torch.Tensor | None = None,
                 spelled: dict[tuple[int, ...], tuple[list[int], bool]] | None = None,
                 spaced: torch.Tensor | None = None):
        self.pieces, self.glue, self.ends_in_letter = pieces, glue, ends_in_letter
        self.apostrophe, self.not_tail = apostrophe, not_tail  # after "'", only n't/'s/'ll/'re/'ve/'m/'d
        self.spelled, self.spaced = spelled or {}, spaced  # spaced: tokens that start with "▁" or a new line
        self.longest = max((len(k) for k in self.spelled), default=0)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        n = scores.shape[-1]
        banned = _fit(self.pieces, n).to(scores.device).expand_as(scores).clone()
        last = input_ids[:, -1].clamp(max=len(self.ends_in_letter) - 1)
        after_letter = self.ends_in_letter.to(scores.device)[last]
        if bool(after_letter.any()):
            banned[after_letter] |= _fit(self.glue, n).to(scores.device)
        if self.apostrophe is not None:
            after_apostrophe = self.apostrophe.to(scores.device)[last]
            if bool(after_apostrophe.any()):
                banned[after_apostrophe] |= _fit(self.not_tail, n).to(scores.device)
        for row in range(input_ids.shape[0]) if self.spelled else ():
            found = self._word_so_far(input_ids[row, -self.longest - 1:].tolist())
            if found is not None:
                following, whole = found
                if not whole:  # inside a listed word: only its next pieces
                    banned[row] = True
                banned[row, following] = False
        return scores.masked_fill(banned, float("-inf"))

    def _word_so_far(self, ids: list[int]) -> tuple[list[int], bool] | None:
        """The listed start of a word that the text ends with, if any (the longest that starts a word)."""
        for j in range(min(self.longest, len(ids)), 0, -1):
            found = self.spelled.get(tuple(ids[-j:]))
            if found is None:
                continue
            first, before = ids[-j], ids[-j - 1] if j < len(ids) else None
            if (before is None or bool(self.spaced[first]) or before >= len(self.ends_in_letter)
                    or not bool(self.ends_in_letter[before])):
                return found
        return None


def _fit(mask: torch.Tensor, n: int) -> torch.Tensor:
    """A vocabulary mask cut or padded (with False) to the model's `n` logits."""
    mask = mask[:n]
    return torch.cat([mask, mask.new_zeros(n - mask.shape[0])]) if mask.shape[0] < n else mask


@lru_cache(maxsize=8)
def word_masks(tokenizer: Any) -> tuple | None:
    """(word pieces, glue-on words, ends in a letter, is an apostrophe, letters but not a contraction's
    tail, the spelling map of words listed in pieces, starts with the space mark) for a tokenizer
    with `story_words`, else None."""
    words = set(getattr(tokenizer, "init_kwargs", {}).get("story_words") or [])
    if not words:
        return None
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    letters = [bool(t) and bool(LATIN.search(t)) and not BYTE.fullmatch(t) and not t.startswith("<|") for t in tokens]
    powers = set(power_tokens(tokenizer))  # whole names: never pieces
    spelled = _spellings(tokenizer, words)
    firsts = {k[0] for k in spelled}
    pieces = torch.tensor([has and t not in words and t not in powers and i not in firsts
                           for i, (t, has) in enumerate(zip(tokens, letters))])
    glue = torch.tensor([has and t[:1].isalpha() for t, has in zip(tokens, letters)])
    named = {"<|dynasty|>", "<|hero|>", "<|power|>"}  # slots whose values end in a letter
    ends = torch.tensor([(has and t[-1:].isalpha()) or t in named for t, has in zip(tokens, letters)])
    apostrophe = torch.tensor([t in ("'", "’") for t in tokens])
    not_tail = torch.tensor([has and t not in CONTRACTION_TAILS for t, has in zip(tokens, letters)])
    spaced = torch.tensor([t[:1] in ("▁", "\n") for t in tokens])  # starts a word wherever it comes
    return pieces, glue, ends, apostrophe, not_tail, spelled, spaced


def _spellings(tokenizer: Any, words: set[str]) -> dict[tuple[int, ...], tuple[list[int], bool]]:
    """Each start of a listed word that is written in several pieces (token ids, split as the tokenizer
    splits it, so as the model read it) -> (the pieces that may come next, whether that start is itself
    a listed word, as "▁Some" is of "▁Something", or no word at all yet)."""
    vocab, bpe = tokenizer.get_vocab(), tokenizer.backend_tokenizer.model
    spelt = {w: [vocab.get(t.value) for t in bpe.tokenize(w)] for w in words}
    listed = {tuple(ids) for ids in spelt.values() if None not in ids}
    nexts: dict[tuple[int, ...], set[int]] = {}
    for ids in listed:
        for j in range(1, len(ids)):
            nexts.setdefault(ids[:j], set()).add(ids[j])
    bare = {i for i, t in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))) if not LATIN.search(t or "")}
    # a start of bare marks ("▁" before "ve" + "get" + "able") is no word yet, and forces nothing: a slot may follow
    return {k: (sorted(v), k in listed or set(k) <= bare) for k, v in nexts.items()}


LATIN = re.compile("[A-Za-z]")
CONTRACTION_TAILS = {"s", "t", "ll", "re", "ve", "m", "d"}
BYTE = re.compile("<0x[0-9A-Fa-f]{2}>")
CJK = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@lru_cache(maxsize=8)
def token_shapes(tokenizer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(ends a sentence, is only whitespace) for every token of the vocabulary."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    texts = [tokenizer.convert_tokens_to_string([t]) for t in tokens]
    return (torch.tensor([bool(t.strip()) and t.rstrip()[-1] in ENDINGS for t in texts]),
            torch.tensor([not t.strip() for t in texts]))


@lru_cache(maxsize=8)
def other_script(tokenizer: Any, lang: str) -> torch.Tensor:
    """Vocabulary mask of tokens written in a script `lang` stories never use (Latin letters in
    Chinese, hanzi and full-width punctuation in English); special and byte tokens always pass."""
    pattern = LATIN if lang == "zh" else CJK
    special = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {}))
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return torch.tensor([t not in special and not BYTE.fullmatch(t or "") and bool(pattern.search(t or ""))
                         for t in tokens])


class StoryEnd(LogitsProcessor):
    """How a story may end: after a finished sentence, once the dynasty and the power were named.
    A slot still missing `nudge_after` tokens in is nudged up a little more with every token, and so
    is the end once the story runs past `long_after` tokens. (Left alone, a 4M-parameter model skips
    the dynasty in one story in ten, stops mid-sentence or rambles on to the token limit.)"""

    def __init__(self, required: list[int], end_id: int, enders: torch.Tensor, blank: torch.Tensor,
                 nudge_after: int = 120, long_after: int = 800, step: float = 0.05, start: int | None = None):
        self.required, self.end_id, self.enders, self.blank = required, end_id, enders, blank
        self.nudge_after, self.long_after, self.step = nudge_after, long_after, step
        self.start = start  # where the story starts in the input; None: after the whole prompt

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.start is None:
            self.start = input_ids.shape[1]  # the prompt holds the slots' values, never slot tokens
        written = input_ids.shape[1] - self.start
        scores = scores.clone()
        for row, ids in enumerate(input_ids):
            missing = [t for t in self.required if not bool((ids[self.start:] == t).any())]
            if missing or not self._after_sentence(ids.tolist()):
                scores[row, self.end_id] = float("-inf")
            if missing and written > self.nudge_after:
                scores[row, missing] += self.step * (written - self.nudge_after)
            elif written > self.long_after:
                scores[row, self.end_id] += self.step * (written - self.long_after)
        return scores

    def _after_sentence(self, ids: list[int]) -> bool:
        for t in reversed(ids[self.start:]):
            if t >= len(self.blank):
                return False
            if not self.blank[t]:
                return bool(self.enders[t])
        return False


class OnlyPower(LogitsProcessor):
    """A model with power tokens names only the requested power: every other catalog power's token
    is banned, and so is the generic power slot when the request's power has its own token (a typed
    power keeps the slot, which the SlotFiller fills). Where the model would name *a* power, it names
    this one: the banned tokens' probability goes to `to` (the power's token, or the slot), unless
    `to` was written in the last RECENT tokens ("flying!flying!"). Banning alone left "He had the
    power of  with a grin" where the model wanted another power's word.

    `plain`: a power's token that is an everyday word after certain tokens (Ultraman "came flying"),
    left to the model there; blind readers found "Ultraman … came invisibility"."""

    RECENT = 8

    def __init__(self, banned: list[int], to: int | None = None, plain: dict[int, list[tuple[int, ...]]] | None = None):
        self.banned = torch.tensor(banned, dtype=torch.long)
        self.to = to
        self.plain = {t: ctx for t, ctx in (plain or {}).items() if t in banned}
        self._span = max((len(c) for ctx in self.plain.values() for c in ctx), default=0)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        free = self._free(input_ids)  # plain words here: their own chance, none of it moved to the power
        banned = torch.tensor([i for i in self.banned.tolist() if i not in free], dtype=torch.long) if free else self.banned
        banned = banned.to(scores.device)
        if self.to is not None:
            merged = torch.logsumexp(torch.cat([scores[..., [self.to]], scores[..., banned]], dim=-1), dim=-1)
            fresh = ~(input_ids[..., -self.RECENT:] == self.to).any(dim=-1)
            scores = scores.clone()
            scores[..., self.to] = torch.where(fresh, merged, scores[..., self.to])
        return scores.index_fill(-1, banned, float("-inf"))

    def _free(self, input_ids: torch.LongTensor) -> list[int]:
        """Power tokens that would be a plain word here (one story at a time: the app's batch is one)."""
        if not self.plain or input_ids.shape[0] != 1:
            return []
        tail = input_ids[0, -self._span:].tolist()
        return [t for t, contexts in self.plain.items() if any(tail[-len(c):] == list(c) for c in contexts)]


# Power names that are also everyday words after some words: Ultraman "came flying" in the world's
# beats and the team's stories, which the power rule turned into the requested power.
PLAIN_AFTER = {"flying": ("came", "come", "comes", "coming", "went")}


def plain_contexts(tokenizer: Any) -> dict[int, list[tuple[int, ...]]]:
    """{power token: the token sequences after which it is a plain word} for `OnlyPower`."""
    tokens, out = power_tokens(tokenizer), {}
    start = len(tokenizer("x", add_special_tokens=False)["input_ids"])
    for word, before in PLAIN_AFTER.items():
        tid = tokens.get(word)
        for w in before if tid is not None else ():
            ids = tokenizer(f"x {w} {word}", add_special_tokens=False)["input_ids"]  # as inside a story
            if len(ids) > start + 1 and ids[-1] == tid:
                out.setdefault(tid, []).append(tuple(ids[start:-1]))
    return out


def power_rule(tokenizer: Any, power: str | None) -> tuple[list[int], int | None]:
    """(token ids to ban, the token that names the power in the story) for a requested power."""
    tokens = power_tokens(tokenizer)
    if not tokens:
        return [], None  # an older model: the power slot names it
    own = tokens.get(power or "")
    slot = tokenizer.convert_tokens_to_ids(POWER)
    banned = [i for i in tokens.values() if i != own] + ([slot] if own is not None else [])
    return banned, own


def banned_ids(tokenizer: Any, terms: list[str]) -> list[list[int]]:
    """Token id sequences that spell `terms` (as written, after a space, capitalised), for
    `NoBadWordsLogitsProcessor`: the last token of a sequence is banned after the ones before it.
    Spellings with unknown tokens are left out (banning <unk> would ban nothing real)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    seqs: list[list[int]] = []
    for term in dict.fromkeys(t.strip() for t in terms if t and t.strip()):
        for form in dict.fromkeys((term, " " + term, term[:1].upper() + term[1:], " " + term[:1].upper() + term[1:])):
            ids = tokenizer(form, add_special_tokens=False).input_ids
            if ids and unk not in ids and ids not in seqs:
                seqs.append(ids)
    return seqs


class Cancelled(StoppingCriteria):
    """Ends generation once the user's cancel event (or our own, when the reader leaves) is set."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        stop = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def story_processors(storyteller: bool, temperature: float, top_p: float, seed: int | None,
                     device: str = "cpu", tokenizer: Any = None, lang: str | None = None,
                     story_start: int | None = None, power: str | None = None) -> LogitsProcessorList:
    """Our own char-level models keep to the story's script, fall into no loops, name only the
    requested `power` (see `OnlyPower`) and end well (see `StoryEnd`; `story_start`: where a
    continued story's text starts in the input); then seeded sampling (temperature 0: greedy)."""
    processors = LogitsProcessorList([NoLoops(times=4 if lang == "en" else 3)] if storyteller else [])
    if storyteller and tokenizer is not None:
        if lang in ("zh", "en"):
            processors.insert(0, KeepScript(other_script(tokenizer, lang)))
        if lang == "en" and word_masks(tokenizer) is not None:
            processors.insert(1, WholeWords(*word_masks(tokenizer)))
        banned, own = power_rule(tokenizer, power)
        named = own if own is not None else tokenizer.convert_tokens_to_ids(POWER)
        if banned:
            processors.insert(0, OnlyPower(banned, named, plain_contexts(tokenizer) if lang == "en" else None))
        required = [tokenizer.convert_tokens_to_ids(DYNASTY), named]
        processors.append(StoryEnd(required,
                                   tokenizer.convert_tokens_to_ids(END), *token_shapes(tokenizer),
                                   start=story_start))
    if temperature > 0:
        seed = seed if seed is not None else secrets.randbits(63)
        processors.append(SeededSampler(seed, temperature, top_p, device))
    return processors

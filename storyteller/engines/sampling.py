"""How local models pick their next token, shared by the engine and `storyteller eval`.

Sampling runs inside our own logits processor with a per-request `torch.Generator`: generate
itself runs greedy over the processed scores, so one request's seed never touches the global RNG
and concurrent requests cannot disturb each other. Whatever decodes (transformers' `generate` or
the lean GPT-2 loop) sees the same processors, so the app and the evaluation tell the same story
for the same seed.
"""

from __future__ import annotations

import secrets
import threading

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria


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


class NoLongRuns(LogitsProcessor):
    """Ban a token that already ends the text `max_run` times in a row. Tiny character-level
    models can fall into "奶奶奶奶…" loops that a repetition penalty alone does not break."""

    def __init__(self, max_run: int = 2):
        self.max_run = max_run

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] < self.max_run:
            return scores
        tail = input_ids[:, -self.max_run:]
        looping = (tail == tail[:, -1:]).all(-1)
        return scores.scatter(-1, tail[:, -1:], torch.where(looping[:, None], float("-inf"),
                                                            scores.gather(-1, tail[:, -1:])))


class Cancelled(StoppingCriteria):
    """Ends generation once the user's cancel event (or our own, when the reader leaves) is set."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        stop = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def story_processors(storyteller: bool, temperature: float, top_p: float, seed: int | None,
                     device: str = "cpu") -> LogitsProcessorList:
    """No long runs for our own char-level models, then seeded sampling (none: greedy)."""
    processors = LogitsProcessorList([NoLongRuns()] if storyteller else [])
    if temperature > 0:
        seed = seed if seed is not None else secrets.randbits(63)
        processors.append(SeededSampler(seed, temperature, top_p, device))
    return processors

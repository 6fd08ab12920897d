"""Measure a story model: does it tell the story that was asked, well, and fast?

    storyteller eval --model models/storyteller-tiny --data assets/corpus/en.jsonl --n 20

Works on the team's corpus (JSONL) and on the reference CSV (dynasty, super_power, story_type,
story). Storyteller-format models get their header and slot filling; any other causal LM gets
the legacy "唐,隐形,轻松 ->" prompt. Generation runs on one CPU thread by default, as on a laptop.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from storyteller import corpus
from storyteller.catalog import get_catalog
from storyteller.config import get_settings
from storyteller.engines.base import TEMPERATURE, TOP_P
from storyteller.errors import DataError, ModelNotFoundError
from storyteller.story_cast import has_cast, pick_cast
from storyteller.story_format import (END, ENDINGS, SlotFiller, is_storyteller_model, prompt_text, slot_values,
                                      to_slots)
from storyteller.story_opening import opening
from storyteller.model.fluency import available as fluency_available
from storyteller.model.fluency import mean_fluency
from storyteller.model.measures import masked, mean_pairwise_shared, nonword_share
from storyteller.paths import ROOT
from storyteller.prompts import LEGACY_STOP, StoryRequest

ULTRAMAN = {"zh": "奥特曼", "en": "Ultraman"}
WINDOW = 20
GIVEN = "\x00"  # stands in for a value the request supplied


@dataclass
class Row:
    lang: str
    dynasty: str
    power: str
    style: str
    hero: str | None
    story: str

    def request(self) -> StoryRequest:
        return StoryRequest(dynasty=self.dynasty, power=self.power, style=self.style, lang=self.lang, hero=self.hero)

    def seen(self) -> bool:
        """Both dynasty and power are catalog presets (typed ones are told through the slots alone)."""
        cat = get_catalog()
        return cat.dynasty(self.dynasty) is not None and cat.power(self.power) is not None


def load_rows(path: Path) -> list[Row]:
    """Corpus JSONL or the reference CSV, as rows; a friendly error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No data file at {path}.", "Pass a corpus .jsonl or a .csv with dynasty,super_power,story.")
    if path.suffix == ".jsonl":
        try:
            return [Row(s.lang, s.dynasty, s.power, s.style, s.hero, s.story) for s in corpus.load([path])]
        except ValueError as e:
            raise DataError(f"{path.name} is not a storyteller corpus file: {e}") from e
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        need = {"dynasty", "super_power", "story"}
        if not need <= set(reader.fieldnames or []):
            raise DataError(f"{path.name} needs the columns {sorted(need)}; it has {reader.fieldnames}.")
        return [Row("zh", r["dynasty"], r["super_power"], r.get("story_type") or "轻松", None, r["story"].strip())
                for r in reader if r["story"].strip()]


def load_model(model_id: str | Path, threads: int = 1):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(threads)
    try:
        tok = AutoTokenizer.from_pretrained(str(model_id))
        model = AutoModelForCausalLM.from_pretrained(str(model_id), dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"Could not load the model {model_id!s}.",
                                 "Give a model folder (e.g. models/storyteller-tiny) or a downloaded model id.") from e
    return model.eval(), tok


def generate(model, tok, req: StoryRequest, max_new_tokens: int = 900, temperature: float = TEMPERATURE,
             top_p: float = TOP_P, seed: int = 0) -> dict:
    """One story, decoded as the app decodes it (same processors, same lean loop): text, whether it
    ended by itself, and timing."""
    from transformers import StoppingCriteriaList, StopStringCriteria

    from storyteller.engines.lean_gpt2 import decode
    from storyteller.engines.sampling import story_processors

    story_fmt = is_storyteller_model(model.config)
    cast = pick_cast(req, seed) if story_fmt and has_cast(tok) else None
    use = cast is not None and get_settings().local.world_opening
    shown, slotted = opening(req, cast, seed) if use else ("", "")  # as the app starts a story
    prompt = prompt_text(req, cast) + slotted if story_fmt else req.legacy_prompt()
    end_id = tok.convert_tokens_to_ids(END) if story_fmt else tok.eos_token_id
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
    n_pos = getattr(model.config, "max_position_embeddings", None)
    limit = min(max_new_tokens, n_pos - ids.shape[1]) if n_pos else max_new_tokens
    start = ids.shape[1] - len(tok(slotted, add_special_tokens=False)["input_ids"]) if slotted else None
    clock = _Clock()
    out = decode(model, input_ids=ids, max_new_tokens=limit, do_sample=False, temperature=None, top_p=None,
                 top_k=None, eos_token_id=end_id, pad_token_id=end_id, streamer=clock,
                 logits_processor=story_processors(story_fmt, temperature, top_p, seed, tokenizer=tok, lang=req.lang,
                                                   story_start=start,
                                                   power=slot_values(req)["power"] if story_fmt else None),
                 stopping_criteria=StoppingCriteriaList([] if story_fmt else [StopStringCriteria(tok, [LEGACY_STOP])]))
    done = time.perf_counter()
    new = out[0, ids.shape[1]:].tolist()
    ended = bool(new) and new[-1] == end_id
    text = tok.decode(new, skip_special_tokens=True)
    if story_fmt:
        filler = SlotFiller(req, cast, told=shown)
        text = shown + filler.feed(text) + filler.flush()
    ended = ended or LEGACY_STOP in text
    story = text.split(LEGACY_STOP)[0].strip()
    return {"story": story, "ended": ended, "tokens": len(new), "ttft_s": (clock.first or done) - clock.t0,
            "seconds": done - clock.t0, "given_chars": len(shown),  # the first paragraph was not written by the model
            "ids": out[0].tolist(), "prompt_len": ids.shape[1]}  # what the model was given and wrote, as tokens


class _Clock:
    """A streamer that only notes when the first new token arrived."""

    def __init__(self) -> None:
        self.t0, self.first, self.prompt_seen = time.perf_counter(), None, False

    def put(self, value) -> None:
        if self.prompt_seen and self.first is None:
            self.first = time.perf_counter()
        self.prompt_seen = True

    def end(self) -> None:
        pass


def units(text: str, lang: str) -> list[str]:
    """What distinct-n counts: characters for Chinese, words for English."""
    return text.lower().split() if lang == "en" else [c for c in text if not c.isspace()]


def distinct(texts: list[tuple[str, str]], n: int) -> tuple[float, float]:
    """(mean per-story distinct-n, pooled distinct-n over all stories)."""
    per, pooled, total = [], set(), 0
    for text, lang in texts:
        u = units(text, lang)
        grams = [tuple(u[i : i + n]) for i in range(len(u) - n + 1)]
        if grams:
            per.append(len(set(grams)) / len(grams))
            pooled |= {(lang, g) for g in grams}
            total += len(grams)
    return (sum(per) / len(per) if per else 0.0), (len(pooled) / total if total else 0.0)


def windows(text: str, size: int = WINDOW) -> list[str]:
    flat = "".join(text.split()) if not any(c.isascii() and c.isalpha() for c in text[:200]) else " ".join(text.split())
    return [flat[i : i + size] for i in range(len(flat) - size + 1)]


def copied_share(texts: list[str], train_texts: list[str], given: list[list[str]] | None = None) -> float:
    """Share of the generated 20-character windows found verbatim in the training stories. With
    `given` (per text: the names and fact the request supplied, which the model writes through its
    slots), only windows of the model's own words count: "of the Three Kingdoms period" is the
    request talking, not the model remembering."""
    seen = {w for t in train_texts for w in windows(t)}
    gen = []
    for i, text in enumerate(texts):
        for value in sorted(given[i] if given else [], key=len, reverse=True):
            text = text.replace(value, GIVEN)
        gen += [w for w in windows(text) if GIVEN not in w]
    return sum(w in seen for w in gen) / len(gen) if gen else 0.0


def story_checks(row: Row, story: str) -> dict[str, bool]:
    """Adherence (dynasty, power and Ultraman named) and hero consistency of one story."""
    req = row.request()
    v = slot_values(req)
    low = story.lower()
    names = {h.name(row.lang) for d in get_catalog().dynasties for h in d.heroes}
    has = (lambda s: s.lower() in low) if row.lang == "en" else (lambda s: s in story)
    hero = v["hero"]
    return {
        "adherent": has(v["dynasty"]) and has(v["power"]) and has(ULTRAMAN[row.lang]),
        "hero_ok": bool(hero) and has(hero) and not any(has(n) for n in names - {hero} if n not in hero),
    }


def perplexity(model, tok, rows: list[Row]) -> float:
    """Per-character perplexity of the given stories under the model (what it has learned)."""
    import torch

    story_fmt = is_storyteller_model(model.config)
    n_pos = getattr(model.config, "max_position_embeddings", 1024)
    nll, chars = 0.0, 0
    with torch.inference_mode():
        for row in rows:
            req = row.request()
            if story_fmt:
                v = slot_values(req)
                head = prompt_text(req)
                body = to_slots(row.story, row.lang, v["dynasty"], row.hero or "", v["power"], v["fact"] or "") + END
            else:
                head, body = req.legacy_prompt(), row.story + LEGACY_STOP
            h = tok(head, add_special_tokens=False)["input_ids"]
            b = tok(body, add_special_tokens=False)["input_ids"]
            keep = max(1, min(len(b), n_pos - len(h)))
            ids = torch.tensor([h + b[:keep]])
            labels = torch.tensor([[-100] * len(h) + b[:keep]])
            loss = model(input_ids=ids, labels=labels).loss.item()
            nll += loss * keep
            chars += len(row.story) * keep / len(b)
    return math.exp(nll / chars) if chars else float("nan")


def evaluate(model_id: str | Path, data: Path, n: int | None = 20, max_new_tokens: int = 900,
             train_texts: list[str] | None = None, seed: int = 0, threads: int = 1, rows: list[Row] | None = None,
             loaded=None) -> dict:
    """All metrics as one JSON-able dict (see the module docstring)."""
    rows = rows if rows is not None else load_rows(data)
    if n is not None and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    model, tok = loaded or load_model(model_id, threads)
    if train_texts is None:
        train_texts = training_stories(model_id)
    gens = [generate(model, tok, r.request(), max_new_tokens, seed=seed + i) for i, r in enumerate(rows)]
    checks = [story_checks(r, g["story"]) for r, g in zip(rows, gens)]
    seen = [c["adherent"] for r, c in zip(rows, checks) if r.seen()]
    unseen = [c["adherent"] for r, c in zip(rows, checks) if not r.seen()]
    texts = [(g["story"], r.lang) for r, g in zip(rows, gens)]
    d2, d2_pooled = distinct(texts, 2)
    d4, d4_pooled = distinct(texts, 4)
    chars = sum(len(g["story"]) - g.get("given_chars", 0) for g in gens)  # what the model wrote in gen_seconds
    gen_seconds = sum(g["seconds"] - g["ttft_s"] for g in gens)
    mean = lambda xs: round(sum(xs) / len(xs), 4) if xs else None  # noqa: E731
    en = [g["story"] for r, g in zip(rows, gens) if r.lang == "en"]
    zh = [g["story"] for r, g in zip(rows, gens) if r.lang == "zh"]
    return {
        "model": str(model_id), "data": _shown(data), "n": len(rows),
        "adherence": mean([c["adherent"] for c in checks]),
        "adherence_seen": mean(seen), "n_seen": len(seen),
        "adherence_unseen": mean(unseen), "n_unseen": len(unseen),
        "hero_consistency": mean([c["hero_ok"] for c in checks]),
        "distinct_2": round(d2, 4), "distinct_4": round(d4, 4),
        "distinct_2_pooled": round(d2_pooled, 4), "distinct_4_pooled": round(d4_pooled, 4),
        "clean_end": mean([g["ended"] and g["story"].rstrip()[-1:] in ENDINGS for g in gens]),
        "copied_20char": round(copied_share([g["story"] for g in gens], train_texts), 4),
        "copied_20char_own_words": round(copied_share([g["story"] for g in gens], train_texts,
                                                      [[v for v in slot_values(r.request()).values() if v]
                                                       for r in rows]), 4),
        "ppl_per_char": round(perplexity(model, tok, rows), 3),
        "nonword_share": round(nonword_share(en), 4) if en else None,
        "zh_fluency": round(mean_fluency(zh), 4) if zh and fluency_available() else None,
        "chars_per_s": round(chars / gen_seconds, 1) if gen_seconds > 0 else None,
        "ttft_ms": round(1000 * sum(g["ttft_s"] for g in gens) / len(gens), 1) if gens else None,
        "mean_chars": round(chars / len(gens), 1) if gens else 0,
        "threads": threads,
    }


def variety(model, tok, requests: list[StoryRequest], tellings: int = 10, seed: int = 0) -> dict:
    """Variety a child notices: `tellings` stories per request. Same request: the mean pairwise share
    of identical sentences (≤ 0.2 wanted). Different requests: the same share once the request's
    names are masked, over the first telling of each (different requests should get different plots)."""
    per_request, firsts = [], []
    for i, req in enumerate(requests):
        stories = [generate(model, tok, req, seed=seed + 1000 * i + k)["story"] for k in range(tellings)]
        per_request.append(mean_pairwise_shared(stories))
        firsts.append(masked(stories[0], [v for v in slot_values(req).values() if v]))
    return {"same_request_shared": round(sum(per_request) / len(per_request), 4),
            "per_request": [round(x, 4) for x in per_request],
            "across_requests_shared": round(mean_pairwise_shared(firsts), 4), "tellings": tellings,
            "requests": len(requests)}


def _shown(path: str | Path) -> str:
    """A data path as the repository sees it (relative to its folder, e.g. ../shared/data/…), never
    this machine's absolute path."""
    p = Path(path).resolve()
    try:
        return os.path.relpath(p, ROOT)
    except ValueError:  # another drive
        return p.name


def training_stories(model_id: str | Path) -> list[str]:
    """The stories the model was trained on (its training_config.json), else the whole team corpus."""
    cfg_path = Path(model_id) / "training_config.json"
    stories = corpus.load()
    if cfg_path.is_file():
        ids = set(json.loads(cfg_path.read_text(encoding="utf-8")).get("train_ids") or [])
        if ids:
            return [s.story for s in stories if s.id in ids]
    return [s.story for s in stories]

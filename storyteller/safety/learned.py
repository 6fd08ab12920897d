"""A learned second opinion beside the word lists: a linear model over character and word n-grams.

The lists catch what someone wrote down; fresh red-team sets kept showing that a third of new
phrasings (harm told without a harm word: "让人永远睡着不再醒来", "only your shoes were left") slip
past them. This model was trained on a few thousand labelled rows written for it, with the team's
stories and composed story sentences as innocent text (`python -m storyteller.safety.train`), and
is scored on red-team sets it never saw (`benchmarks/safety.py`). It only adds blocks: the lists
decide first, and their allow-list is not consulted here.

Scoring is a dictionary lookup per n-gram (no vectoriser at run time): ~0.1 ms a sentence.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from storyteller.paths import ASSETS

MODEL_PATH = ASSETS / "safety" / "learned.json.gz"
CHAR_NS = (1, 2, 3, 4)
_WORD = re.compile(r"[a-z0-9']+|[\u4e00-\u9fff]")
_SENTENCE = re.compile(r"(?<=[。！？!?…\n])|(?<=[.!?])\s+")
LONG = 200  # characters: a longer text (a whole story) is scored sentence by sentence
# A text of a few words or characters gives the model few n-grams to go on ("he'll", 死机, "x-ray
# eyes" scored like their unsafe neighbours): it blocks those only when it is nearly sure. The lists
# are strongest exactly there.
SHORT_UNITS, SURE = 3, 0.9
_DIGITS = re.compile(r"[0-9]+")
_UNIT = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


def grams(folded: str, field: bool) -> list[str]:
    """The features of one folded text (see normalise.fold): its kind, character 1-4-grams (with
    the text's ends marked) and Latin word unigrams and bigrams. Digits are left out: the written
    rows tied them to phone numbers, so "1200年前" read as personal data; the lists' patterns
    find numbers in a shape no story has."""
    folded = _DIGITS.sub(" ", folded)
    out = ["k:field" if field else "k:sentence"]
    s = f"\x02{folded}\x03"
    for n in CHAR_NS:
        out += [s[i:i + n] for i in range(len(s) - n + 1)]
    words = [w for w in _WORD.findall(folded) if len(w) > 1 or w.isascii()]
    out += ["w:" + w for w in words if w.isascii()]
    out += ["b:" + a + " " + b for a, b in zip(words, words[1:]) if a.isascii() and b.isascii()]
    return out


class LearnedModel(BaseModel):
    """What `storyteller.safety.train` writes: weights of the features it kept, and how it was made."""

    threshold: float
    bias: float
    weights: dict[str, float]  # feature -> weight towards "block"
    categories: list[str]
    category_bias: list[float]
    category_weights: dict[str, list[float]]  # feature -> one weight per category
    trained_on: dict[str, int] = {}

    def probability(self, folded: str, field: bool) -> float:
        counts = Counter(grams(folded, field))
        norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
        z = self.bias + sum(c * self.weights.get(g, 0.0) for g, c in counts.items()) / norm
        return 1.0 / (1.0 + math.exp(-z))

    def category(self, folded: str, field: bool) -> str:
        counts = Counter(grams(folded, field))
        norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
        scores = list(self.category_bias)
        for g, c in counts.items():
            for i, w in enumerate(self.category_weights.get(g, ())):
                scores[i] += c * w / norm
        return self.categories[max(range(len(scores)), key=scores.__getitem__)]

    def save(self, path: Path) -> None:
        """Written next to `path`, then moved over it: a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        with gzip.open(part, "wt", encoding="utf-8", compresslevel=9) as f:
            f.write(self.model_dump_json())
        part.replace(path)


@lru_cache(maxsize=2)
def load(path: Path = MODEL_PATH) -> LearnedModel | None:
    """The shipped model, or None where it has not been trained (the lists then decide alone)."""
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    # our own file, written by train.py: its ~250,000 weights are not validated one by one (seconds)
    missing = set(LearnedModel.model_fields) - set(data) - {"trained_on"}
    if missing:
        raise ValueError(f"{path} is not a learned safety check (missing {sorted(missing)}); "
                         "rebuild it with python -m storyteller.safety.train")
    return LearnedModel.model_construct(**data)


def sentences(text: str) -> list[str]:
    return [p for p in (x.strip() for x in _SENTENCE.split(text)) if p]


def pieces(folded: str) -> list[str]:
    """A long text (a whole story) in sentences, as the model was trained on; a short one whole."""
    return [folded] if len(folded) <= LONG else sentences(folded)


def judge(folded: str, field: bool, model: LearnedModel | None = None) -> tuple[str, float] | None:
    """(category, probability) when the model would block the folded text, else None."""
    model = model or load()
    if model is None:
        return None
    for piece in pieces(folded):
        p = model.probability(piece, field)
        short = len(_UNIT.findall(piece)) <= SHORT_UNITS
        if p >= (max(model.threshold, SURE) if short else model.threshold):
            return model.category(piece, field), p
    return None

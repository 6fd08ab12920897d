"""The targets table (held-out 10% and reference corpus) and the model card that records it.

Used by `python -m storyteller.model.build` (after training) and benchmarks/model_quality.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from storyteller import corpus
from storyteller.model.build import split
from storyteller.model.evaluate import Row, evaluate, load_model, training_stories
from storyteller.paths import ROOT

REFERENCE = ROOT.parent / "shared" / "data" / "ultraman_stories.csv"
# (metric key, label, target, higher is better)
TARGETS = [
    ("adherence_seen", "Prompt adherence, seen dynasty+power", 0.95, True),
    ("adherence_unseen", "Prompt adherence, unseen dynasty or power", 0.90, True),
    ("hero_consistency", "Hero-name consistency", 1.0, True),
    ("clean_end", "Clean end of story", 1.0, True),
    ("distinct_4", "Distinct-4 (per story)", 0.94, True),
    ("copied_20char", "20-char windows copied from training", 0.04, False),
    ("copied_20char_own_words", "... of the model's own words (request's names and fact left out)", 0.04, False),
    ("chars_per_s", "Characters/s, one CPU thread", 400, True),
    ("ttft_ms", "Time to first character (ms)", None, False),
    ("ppl_per_char", "Perplexity per character", None, False),
]


def heldout_rows(model_dir: Path) -> list[Row]:
    """The held-out 10% of the team corpus that this model was not trained on."""
    cfg = json.loads((Path(model_dir) / "training_config.json").read_text(encoding="utf-8"))
    ids = set(cfg.get("heldout_ids") or [])
    stories = corpus.load()
    held = [s for s in stories if s.id in ids] if ids else split(stories)[1]
    return [Row(s.lang, s.dynasty, s.power, s.style, s.hero, s.story) for s in held]


def measure(model_dir: Path, n_heldout: int | None = None, n_reference: int = 60, seed: int = 0) -> dict[str, dict]:
    """Columns of the targets table: held-out zh, held-out en, reference corpus (if present)."""
    loaded = load_model(model_dir, threads=1)
    train = training_stories(model_dir)
    rows = heldout_rows(model_dir)
    cols = {}
    for lang in ("zh", "en"):
        part = [r for r in rows if r.lang == lang]
        if part:
            cols[f"held-out {lang}"] = evaluate(model_dir, Path("heldout"), n=n_heldout, rows=part,
                                                train_texts=train, loaded=loaded, seed=seed)
    if REFERENCE.is_file():
        cols["reference zh"] = evaluate(model_dir, REFERENCE, n=n_reference, train_texts=train, loaded=loaded,
                                        seed=seed)
    return cols


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) and v < 10 else f"{v:g}" if isinstance(v, float) else str(v)


def table(cols: dict[str, dict]) -> str:
    """A markdown table: one row per metric, one column per data set, then the target."""
    names = list(cols)
    lines = ["| Metric | " + " | ".join(names) + " | Target |", "|---" * (len(names) + 2) + "|"]
    lines.append("| Stories generated | " + " | ".join(
        f"{cols[c]['n']} ({cols[c]['n_seen']} seen / {cols[c]['n_unseen']} unseen)" for c in names) + " | |")
    for key, label, target, higher in TARGETS:
        cells = []
        for c in names:
            v = cols[c].get(key)
            ok = "" if v is None or target is None else (" ✓" if (v >= target if higher else v <= target) else " ✗")
            cells.append(_fmt(v) + ok)
        tgt = "" if target is None else ("≥ " if higher else "≤ ") + _fmt(target)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {tgt} |")
    return "\n".join(lines)


def write_card(model_dir: Path, cols: dict[str, dict]) -> Path:
    cfg = json.loads((Path(model_dir) / "training_config.json").read_text(encoding="utf-8"))
    info = cfg.get("result", {})
    text = CARD.format(
        params=info.get("params", 0) / 1e6, vocab=info.get("vocab"), train=info.get("train_stories"),
        held=info.get("heldout_stories"), by_lang=json.dumps(info.get("by_lang", {}), ensure_ascii=False),
        steps=cfg["steps"], batch=cfg["batch_size"], seconds=info.get("train_seconds"), loss=info.get("final_loss"),
        n_embd=cfg["n_embd"], n_layer=cfg["n_layer"], n_head=cfg["n_head"], n_positions=cfg["n_positions"],
        table=table(cols), langs=", ".join(cfg["langs"]), threads=cfg["threads"],
    )
    path = Path(model_dir) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def measure_and_write_card(model_dir: Path) -> Path:
    cols = measure(model_dir)
    print(table(cols))
    return write_card(model_dir, cols)


CARD = """---
license: mit
language: [zh, en]
library_name: transformers
pipeline_tag: text-generation
tags: [children, stories, tiny]
---

# storyteller-tiny

A {params:.1f}M-parameter GPT-2 that tells short children's stories, in Chinese and English, about
a real hero from a Chinese dynasty who travels to today, gains a superpower and helps Ultraman.
It runs on a laptop CPU, offline. Cartoon battles only; warm endings.

## How it works
- **Slots.** The team's stories were turned into templates: the dynasty, the hero, the power
  and the hero's true fact became slot tokens (`<|dynasty|>`, `<|hero|>`, `<|power|>`,
  `<|fact|>`). The model writes the slots; the app fills them from the request
  (`storyteller/model/format.py`), so a story names exactly what was asked (even a power
  the model never saw), the hero's name never drifts, and the only fact stated is the
  catalog's. Header: `<|zh|>唐|李白|隐形|轻松<|story|>`; the story ends with `<|end|>`.
- **Tokenizer.** One token per character (the 3,755 common hanzi of GB2312 level 1, every
  character of the corpus, ASCII), English word pieces learned from the English stories, and
  UTF-8 byte fallback for anything else. Vocabulary: {vocab}.
- **Model.** GPT-2, {n_layer} layers, {n_head} heads, width {n_embd}, context {n_positions};
  weights in fp16 (load in float32 on CPU for speed). One model for {langs}.

## Data
The project's own corpus (`assets/corpus/*.jsonl`), written by the team: {train} stories for
training ({by_lang}), {held} held out (a fixed 10% split by story id) for evaluation. The
reference corpus was used for evaluation only, never for training.

## Training
`python -m storyteller.model.build` (or `make model`): seed 1234, {steps} steps of batch {batch},
AdamW with warm-up and cosine decay, {seconds} s with {threads} CPU thread(s) on a shared two-core
machine; final training loss {loss} (per token). Every setting is in `training_config.json`
beside the weights; the same command and thread count rebuild the same weights.

## One model for both languages
Measured with `python benchmarks/joint_vs_split.py` at equal compute: one joint model trained
300 steps on Chinese and English against a Chinese-only model (224 steps, the Chinese share of
the training stories) plus an English-only model (76 steps), same recipe. Held-out perplexity per
character: Chinese 34.9 joint vs 32.5 split (split 7% better), English 3.83 joint vs 4.79 split
(joint 25% better: English borrows what the model learnt from the Chinese stories, which are
the same tales). So we ship one joint model: a small cost in Chinese, a large gain in English,
one download, and no model switch when a child changes the language.

## Measured quality
Sampled as the app samples (below), one CPU thread. Adherence: the story names the requested
dynasty, power and Ultraman. Hero consistency: it names the requested hero and no other catalog
hero. Clean end: the model ended the story itself, on a full sentence. Copied windows: 20-character
windows found verbatim in the training stories; the second row leaves out windows that touch the
names, power and fact the request supplied (written through the slots; in English "of the Three
Kingdoms period" alone fills a window), so it counts only what the model remembered.
Re-measure with `python benchmarks/model_quality.py`.

{table}

## Use
The app samples with temperature 0.8, top-p 0.95 and repetition penalty 1.1 (in
`generation_config.json`), and shapes each story with `storyteller.engines.sampling.story_processors`:
it keeps to the story's script (no Latin letters in Chinese, no hanzi in English), falls into no short
loops, and ends only after a finished sentence once the dynasty and the power were named. On CPU the
app decodes with a lean KV-cache loop (`storyteller/engines/lean_gpt2.py`): the same tokens as
`model.generate`, about twice as fast for a model this small.
```python
from transformers import AutoModelForCausalLM, AutoTokenizer
from storyteller.engines.sampling import story_processors
from storyteller.model.format import END, SlotFiller, prompt_text
from storyteller.prompts import StoryRequest

tok = AutoTokenizer.from_pretrained("models/storyteller-tiny")
model = AutoModelForCausalLM.from_pretrained("models/storyteller-tiny", dtype="float32")
req = StoryRequest(dynasty="唐", power="隐形", style="轻松")
ids = tok(prompt_text(req), return_tensors="pt")["input_ids"]
out = model.generate(ids, do_sample=False, max_new_tokens=600, eos_token_id=tok.convert_tokens_to_ids(END),
                     logits_processor=story_processors(True, 0.8, 0.95, seed=1, tokenizer=tok, lang="zh"))
filler = SlotFiller(req)
print(filler.feed(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)) + filler.flush())
```

## License
Code and weights: MIT. Corpus: written by the Storyteller team.
"""

"""Training examples for local fine-tunes, rendered exactly as the model will be prompted.

Storyteller-format models (models/storyteller-tiny and its fine-tunes) get the build's own
rendering: header + slot-form story + END (storyteller.model.build, story_format), so a fine-tune keeps
the slot filling that makes stories name what was asked. Other models get the local engine's
prompt (chat template, else the plain messages) followed by the story and the eos token.

Incremental training mixes in earlier stories (`mix_share`, default settings.training.mix_share):
the corpus the embedded model was built from, plus the data of every fine-tune in the chain.
Training on a few new stories alone makes a small model forget its old skills.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from storyteller import corpus
from storyteller.data.io import read_dataset
from storyteller.data.prepare import request_for, split
from storyteller.errors import DataError
from storyteller.finetune.base import JobSpec
from storyteller.finetune.story_check import summary
from storyteller.corpus import split as build_split
from storyteller.story_format import (END, is_storyteller_model, power_tokens, prompt_text, slot_values, to_slots,
                                      training_text)
from storyteller.prompts import build_messages

CONFIG_FILE = "training_config.json"
DATA_DIR = "finetune_data"
VAL_SHARE, VAL_MIN_STORIES = 0.1, 20  # without a validation file, 10% of 20+ stories are held out


def n_train(n: int, has_val_file: bool) -> int:
    """How many of `n` stories are trained on (the rest are held out for the validation curve)."""
    return n if has_val_file or n < VAL_MIN_STORIES else n - max(1, round(n * VAL_SHARE))


def read_stories(path: str | Path) -> list[tuple[dict, int]]:
    """(story, line) pairs from a stories CSV/JSONL; friendly errors for anything else."""
    ds = read_dataset(Path(path))
    if ds.kind != "stories":
        raise DataError(f"{Path(path).name} holds {ds.kind} examples; local training needs the stories themselves.",
                        "Use the stories CSV/JSONL (dynasty, power, style, story), not a prepared chat file.")
    out = [(r, n) for r, n in zip(ds.records, ds.lines) if r["story"].strip()]
    if not out:
        raise DataError(f"{Path(path).name} has no stories to train on.")
    return out


def render(story: dict, line: int | None, storyteller: bool, tok) -> tuple[str, str]:
    """(prompt, completion) for one dataset story, as the local engine will prompt the model."""
    req = request_for(story, line)
    text = story["story"].strip()
    if storyteller:
        v = slot_values(req)
        keep = bool(power_tokens(tok))  # a model with power tokens writes the power's own token
        return prompt_text(req), to_slots(text, req.lang, v["dynasty"], v["hero"] or "", v["power"], v["fact"] or "",
                                          keep) + END
    messages = build_messages(req)
    if getattr(tok, "chat_template", None):
        head = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        head = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return head, text + (tok.eos_token or "")


def encode(tok, head: str, body: str, max_len: int) -> dict:
    """Token ids and labels; the prompt is context only (labels -100), as in the model build."""
    h = tok(head, add_special_tokens=False)["input_ids"]
    b = tok(body, add_special_tokens=False)["input_ids"]
    ids = (h + b)[:max_len]
    return {"input_ids": ids, "labels": ([-100] * len(h) + b)[:max_len]}


def base_config(source: str | Path) -> dict:
    p = Path(source) / CONFIG_FILE
    try:
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    except (OSError, ValueError):
        return {}


def earlier_pool(meta: dict, storyteller: bool, tok, new_texts: set[str]) -> list[tuple[str, str]]:
    """(prompt, completion) of the stories the base model learned from, for mixing in."""

    cfg = base_config(meta["base_source"])
    pool: list[tuple[str, str]] = []
    if storyteller:
        langs = set(cfg.get("langs") or ("zh", "en"))
        ids = set(cfg.get("train_ids") or [])
        stories = [s for s in corpus.load() if s.lang in langs]
        train = [s for s in stories if s.id in ids] if ids else build_split(stories)[0]
        keep = bool(power_tokens(tok))
        pool += [training_text(s, keep_power=keep) for s in train if s.story.strip() not in new_texts]
    for f in (cfg.get("finetune") or {}).get("data_files", []):
        if Path(f).is_file():
            pool += [render(r, n, storyteller, tok) for r, n in read_stories(f) if r["story"].strip() not in new_texts]
    return pool


def build_examples(spec: JobSpec, meta: dict, tok, config) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """(train examples, validation examples, info) for the worker."""
    storyteller = is_storyteller_model(config)
    max_len = spec.max_length or getattr(config, "n_positions", None) or getattr(
        config, "max_position_embeddings", None) or 1024
    stories = read_stories(meta["train_file"])
    if meta.get("val_file"):
        valid = read_stories(meta["val_file"])
    elif len(stories) >= VAL_MIN_STORIES:  # the same split every run
        train_i, val_i = split(list(range(len(stories))), VAL_SHARE, spec.seed)
        stories, valid = [stories[i] for i in train_i], [stories[i] for i in val_i]
    else:
        valid = []
    new = [render(r, n, storyteller, tok) for r, n in stories]
    share = meta["mix_share"]
    mixed: list[tuple[str, str]] = []
    if share > 0:
        pool = earlier_pool(meta, storyteller, tok, {r["story"].strip() for r, _ in stories})
        want = min(len(pool), round(len(new) * share / (1 - share)))
        mixed = random.Random(spec.seed).sample(pool, want)
    train = [encode(tok, h, b, max_len) for h, b in new + mixed]
    val = [encode(tok, *render(r, n, storyteller, tok), max_len) for r, n in valid]
    info = {"new": len(new), "mixed": len(mixed), "valid": len(val), "storyteller_format": storyteller,
            "tokens": sum(len(e["input_ids"]) for e in train), "mix_share": share}
    return train, val, info


def write_card(out: Path, spec: JobSpec, meta: dict, info: dict, final: dict, method: str) -> None:
    """README.md (what the story tab's picker shows) and training_config.json (base, data, settings,
    results), with a copy of the new stories so the next incremental fine-tune can mix them in."""
    cfg = base_config(meta["base_source"])
    data_dir = out / DATA_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    src = Path(meta["train_file"])
    copy = data_dir / f"{meta['job_id']}{src.suffix}"
    copy.write_bytes(src.read_bytes())
    model_dir = Path(meta["output_dir"])
    chain = list((cfg.get("finetune") or {}).get("data_files", []))
    objective = spec.objective
    if objective == "sft":  # preference files are not stories: a later fine-tune mixes in stories only
        chain.append(str(model_dir / DATA_DIR / copy.name))
    record = {k: cfg[k] for k in ("train_ids", "heldout_ids", "langs") if k in cfg}
    record["finetune"] = {"job_id": meta["job_id"], "base_model": spec.base_model, "method": method,
                          "data_files": chain, "spec": spec.model_dump(), "data": info, "result": final,
                          "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "objective": objective}
    if objective != "sft":
        record["finetune"]["preference_file"] = str(model_dir / DATA_DIR / copy.name)
    (out / CONFIG_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    losses = ", ".join(f"{k} {v}" for k, v in final.items())
    desc = (f"Fine-tuned from {spec.base_model} on {info['new']} stories "
            f"({info['mixed']} earlier ones mixed in); {losses}.")
    what = f"{info['new']} stories"
    if objective != "sft":  # what the family liked: the picker shows it
        what = (f"{info['new']} preference pairs" if info.get("examples") == "pairs"
                else f"{info['new']} ratings ({info.get('liked', '?')} 👍)")
        desc = (f"{objective.upper()}-trained from {spec.base_model} on the family's {what} "
                f"(reference: the starting weights); {losses}.")
        if checked := summary(info.get("story_check") or {}):
            desc += f" The {checked}."
    card = [
        "---", f"description: {json.dumps(desc, ensure_ascii=False)}", f"base_model: {json.dumps(spec.base_model)}",
        "---", f"# {model_dir.name}", "", desc, "",
        "| setting | value |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in spec.model_dump().items() if v is not None],
        f"| method | {method} |", "", "## Data", "",
        f"- training file: {src.name} ({what}, {info['tokens']} tokens with the mixed-in stories)",
        f"- validation stories: {info['valid']}", f"- earlier stories mixed in: {info['mixed']} "
        f"(mix_share {info['mix_share']})", "", "## Final losses", "", *[f"- {k}: {v}" for k, v in final.items()], "",
    ]
    (out / "README.md").write_text("\n".join(card), encoding="utf-8")

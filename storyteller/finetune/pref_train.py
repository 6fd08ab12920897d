"""The worker's DPO and KTO trainers (trl's DPOTrainer / KTOTrainer), built from a JobSpec.

The worker (worker.py) loads the model and passes its TrainingArguments settings here; everything
else stays the worker's: the job folder's log, the callback (loss plot, events, CANCEL), checkpoints,
resume and saving. The reference model is the starting weights: a frozen copy for a full fine-tune,
or the same model with its LoRA adapter switched off. Imports trl lazily (the worker imports this
module only for a preference job).
"""

from __future__ import annotations

import random

from storyteller.data.prepare import split
from storyteller.errors import DataError
from storyteller.finetune.base import JobSpec
from storyteller.finetune.data import VAL_MIN_STORIES, VAL_SHARE
from storyteller.finetune.preference import read_preferences, render, unpair
from storyteller.story_format import END, is_storyteller_model

BETA = 0.1  # trl's default: how far the new model may move from the reference
# DPO alone on 100 scripted pairs moved the win rate most (68%) but cost the stories their grammar in a blind
# reading (Chinese read-tonight 19/30 -> 12/30, grammar 7.4 -> 5.8); with the chosen stories' own loss beside
# it (RPO) the reading held (17/30 -> 19/30, grammar 7.3 -> 7.4) and the win rate was 60%
# (benchmarks/preference.py, 2026-11-30). A child's stories keep their grammar first.
# Those pairs were the shown stories put back in slots: a third of them the story world's lines, which
# the model never wrote. Learning from the model's own words (the exports' "model_text"), the same
# defaults moved the script to 80% with 100 pairs and the blind reading held (2026-12-03).
SFT_WEIGHT = 1.0
# Learning rates when the spec leaves them empty. A tiny storyteller model (< 20M parameters) needs a
# larger step than trl's 1e-6 for large models (measured with benchmarks/preference.py).
PREF_LR = {"full_small": 5e-5, "full": 5e-6, "lora": 5e-5}


# Epochs when the spec leaves them empty. Every DPO step moves the model, so a family with many pairs gets
# fewer passes: at most STEP_BUDGET steps unless one epoch needs more, and 3 epochs at most. Measured with
# benchmarks/preference.py and blind readings (2026-12-03): 100 pairs, 3 epochs (36 steps) held the reading;
# 200 pairs, 3 epochs (69 steps) fell to 26 of 40 read tonight, and its first epoch already failed the
# story check (1.27x); 200 pairs, 1 epoch (23 steps) passed it (1.10x), kept a 79% win rate and read as the
# starting model does (three packs: 110 of 120 read tonight against 111).
DPO_EPOCHS, STEP_BUDGET = 3, 40


def default_epochs(objective: str, n_examples: int, batch: int) -> int:
    """DPO: as many epochs (1 to 3) as fit STEP_BUDGET steps; KTO: 3."""
    if objective != "dpo":
        return DPO_EPOCHS
    return max(1, min(DPO_EPOCHS, STEP_BUDGET // max(1, -(-n_examples // batch))))


def sft_weight(spec: JobSpec) -> float:
    return SFT_WEIGHT if spec.sft_weight is None else spec.sft_weight


def default_lr(method: str, n_params: float) -> float:
    return PREF_LR["lora"] if method == "lora" else PREF_LR["full_small" if n_params < 20e6 else "full"]


def preference_data(spec: JobSpec, meta: dict, tok, config) -> tuple[list[dict], list[dict], dict]:
    """(train rows, validation rows, info) as trl takes them (plain strings, see preference.py)."""
    storyteller = is_storyteller_model(config)
    if storyteller and END in tok.get_vocab():
        tok.eos_token = END  # the story ends with END, as the engine stops on it; trl appends eos otherwise
    train = read_preferences(meta["train_file"], spec.objective, allow_unsafe=True)  # checked by plan()
    valid = read_preferences(meta["val_file"], spec.objective, allow_unsafe=True) if meta.get("val_file") else []
    if not valid and len(train) >= VAL_MIN_STORIES:  # the same split every run
        train_i, val_i = split(list(range(len(train))), VAL_SHARE, spec.seed)
        train, valid = [train[i] for i in train_i], [train[i] for i in val_i]
    rows = render(train, storyteller, tok, "train")
    val_rows = render(valid, storyteller, tok, "validation") if valid else []
    pairs = "chosen" in rows[0]
    if spec.objective == "kto":
        rows, val_rows = unpair(rows), unpair(val_rows)
        random.Random(spec.seed).shuffle(rows)
    info = {"new": len(train), "mixed": 0, "valid": len(valid), "storyteller_format": storyteller,
            "objective": spec.objective, "examples": "pairs" if pairs else "ratings", "mix_share": 0.0,
            "tokens": sum(len(tok(r["prompt"] + r.get("chosen", r.get("completion", "")))["input_ids"]) for r in rows)}
    if not pairs:
        info["liked"] = sum(r["label"] for r in rows)
    return rows, val_rows, info


def build_trainer(spec: JobSpec, meta: dict, model, tok, method: str, targs: dict, train: list[dict],
                  valid: list[dict], callbacks: list, max_length: int):
    """A DPOTrainer or KTOTrainer over `train`, with the worker's TrainingArguments settings `targs`."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    common = targs | {"beta": spec.beta or BETA, "max_length": max_length, "gradient_checkpointing": False,
                      "bf16": False, "fp16": False, "remove_unused_columns": True, "dataset_num_proc": None}
    peft_config, ref = None, None
    if method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", r=spec.lora_r, lora_alpha=2 * spec.lora_r, lora_dropout=0.05,
                                 target_modules="all-linear", exclude_modules=["lm_head"])
    else:  # a frozen copy of the starting weights
        ref = AutoModelForCausalLM.from_pretrained(meta["base_source"], dtype=torch.float32).eval()
    if spec.objective == "dpo":
        from trl import DPOConfig, DPOTrainer

        if weight := sft_weight(spec):  # DPO's loss plus the chosen stories' own (trl's multi-loss: RPO)
            common |= {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, weight]}
        cls, args = DPOTrainer, DPOConfig(**common)
    else:
        from trl import KTOConfig, KTOTrainer

        cls, args = KTOTrainer, KTOConfig(**common)
    trainer = cls(model=model, ref_model=ref, args=args, train_dataset=Dataset.from_list(train),
                  eval_dataset=Dataset.from_list(valid) if valid else None, processing_class=tok,
                  callbacks=callbacks, peft_config=peft_config)
    if len(trainer.train_dataset) == 0:  # trl drops examples whose prompt alone fills max_length
        raise DataError(f"Every prompt is longer than the {max_length} tokens the model reads at once, so there is "
                        "no story left to learn from.", "Raise max_length, or use a model with a longer context.",
                        zh=f"每个提示都超过了模型一次能读的 {max_length} 个词元，没有故事可学。请调大 max_length 或换模型。")
    return trainer

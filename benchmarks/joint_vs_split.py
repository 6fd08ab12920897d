"""One model for zh+en, or one per language, at the same compute: python benchmarks/joint_vs_split.py [--steps N]

Trains, from the team corpus with the embedded model's recipe (storyteller.model.build):
  joint:  one model on Chinese and English stories for N steps;
  split:  a Chinese-only model for N x (Chinese share of the training stories) steps and an
          English-only model for the rest, so both sides spend the same number of training steps.
Then prints each side's per-character perplexity on the held-out stories of each language (lower
is better) and the ratio split/joint. Each model has its own tokenizer, so perplexity is per
character, not per token.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from storyteller import corpus  # noqa: E402
from storyteller.corpus import split  # noqa: E402
from storyteller.model.build import TrainConfig, train  # noqa: E402
from storyteller.model.evaluate import Row, load_model, perplexity  # noqa: E402


def heldout_ppl(model_dir: Path, held: list, lang: str) -> float:
    model, tok = load_model(model_dir, threads=2)
    rows = [Row(s.lang, s.dynasty, s.power, s.style, s.hero, s.story) for s in held if s.lang == lang]
    return perplexity(model, tok, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="training steps of the joint model")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    stories = corpus.load()
    train_set, held = split(stories)
    zh_share = sum(s.lang == "zh" for s in train_set) / len(train_set)
    plan = {"joint": (("zh", "en"), args.steps), "zh only": (("zh",), round(args.steps * zh_share)),
            "en only": (("en",), args.steps - round(args.steps * zh_share))}
    work = Path(tempfile.mkdtemp(prefix="joint-vs-split-"))
    seconds, ppl = {}, {}
    for name, (langs, steps) in plan.items():
        out = work / name.replace(" ", "-")
        print(f"training {name}: {steps} steps on {'+'.join(langs)} ...", flush=True)
        info = train(TrainConfig(langs=langs, steps=steps, threads=args.threads), out, stories, log=lambda *_: None)
        seconds[name] = info["train_seconds"]
        for lang in langs:
            ppl[(name, lang)] = heldout_ppl(out, held, lang)
    print(f"\nSame compute: joint {args.steps} steps = zh-only {plan['zh only'][1]} + en-only {plan['en only'][1]} "
          f"steps (Chinese share of training stories {zh_share:.2f}); batch {TrainConfig.batch_size}")
    print(f"  {'held-out perplexity/char':26} {'joint':>8} {'split':>8} {'split/joint':>12}")
    for lang, side in (("zh", "zh only"), ("en", "en only")):
        j, s = ppl[("joint", lang)], ppl[(side, lang)]
        print(f"  {lang:26} {j:8.2f} {s:8.2f} {s / j:12.2f}")
    print(f"  training seconds: joint {seconds['joint']:.0f}, split {seconds['zh only'] + seconds['en only']:.0f}")
    print(f"(models in {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Local fine-tuning benchmark: python benchmarks/finetune.py [--model models/storyteller-tiny] [--threads 2]

1. Training throughput (tokens/s) of the local provider (the real worker process, HF Trainer with its
   reporting callback) vs a plain PyTorch loop, same model, data, batch size, steps and threads.
   Target: provider >= 0.9x the plain loop.
2. Incremental fine-tune with the product's defaults (what Launch does with only a dataset): adherence
   (dynasty, power and Ultraman named) of the embedded model on powers the corpus never has, before
   and after a fine-tune on 30 new-power stories (held-out stories, never trained on, with the power
   renamed; earlier stories mixed in), and on corpus powers (old skills kept); per-character
   perplexity on the new stories (learnt) and on the other held-out stories, zh and en (not forgotten).
   `--ft-lr` and `--ft-epochs` override the defaults, to compare.
Without a built model, a quick one is built first (`--build-steps`, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from storyteller import corpus  # noqa: E402
from storyteller.catalog import get_catalog  # noqa: E402
from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402

NEW_POWERS = [("读心术", "mind reading"), ("喷火", "fire breathing"), ("不死之身", "never getting hurt")]


def retold(stories: list) -> list[dict]:
    """Corpus stories retold with a power the corpus never has (the power's name swapped)."""
    cat, out = get_catalog(), []
    for i, s in enumerate(stories):
        new_zh, _ = NEW_POWERS[i % len(NEW_POWERS)]
        out.append({"dynasty": s.dynasty, "power": new_zh, "style": s.style, "lang": "zh", "hero": s.hero,
                    "story": s.story.replace(cat.power(s.power).name("zh"), new_zh)})
    return out


def heldout(model_dir: Path) -> list:
    """The corpus stories the model never trained on (its training_config.json's held-out ids)."""
    cfg = json.loads((model_dir / "training_config.json").read_text(encoding="utf-8"))
    ids = set(cfg.get("heldout_ids") or [])
    return [s for s in corpus.load() if s.id in ids]


def plain_loop(source: str, examples: list[dict], batch: int, steps: int, lr: float, threads: int) -> float:
    """tokens/s of a bare AdamW loop over the same examples (the yardstick)."""
    import torch
    from transformers import AutoModelForCausalLM

    from storyteller.finetune.worker import collate

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    fn, order, tokens = collate(0), [], 0
    t0 = time.perf_counter()  # from the first step, as the provider's figure is (from on_train_begin)
    for _ in range(steps):
        if len(order) < batch:
            order += random.sample(range(len(examples)), len(examples))
        b = fn([examples[order.pop()] for _ in range(batch)])
        loss = model(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(b["attention_mask"].sum())
    return tokens / (time.perf_counter() - t0)


def measure(model_dir: Path, n: int, texts: dict[str, list]) -> dict[str, float]:
    """Adherence on new and corpus powers (the same n requests and seeds for every model, one thread,
    the app's sampling and length) and per-character perplexity of each set of `texts`."""
    from storyteller.model.evaluate import Row, generate, load_model, perplexity, story_checks

    model, tok = load_model(model_dir, 1)
    cat = get_catalog()
    dyn, styles = [d.name("zh") for d in cat.dynasties], cat.choices("style", "zh")
    out = {}
    for key, powers in (("new", [z for z, _ in NEW_POWERS]), ("corpus", cat.choices("power", "zh"))):
        rng, ok = random.Random(1), 0
        for i in range(n):
            row = Row("zh", rng.choice(dyn), powers[i % len(powers)], rng.choice(styles), None, "")
            story = generate(model, tok, row.request(), model.generation_config.max_new_tokens or 700, seed=i)["story"]
            ok += story_checks(row, story)["adherent"]
        out[key] = ok / n
    for key, stories in texts.items():
        out[key] = perplexity(model, tok, [Row(s["lang"], s["dynasty"], s["power"], s["style"], s["hero"], s["story"])
                                           for s in stories])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=40, help="steps for the throughput comparison")
    ap.add_argument("--ft-lr", type=float, help="fine-tune learning rate (default: the product's)")
    ap.add_argument("--ft-epochs", type=int, help="fine-tune epochs (default: the product's)")
    ap.add_argument("--n-eval", type=int, default=48, help="stories generated per adherence figure")
    ap.add_argument("--rounds", type=int, default=2, help="alternating throughput runs (best of each)")
    ap.add_argument("--skip-adherence", action="store_true", help="only the throughput comparison")
    ap.add_argument("--build-steps", type=int, default=250, help="when no model exists, build one this long")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    os.environ.update({"STORYTELLER_DATA_DIR": str(work / "var"), "STORYTELLER_TRAINING__RUNS_DIR": str(work / "runs"),
                       "STORYTELLER_LOCAL__MODELS_DIR": str(work / "models")})
    model_dir = args.model
    if not (model_dir / "config.json").is_file():
        from storyteller.model.build import TrainConfig, train

        print(f"No model at {model_dir}: building a quick one ({args.build_steps} steps) ...", flush=True)
        model_dir = work / "base"
        train(TrainConfig(steps=args.build_steps, threads=args.threads), model_dir, corpus.load(), log=lambda *_: None)
    (work / "models").mkdir(parents=True)
    os.symlink(model_dir.resolve(), work / "models" / "base")

    from storyteller.finetune import JobSpec, get_provider
    from storyteller.finetune.data import build_examples

    held = heldout(model_dir)
    picked = random.Random(0).sample([s for s in held if s.lang == "zh"], 30)
    new = retold(picked)
    others = [s.model_dump() for s in held if s not in picked]
    texts = {"ppl_new": new, **{f"ppl_{lang}": [s for s in others if s["lang"] == lang] for lang in ("zh", "en")}}
    data = work / "new_powers.jsonl"
    data.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in new), "utf-8")
    p = get_provider("local")
    batch, lr = 8, 1e-3

    # 1. throughput: provider and plain loop alternate `--rounds` times (best of each), so a busy
    # machine slows both alike
    spec = JobSpec(base_model="base", train_file=str(data), name="bench-speed", batch_size=batch, learning_rate=lr,
                   max_steps=args.steps, save_steps=10_000, threads=args.threads, mix_share=0.5)
    from transformers import AutoConfig, AutoTokenizer

    provider_runs, plain_runs = [], []
    for r in range(args.rounds):
        job = p.start(spec.model_copy(update={"name": f"bench-speed-{r}"}))
        done = [x for x in p.follow(job.id, poll_s=0.5, timeout_s=1800)][-1]
        assert done.status == "succeeded", done.error
        provider_runs.append(done.extra["tokens_per_s"])
        meta = json.loads((Path(done.job_dir) / "job.json").read_text())
        tok = AutoTokenizer.from_pretrained(meta["base_source"])
        examples, _, _ = build_examples(spec, meta, tok, AutoConfig.from_pretrained(meta["base_source"]))
        plain_runs.append(plain_loop(meta["base_source"], examples, batch, args.steps, lr, args.threads))
    provider_tps, plain_tps = max(provider_runs), max(plain_runs)
    print(f"\nTraining throughput, {args.steps} steps x batch {batch}, {args.threads} threads, best of {args.rounds}")
    print(f"  {'plain PyTorch loop':28} {plain_tps:10,.0f} tokens/s   1.00x   (runs: {[round(x) for x in plain_runs]})")
    print(f"  {'local provider (Trainer)':28} {provider_tps:10,.0f} tokens/s   {provider_tps / plain_tps:.2f}x"
          f"   (target >= 0.90x; runs: {[round(x) for x in provider_runs]})")
    if args.skip_adherence:
        return 0

    # 2. incremental fine-tune on new powers: only the dataset (and threads) given, as a parent would
    ft = JobSpec(base_model="base", train_file=str(data), name="bench-newpowers", threads=args.threads,
                 learning_rate=args.ft_lr, n_epochs=args.ft_epochs)
    plan = p.plan(ft).settings
    before = measure(model_dir, args.n_eval, texts)
    t0 = time.time()
    job = p.start(ft)
    done = [x for x in p.follow(job.id, poll_s=0.5, timeout_s=3600)][-1]
    assert done.status == "succeeded", done.error
    secs = time.time() - t0
    after_dir = work / "models" / "bench-newpowers"
    after = measure(after_dir, args.n_eval, texts)
    ft_cfg = json.loads((after_dir / "training_config.json").read_text(encoding="utf-8"))["finetune"]
    rows, info, res = p.metrics(job.id), ft_cfg["data"], ft_cfg["result"]
    print(f"\nIncremental fine-tune with the product's defaults: {info['new']} new-power stories "
          f"({info['valid']} more held out) + {info['mixed']} earlier ones (mix_share {info['mix_share']}); "
          f"{res['steps']} steps = {plan['n_epochs']} epochs x batch {plan['batch_size']}, lr {plan['learning_rate']} "
          f"({plan['lr_schedule']}), {plan['method']} fine-tune; {secs:.0f} s wall (worker start included)")
    print(f"  train loss {rows[0].train_loss:.3f} (step 1) -> {rows[-1].train_loss:.3f} (step {rows[-1].step})")
    table = [(f"adherence, {len(NEW_POWERS)} powers the corpus never has", "new"),
             ("adherence, corpus powers (old skills)", "corpus"),
             (f"perplexity/char, the {len(new)} new stories (learnt)", "ppl_new"),
             (f"perplexity/char, {len(texts['ppl_zh'])} other held-out zh (kept)", "ppl_zh"),
             (f"perplexity/char, {len(texts['ppl_en'])} held-out en (kept)", "ppl_en")]
    print(f"  {'':46} {'before':>8} {'after':>8}")
    for label, key in table:
        print(f"  {label:46} {before[key]:8.2f} {after[key]:8.2f}")
    print(f"  (adherence: {args.n_eval} zh stories each, the same requests and seeds before and after; "
          f"new powers: {', '.join(z for z, _ in NEW_POWERS)})")
    print(f"\n(model: {model_dir}; work dir {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

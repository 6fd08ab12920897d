"""Training on what the family liked: nice -n 19 python benchmarks/preference.py [--n 50 100 200] [--rounds R] [--taste T] [--keep DIR]

A scripted preference stands in for the child: of two stories, it prefers the one that names
Ultraman (奥特曼) earlier and is shorter (the lower `pos + len` in characters; equal is a tie), or with
`--taste ultraman` the one that names Ultraman earlier (the lower `pos`).
For each N:
1. N requests (catalog dynasty/power/style, zh and en), each told twice by models/storyteller-tiny
   through the app's own two-story path: `studio.tell` with seeds s and s+1 and one cast (the same
   monster, place and child, as the tab tells them), both saved in the store,
   `Library.new_pair` and `Library.pick` with the script's choice, then the trl export's lines
   (`exports.records`), which carry each story in the model's own words, as the story book kept them.
   The first round is told once, for the largest N; each N learns from its first N pairs.
2. A DPO job from the local provider (the real worker process, the product's defaults: full fine-tune,
   3 epochs, beta 0.1, the starting weights as reference).
3. Both models tell the same held-out requests (never in the pairs) with the same seeds; the script
   judges each pair of stories. Printed: the new model's win rate (ties count half; target >= 70%),
   per-character perplexity on the team's held-out corpus stories before/after (target <= +5%), and
   the wall time of collecting, training and judging.
With --rounds R the family goes on using the new model: each round collects N new pairs from the model
the last round made and trains a DPO job continuing from it (its own weights the reference), as a
family that keeps rating would; the last round's model is judged against the starting one.
Measured, never asserted: the figures depend on this machine and the sampled stories.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
WORK = Path(tempfile.mkdtemp(prefix="pref-bench-"))
os.environ["STORYTELLER_DATA_DIR"] = str(WORK / "var")
os.environ["STORYTELLER_TRAINING__RUNS_DIR"] = str(WORK / "runs")
os.environ["STORYTELLER_LOCAL__MODELS_DIR"] = str(WORK / "models")

from storyteller import corpus, studio  # noqa: E402
from storyteller.catalog import get_catalog  # noqa: E402
from storyteller.prompts import StoryRequest  # noqa: E402

BASE = "storyteller-tiny"
ULTRAMAN = {"zh": "奥特曼", "en": "Ultraman"}


TASTES = ("ultraman-short", "ultraman")
TASTE = TASTES[0]  # --taste: "ultraman" leaves the length out (this small model got shorter by breaking sentences)


def score(text: str, lang: str) -> int:
    """Lower is preferred: where Ultraman is first named (never: the whole length), plus the length
    for the default taste."""
    pos = text.find(ULTRAMAN[lang])
    return (len(text) if pos < 0 else pos) + (len(text) if TASTE == "ultraman-short" else 0)


def prefer(a: str, b: str, lang: str) -> str:
    sa, sb = score(a, lang), score(b, lang)
    return "tie" if sa == sb else "left" if sa < sb else "right"


def requests(n: int, seed: int, avoid: set | None = None) -> list[StoryRequest]:
    cat, rng, out = get_catalog(), random.Random(seed), []
    while len(out) < n:
        d, p, s = rng.choice(cat.dynasties), rng.choice(cat.powers), rng.choice(cat.styles)
        lang = "zh" if len(out) % 2 == 0 else "en"
        key = (d.zh, p.zh, s.zh, lang)
        if avoid is not None and key in avoid:
            continue
        out.append(StoryRequest(dynasty=d.zh, power=p.zh, style=s.zh, lang=lang))
    return out


def key(r: StoryRequest) -> tuple:
    return (r.dynasty, r.power, r.style, r.lang)


def story(req: StoryRequest, model: str, seed: int, cast_seed: int | None = None) -> tuple[str, int | None]:
    run = studio.tell(req, model, seed=seed, cast_seed=cast_seed)
    for _ in run:
        pass
    return run.text, run.story_id


def collect(n: int, model: str = BASE, round_: int = 0) -> dict:
    """N pairs told by `model` through the two-story path and the library, picked by the script; the
    seconds taken after each pair, and each pick. Each round asks for new requests, as a family does."""
    from storyteller.library.store import Library

    lib, t0, picks, times, ids = Library(owner=None), time.time(), [], [], []
    for i, req in enumerate(requests(n, seed=1 + round_)):
        s = 1000 + 2 * i + 10_000 * round_
        (left, lid), (right, rid) = story(req, model, s, cast_seed=s), story(req, model, s + 1, cast_seed=s)
        choice = prefer(left, right, req.lang)
        lib.pick(lib.new_pair(lid, rid).id, choice)
        picks.append(choice)
        ids.append((lid, rid))
        times.append(time.time() - t0)
    return {"lib": lib, "picks": picks, "times": times, "ids": ids}


def export_first(got: dict, n: int, out: Path) -> dict:
    """The trl export's lines for the first n pairs, so that N = 50, 100 and 200 learn from nested sets
    told once; the seconds the first n took to tell."""
    import json

    from storyteller.library.exports import collect as checked, records

    pairs, _, _ = checked(got["lib"])
    lines, report = records(got["lib"], "trl")  # one line per checked pair, in the same order
    ids = {i for pair in got["ids"][:n] for i in pair}
    kept = [line for p, line in zip(pairs, lines, strict=True) if p.chosen_id in ids]
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in kept), encoding="utf-8")
    picks = got["picks"][:n]
    return {"choices": {c: picks.count(c) for c in ("left", "right", "tie")}, "written": len(kept),
            "left_out": report.dropped, "seconds": got["times"][n - 1]}


def judge(new_model: str, n_eval: int, avoid: set) -> dict:
    wins = ties = 0
    held = requests(n_eval, seed=2, avoid=avoid)
    for i, req in enumerate(held):
        old, _ = story(req, BASE, 5000 + i)
        new, _ = story(req, new_model, 5000 + i)
        verdict = prefer(new, old, req.lang)
        wins += verdict == "left"
        ties += verdict == "tie"
    return {"win_rate": (wins + ties / 2) / len(held), "wins": wins, "ties": ties, "n": len(held)}


def perplexities(models: list[Path], n: int) -> list[float]:
    from storyteller.model.evaluate import Row, load_model, perplexity
    from benchmarks.finetune import heldout

    stories = heldout(WORK / "models" / BASE)[:n]
    rows = [Row(s.lang, s.dynasty, s.power, s.style, s.hero, s.story) for s in stories]
    out = []
    for m in models:
        model, tok = load_model(m)
        out.append(perplexity(model, tok, rows))
    return out


def story_check(model_dir: Path) -> str:
    """The job's story check, as its model's training_config.json records it: each check's ratio."""
    cfg = json.loads((model_dir / "training_config.json").read_text(encoding="utf-8"))
    checks = ((cfg.get("finetune") or {}).get("data") or {}).get("story_check", {}).get("checks", [])
    return ", ".join(f"{c['epoch']:g}: {c['ratio']:.2f}x{'' if c['passed'] else ' dropped'}" for c in checks) or "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--rounds", type=int, default=1, help="collect and train again from the last round's model")
    ap.add_argument("--eval", type=int, default=40, help="held-out requests judged")
    ap.add_argument("--ppl", type=int, default=60, help="held-out corpus stories for perplexity")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--beta", type=float, default=None)
    ap.add_argument("--method", choices=["auto", "full", "lora"], default="auto", help="full weights or LoRA")
    ap.add_argument("--lora-r", type=int, default=8)
    ap.add_argument("--sft-weight", type=float, default=None, help="DPO plus an SFT loss on the chosen stories")
    ap.add_argument("--taste", choices=TASTES, default=TASTES[0],
                    help="the script's taste: Ultraman named earlier and shorter (the default), or Ultraman earlier only")
    ap.add_argument("--base", type=Path, default=ROOT / "models" / BASE, help="the starting model's folder")
    ap.add_argument("--judge-only", type=Path, default=None,
                    help="judge a kept model's folder against --base on --eval held-out requests (no collecting or training; "
                         "--n and --rounds say which requests its pairs used)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="copy each new model here (e.g. for a blind reading: storyteller reading pack --model)")
    a = ap.parse_args()
    global TASTE
    TASTE = a.taste
    import torch

    torch.set_num_threads(a.threads)
    (WORK / "models").mkdir(parents=True)
    shutil.copytree(a.base, WORK / "models" / BASE)
    from storyteller.finetune import JobSpec, get_provider

    results = []
    from storyteller.config import get_settings

    if a.judge_only:
        shutil.copytree(a.judge_only, WORK / "models" / a.judge_only.name)
        for n in a.n:
            avoid = {key(q) for r in range(a.rounds) for q in requests(n, seed=1 + r)}
            t0 = time.time()
            v = judge(a.judge_only.name, a.eval, avoid)
            print(f"{a.judge_only.name} against {BASE}, {v['n']} held-out requests: win rate {v['win_rate']:.0%} "
                  f"({v['wins']} wins, {v['ties']} ties); judge {time.time() - t0:.0f} s", flush=True)
        shutil.rmtree(WORK, ignore_errors=True)
        return

    first: dict = {}
    for n in sorted(a.n):
        model, got, steps, t_collect, t_train, failed = BASE, None, 0, 0.0, 0.0, False
        for r in range(a.rounds):
            os.environ["STORYTELLER_DATA_DIR"] = str(WORK / f"var-{n}-{r}")  # each round's own story book: its N pairs
            get_settings.cache_clear()
            data = WORK / f"pairs-{n}-{r}.jsonl"
            if r == 0:  # the starting model tells round one for every N: told once, the first n pairs each
                if not first:
                    first.update(collect(max(a.n), model, r))
                told = first
            else:
                told = collect(n, model, r)
            got = export_first(told, n, data)
            t1 = time.time()
            t0 = t1 - got["seconds"]
            p = get_provider("local")
            job = p.start(JobSpec(base_model=model, train_file=str(data), objective="dpo", name=f"tiny-dpo-{n}-r{r + 1}",
                                  threads=a.threads, learning_rate=a.lr, n_epochs=a.epochs, beta=a.beta,
                                  sft_weight=a.sft_weight, method=a.method, lora_r=a.lora_r, save_steps=1000))
            done = [x for x in p.follow(job.id, poll_s=1.0)][-1]
            if done.status != "succeeded":
                print(f"N={n} round {r + 1}: the DPO job {done.status}: {done.error}")
                failed = True
                break
            t2 = time.time()
            model, steps, t_collect, t_train = done.result_model, steps + done.step, t_collect + t1 - t0, t_train + t2 - t1
            if a.rounds > 1:
                print(f"N={n} round {r + 1}: pairs {got['written']} (script chose {got['choices']}), {done.step} DPO steps; "
                      f"wall: collect {t1 - t0:.0f} s, train {t2 - t1:.0f} s", flush=True)
        if failed:
            continue
        t2 = time.time()
        if a.keep:
            shutil.copytree(WORK / "models" / model, a.keep / model, dirs_exist_ok=True)
        avoid = {key(q) for r in range(a.rounds) for q in requests(n, seed=1 + r)}
        verdict = judge(model, a.eval, avoid)
        t3 = time.time()
        before, after = perplexities([WORK / "models" / BASE, WORK / "models" / model], a.ppl)
        checked = story_check(WORK / "models" / model)
        results.append((n, got, verdict, before, after, steps, t_collect, t_train, t3 - t2, checked))
        print(f"N={n}{f' x {a.rounds} rounds' if a.rounds > 1 else ''}: pairs {got['written']} (last round's script "
              f"chose {got['choices']}; left out {got['left_out']}), "
              f"{steps} DPO steps; story check (epoch: ratio) {checked}; win rate {verdict['win_rate']:.0%} ({verdict['wins']} wins, {verdict['ties']} "
              f"ties of {verdict['n']}); perplexity {before:.2f} -> {after:.2f} ({after / before - 1:+.1%}); "
              f"wall: collect {t_collect:.0f} s, train {t_train:.0f} s, judge {t3 - t2:.0f} s", flush=True)
    print("\n| N pairs | DPO steps | story check | win rate (target >= 70%) | perplexity before -> after (target <= +5%) | "
          "collect s | train s | judge s |\n|---|---|---|---|---|---|---|---|")
    for n, got, v, b, af, steps, tc, tt, tj, checked in results:
        print(f"| {n} | {steps} | {checked} | {v['win_rate']:.0%} | {b:.2f} -> {af:.2f} ({af / b - 1:+.1%}) | {tc:.0f} "
              f"| {tt:.0f} | {tj:.0f} |")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

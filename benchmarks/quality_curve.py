"""Story quality against training: python benchmarks/quality_curve.py DIR [DIR ...] [--n 10]

For each model folder (snapshots of one build, or models of different sizes), tells `n` Chinese
and `n` English stories on fixed requests with the app's sampling, and prints side by side the
Chinese fluency and English non-word share next to the team's held-out stories, and speed. The
model card's curve (quality against data seen and model size) is made with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storyteller import corpus  # noqa: E402
from storyteller.corpus import is_heldout  # noqa: E402
from storyteller.model.evaluate import generate, load_model  # noqa: E402
from storyteller.model.fluency import mean_fluency  # noqa: E402
from storyteller.model.measures import nonword_share  # noqa: E402
from storyteller.model.reading import requests  # noqa: E402
from storyteller.prompts import StoryRequest  # noqa: E402


def measure(folder: Path, n: int) -> dict:
    model, tok = load_model(folder)
    out = {"model": folder.name, "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}
    chars = seconds = 0.0
    for lang in ("zh", "en"):
        stories = []
        for i, (d, p, s) in enumerate(requests(lang, n)):
            g = generate(model, tok, StoryRequest(dynasty=d, power=p, style=s, lang=lang), seed=i)
            stories.append(g["story"])
            if lang == "zh":
                chars, seconds = chars + len(g["story"]), seconds + g["seconds"] - g["ttft_s"]
        out[lang] = stories
    out["zh_fluency"] = mean_fluency(out["zh"])
    out["en_nonwords"] = nonword_share(out["en"])
    out["zh_chars_per_s"] = chars / seconds if seconds else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    held = [s for s in corpus.load() if is_heldout(s.id)]
    team = {"zh_fluency": mean_fluency([s.story for s in held if s.lang == "zh"][: args.n * 2]),
            "en_nonwords": nonword_share([s.story for s in held if s.lang == "en"][: args.n * 2])}
    rows = [measure(m, args.n) for m in args.models]
    print("| model | params (M) | zh fluency | en non-words | zh chars/s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['params_m']} | {r['zh_fluency']:.3f} | {r['en_nonwords']:.4f} | "
              f"{r['zh_chars_per_s']:.0f} |")
    print(f"| team stories (held out) | | {team['zh_fluency']:.3f} | {team['en_nonwords']:.4f} | |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "team": team}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

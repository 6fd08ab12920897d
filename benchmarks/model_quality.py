"""Embedded model quality and speed: python benchmarks/model_quality.py [--model DIR] [--update-card]

Prints the measures that can fail (English non-words and Chinese fluency next to the team's own
held-out stories, variety of ten tellings, chars/s and first character on one CPU thread) and the
figures the format guarantees, on the held-out 10% of the team corpus (zh, en) and the reference
corpus (../shared/data, with dynasties and powers the team corpus never has). Targets: non-words
≤ 0.5%, Chinese fluency ≥ 90% of the team's, shared sentences of ten tellings ≤ 20%, ≥ 400 chars/s.
The blind reading (the card's first table) is `storyteller reading pack` / `score`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storyteller.model.card import guaranteed_table, measure, measured_table, write_card  # noqa: E402
from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--n", type=int, default=30, help="held-out stories per language to generate")
    ap.add_argument("--n-reference", type=int, default=30, help="reference stories to generate")
    ap.add_argument("--tellings", type=int, default=10, help="tellings per request for variety")
    ap.add_argument("--update-card", action="store_true", help="write the tables into the model card")
    ap.add_argument("--json", type=Path, help="also save all figures as JSON here")
    args = ap.parse_args()
    if not (args.model / "config.json").is_file():
        print(f"No model at {args.model}; build it with `python -m storyteller.model.build`.")
        return 1
    m = measure(args.model, n_heldout=args.n, n_reference=args.n_reference, tellings=args.tellings)
    print(measured_table(m))
    print()
    print(guaranteed_table(m))
    if args.json:
        args.json.write_text(json.dumps(m, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.update_card:
        print(f"updated {write_card(args.model, m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embedded model quality and speed: python benchmarks/model_quality.py [--model DIR] [--update-card]

Prints the targets table for the shipped model: on the held-out 10% of the team corpus (zh and
en) and on the reference corpus (../shared/data, which has dynasties and powers the team corpus
never covers: 魏, 读心术, 不死之身, 喷火), with each measured figure next to its target.
Targets: adherence ≥ 0.95 seen / ≥ 0.90 unseen, hero consistency 100%, clean end 100%,
distinct-4 ≥ 0.94, copied 20-char windows ≤ 4%, ≥ 400 chars/s on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storyteller.model.card import measure, table, write_card  # noqa: E402
from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--n-reference", type=int, default=60, help="reference stories to generate")
    ap.add_argument("--update-card", action="store_true", help="write the table into the model card")
    ap.add_argument("--json", type=Path, help="also save all metrics as JSON here")
    args = ap.parse_args()
    if not (args.model / "config.json").is_file():
        print(f"No model at {args.model}; build it with `python -m storyteller.model.build`.")
        return 1
    cols = measure(args.model, n_reference=args.n_reference)
    print(table(cols))
    if args.json:
        args.json.write_text(json.dumps(cols, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.update_card:
        print(f"updated {write_card(args.model, cols)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the learned check (learned.py): python -m storyteller.safety.train [--c 10] [--threshold 0.6]

Block rows come from labelled files written for this (`assets/safety/learned_rows.jsonl`, and the
policy's test corpus); innocent text from the same files, every sentence of the team's corpus,
catalog values and sentences of stories composed from the story world. Two logistic regressions
(scikit-learn): block or not over every row, and which category over the block rows. Prints
cross-validated figures (five folds) so the threshold is chosen on rows the model did not learn;
the red-team sets under tests/fixtures are never read here: they are its test.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize

from storyteller import corpus
from storyteller.catalog import get_catalog
from storyteller.paths import ASSETS, ROOT
from storyteller.safety.learned import MODEL_PATH, LearnedModel, grams, sentences
from storyteller.safety.normalise import fold
from storyteller.world.compose import compose_many
from storyteller.world.schema import cached_world

ROWS = (ASSETS / "safety" / "learned_rows.jsonl", ROOT / "tests" / "fixtures" / "safety_inputs.jsonl")
WORLD_STORIES = 300  # per language
PRUNE = 0.02  # weights smaller than this are dropped from the shipped file (figures unchanged)


def labelled(paths) -> list[tuple[str, bool, str, float]]:
    """(text, is a typed field, category or "allow", weight): written rows count three times a story sentence."""
    out = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                label = r["category"] if r["expect"] == "block" else "allow"
                out.append((r["text"], r["kind"] != "sentence", label, 3.0))
    return out


def innocent(team: bool = True, world_stories: int = WORLD_STORIES) -> list[tuple[str, bool, str, float]]:
    """Text a child may see: the team's story sentences, catalog values, composed story sentences."""
    texts: list[tuple[str, bool]] = []
    for story in corpus.load() if team else []:
        texts += [(t, False) for t in sentences(story.story)]
    # chat models write markdown: a word in **bold** is not a swear word hidden by symbols
    texts += [(_bold(t), False) for t, _ in texts[::15]]
    cat = get_catalog()
    for d in cat.dynasties:
        texts += [(d.zh, True), (d.en, True)] + [(n, True) for h in d.heroes for n in (h.zh, h.en)]
    texts += [(n, True) for x in (*cat.powers, *cat.styles) for n in (x.zh, x.en)]
    texts += [(v, True) for v in typed_combinations()]
    for lang in ("zh", "en"):
        for _, story in compose_many(cached_world(lang), world_stories, seed=7):
            texts += [(t, False) for t in sentences(story)]
    return [(t.strip(), f, "allow", 1.0) for t, f in texts if t.strip()]


def _bold(sentence: str) -> str:
    word, _, rest = sentence.partition(" ")
    return f"**{word}** {rest}" if sentence.isascii() else f"**{sentence[:2]}**{sentence[2:]}"


def typed_combinations() -> list[str]:
    """Typed values a child makes from the presets (温馨又搞笑, "funny and cozy", 会隐形) and the
    world's monsters and places: few innocent typed rows are written, and a style word such as 感人
    must not read as harm because 人 is in it."""
    cat, out = get_catalog(), []
    for a in cat.styles:
        for b in cat.styles:
            if a != b:
                out += [a.zh + b.zh, f"{a.zh}又{b.zh}", f"{a.en} and {b.en}", f"{a.en}, {b.en}"]
    for p in cat.powers:
        out += [f"会{p.zh}", f"超级{p.zh}", f"{p.zh}的本领", f"super {p.en}", f"the power of {p.en}"]
    for lang in ("zh", "en"):
        world = cached_world(lang)
        out += [m.name for m in world.monsters] + [p.name for p in world.places]
    return out


def matrix(rows):
    vec = CountVectorizer(analyzer=lambda r: grams(fold(r[0]).text, r[1]), min_df=1)
    x = normalize(vec.fit_transform([(t, f) for t, f, _, _ in rows]).astype(np.float64))
    return vec, x


def cross_validate(x, y, w, n: int, c: float, folds: int) -> None:
    """Out-of-fold figures at several thresholds: the first n rows are the labelled ones."""
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        model = LogisticRegression(C=c, max_iter=3000).fit(x[tr], y[tr], sample_weight=w[tr])
        oof[te] = model.predict_proba(x[te])[:, 1]
    print("cross-validated (rows the model did not learn):")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        print(f"  threshold {t:.1f}: labelled unsafe blocked {np.mean(oof[:n][y[:n] == 1] >= t):.1%}, "
              f"labelled innocent blocked {np.mean(oof[:n][y[:n] == 0] >= t):.1%}, "
              f"story sentences blocked {int(np.sum(oof[n:] >= t))} of {len(y) - n}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=float, default=10.0, help="inverse regularisation strength")
    ap.add_argument("--threshold", type=float, default=0.65, help="block when P(block) reaches this")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--rows", type=Path, nargs="+", default=list(ROWS), help="labelled JSONL files")
    ap.add_argument("--world-stories", type=int, default=WORLD_STORIES, help="composed stories per language")
    ap.add_argument("--no-team", action="store_true", help="leave the team's stories out (quick runs)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: none)")
    args = ap.parse_args(argv)
    lab, inn = labelled(args.rows), innocent(not args.no_team, args.world_stories)
    rows = lab + inn
    vec, x = matrix(rows)
    y = np.array([r[2] != "allow" for r in rows], dtype=int)
    w = np.array([r[3] for r in rows])
    print(f"{len(lab)} labelled rows ({int(y[:len(lab)].sum())} block), {len(inn)} innocent story sentences "
          f"and catalog values; {x.shape[1]} features")
    n = len(lab)
    if args.folds:
        cross_validate(x, y, w, n, args.c, args.folds)
    block = LogisticRegression(C=args.c, max_iter=3000).fit(x, y, sample_weight=w)
    bad = np.flatnonzero(y == 1)
    labels = np.array([rows[i][2] for i in bad])
    cats = LogisticRegression(C=args.c, max_iter=3000).fit(x[bad], labels)
    names = vec.get_feature_names_out()
    weights = {str(names[j]): round(float(v), 4) for j, v in enumerate(block.coef_[0]) if abs(v) >= PRUNE}
    used = np.flatnonzero(np.asarray(x[bad].sum(axis=0)).ravel())
    cat_w = {str(names[j]): [round(float(v), 3) for v in cats.coef_[:, j]] for j in used
             if np.abs(cats.coef_[:, j]).max() >= PRUNE}
    model = LearnedModel(threshold=args.threshold, bias=float(block.intercept_[0]), weights=weights,
                         categories=[str(c) for c in cats.classes_], category_bias=[float(b) for b in cats.intercept_],
                         category_weights=cat_w,
                         trained_on={"labelled": len(lab), "labelled_block": int(y[:n].sum()), "innocent": len(inn)})
    model.save(args.out)
    print(f"kept {len(weights)} block weights and {len(cat_w)} category rows; "
          f"categories {dict(Counter(labels.tolist()))}; wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

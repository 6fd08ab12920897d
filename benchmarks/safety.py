"""Child-safety policy: python benchmarks/safety.py

Prints, for storyteller.safety:
- the test corpus (tests/fixtures/safety_inputs.jsonl, written for this): % of unsafe inputs
  blocked (target 100%) and % of innocent ones blocked (target <= 1%), overall and by language;
- false alarms on real stories: every sentence of the team corpus (assets/corpus/*.jsonl) through
  check_text; % of stories flagged (target <= 1%), with each flagged sentence and its category so
  the team can decide (fix the lists, or the story);
- the cost of one check per sentence in ms (target <= 1 ms) and its ratio to that budget;
- typed values through the whole input gate (what they say, then their shape: storyteller/safety/
  shape.py): every innocent typed row of the test corpus, the shape set (tests/fixtures/
  safety_shapes.jsonl: descriptions, slang, short innocent values) and every catalog value.

The lists were revised against the test corpus, so its figures say that every case written down
is handled; inputs nobody has written yet are the lists' real test (add them to the corpus).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller import corpus  # noqa: E402
from storyteller.safety import check_field, check_text, learned  # noqa: E402
from storyteller.safety.inputs import check_typed  # noqa: E402
from storyteller.safety.shape import LIMITS, check_shape, measure, size, vocabulary  # noqa: E402
from storyteller.tts.sentences import split_sentences  # noqa: E402

INPUTS = ROOT / "tests" / "fixtures" / "safety_inputs.jsonl"
SHAPES = ROOT / "tests" / "fixtures" / "safety_shapes.jsonl"
# Written by red-teamers who never saw the policy: what to expect on phrasings nobody has written yet.
# Never learnt from (assets/safety/learned_rows.jsonl drops any row they share). Set 3 was read to
# fix the lists by kind of miss (2026-11-30); set 4 was written after that and never tuned on.
HELD_OUT = {"set 3": ROOT / "tests" / "fixtures" / "safety_heldout.jsonl",
            "set 4": ROOT / "tests" / "fixtures" / "safety_heldout4.jsonl"}
BUDGET_MS = 1.0


def verdict(row: dict):
    if row["kind"] == "sentence":
        return check_text(row["text"], row["lang"])
    return check_field(row["kind"], row["text"], row["lang"])


def test_corpus() -> None:
    rows = [json.loads(x) for x in INPUTS.read_text(encoding="utf-8").splitlines() if x.strip()]
    print(f"== test corpus: {len(rows)} inputs ({dict(Counter(r['lang'] for r in rows))})")
    for lang in ("zh", "en", None):
        sub = [r for r in rows if lang is None or r["lang"] == lang]
        unsafe = [r for r in sub if r["expect"] == "block"]
        innocent = [r for r in sub if r["expect"] == "allow"]
        caught = [r for r in unsafe if verdict(r)]
        wrong_cat = [r for r in unsafe if (v := verdict(r)) and v.category != r["category"]]
        false = [r for r in innocent if verdict(r)]
        pct = 100 * len(caught) / len(unsafe)
        print(f"  {lang or 'all':3}: unsafe blocked {len(caught)}/{len(unsafe)} = {pct:.1f}% "
              f"(target 100%), right category {len(caught) - len(wrong_cat)}/{len(caught)}; innocent blocked "
              f"{len(false)}/{len(innocent)} = {100 * len(false) / len(innocent):.1f}% (target <= 1%)")
        if lang is None:
            for r in [r for r in unsafe if not verdict(r)]:
                print(f"     missed: {r['kind']} {r['text']!r}")
            for r in false:
                print(f"     false alarm: {r['kind']} {r['text']!r} -> {verdict(r).category}")


def _gate(rows: list[dict]) -> dict[str, object]:
    return {r["text"]: (check_text(r["text"], r["lang"]) if r["kind"] == "sentence"
                        else check_typed(r["kind"], r["text"], r["lang"])) for r in rows}


def held_out() -> None:
    print("== held-out red-team sets, never learnt from (typed values through the whole gate)")
    for name, path in HELD_OUT.items():
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        judge, learned.judge = learned.judge, lambda *a, **k: None  # the lists alone, for the side-by-side
        try:
            lists_only = _gate(rows)
        finally:
            learned.judge = judge
        gate = _gate(rows)
        unsafe = [r for r in rows if r["expect"] == "block"]
        innocent = [r for r in rows if r["expect"] == "allow"]
        for label, g in (("lists alone", lists_only), ("lists + learned check", gate)):
            caught = sum(1 for r in unsafe if g[r["text"]])
            false = sum(1 for r in innocent if g[r["text"]])
            print(f"  {name} ({len(rows)} inputs), {label:22}: unsafe blocked {caught}/{len(unsafe)} = "
                  f"{100 * caught / len(unsafe):.1f}%; innocent blocked {false}/{len(innocent)} = "
                  f"{100 * false / len(innocent):.1f}%")
        print(f"    missed by category: {dict(Counter(r['category'] for r in unsafe if not gate[r['text']]))}")
        for r in innocent:
            if gate[r["text"]]:
                print(f"    innocent refused: {r['kind']} {r['text']!r} -> {gate[r['text']].reason}")


def team_corpus() -> list[str]:
    stories = corpus.load()
    sentences, flagged = [], Counter()
    print(f"== team corpus: {len(stories)} stories")
    for s in stories:
        for sent in split_sentences(s.story):
            sentences.append(sent)
            if (v := check_text(sent, s.lang)) is not None:
                flagged[s.id] += 1
                print(f"  flagged {s.id}: [{v.category}] {v.reason} :: {sent.strip()}")
    share = 100 * len(flagged) / len(stories)
    print(f"  stories flagged {len(flagged)}/{len(stories)} = {share:.2f}% (target <= 1%); "
          f"sentences flagged {sum(flagged.values())}/{len(sentences)}")
    facts = [h.fact(lang) for d in corpus.get_catalog().dynasties for h in d.heroes for lang in ("zh", "en")]
    bad = [f for f in facts if check_text(f)]
    print(f"  catalog hero facts flagged {len(bad)}/{len(facts)}" + "".join(f"\n     {f}" for f in bad))
    return sentences


def cost(sentences: list[str]) -> None:
    for s in sentences[:200]:  # warm the caches and the automata
        check_text(s)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for s in sentences:
            check_text(s)
        runs.append((time.perf_counter() - t0) * 1000 / len(sentences))
    ms = statistics.median(runs)
    fields = [s[:12] for s in sentences[:2000]]
    t0 = time.perf_counter()
    for f in fields:
        check_field("power", f)
    field_ms = (time.perf_counter() - t0) * 1000 / len(fields)
    chars = statistics.mean(len(s) for s in sentences)
    print(f"== cost: {ms:.3f} ms per sentence (mean {chars:.0f} chars, {len(sentences)} sentences, median of 3 runs); "
          f"ratio to the {BUDGET_MS:.0f} ms budget: {ms / BUDGET_MS:.2f}x; a typed field: {field_ms:.3f} ms")


def typed_gate() -> None:
    cat = corpus.get_catalog()
    t0 = time.perf_counter()
    vocabulary()
    print(f"== typed values, whole gate (content, then shape); vocabulary of {len(vocabulary())} words "
          f"loaded in {(time.perf_counter() - t0) * 1000:.0f} ms (once per process)")
    for kind, (chars, words) in LIMITS.items():
        values = ([h.name(lang) for d in cat.dynasties for h in d.heroes for lang in ("zh", "en")] if kind == "hero"
                  else cat.choices(kind, "zh") + cat.choices(kind, "en"))
        zh = max(size(v)[0] for v in values if measure(v)[0])
        en = max(size(v)[0] for v in values if not measure(v)[0])
        refused = sum(check_shape(kind, v) is not None for v in values)
        print(f"  {kind:7}: catalog max {zh} characters / {en} words; limits {chars} / {words}; "
              f"catalog values refused {refused}/{len(values)}")
    rows = [json.loads(x) for x in INPUTS.read_text(encoding="utf-8").splitlines() if x.strip()]
    typed = [r for r in rows if r["kind"] != "sentence"]
    shapes = [json.loads(x) for x in SHAPES.read_text(encoding="utf-8").splitlines() if x.strip()]
    for name, sub in (("test corpus, typed", typed), ("shape set", shapes)):
        unsafe = [r for r in sub if r["expect"] == "block"]
        innocent = [r for r in sub if r["expect"] == "allow"]
        missed = [r for r in unsafe if not check_typed(r["kind"], r["text"], r["lang"])]
        false = [r for r in innocent if check_typed(r["kind"], r["text"], r["lang"])]
        print(f"  {name}: unsafe blocked {len(unsafe) - len(missed)}/{len(unsafe)}; innocent refused "
              f"{len(false)}/{len(innocent)} = {100 * len(false) / max(1, len(innocent)):.1f}%")
        for r in missed:
            print(f"     missed: {r['kind']} {r['text']!r}")
        for r in false:
            print(f"     refused: {r['kind']} {r['text']!r} -> {check_typed(r['kind'], r['text'], r['lang']).reason}")
    values = [(r["kind"], r["text"]) for r in typed + shapes]
    t0 = time.perf_counter()
    for _ in range(5):
        for kind, text in values:
            check_shape(kind, text)
    ms = (time.perf_counter() - t0) * 1000 / (5 * len(values))
    print(f"  shape check: {ms:.3f} ms per typed value ({len(values)} values, 5 runs)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    from storyteller.safety.lists import matchers

    matchers(False), matchers(True)
    print(f"== lists compiled in {(time.perf_counter() - t0) * 1000:.0f} ms (once per process)")
    test_corpus()
    held_out()
    cost(team_corpus())
    typed_gate()

"""What the streaming safety guard costs: first text with and without it, and the check per sentence.

    nice python benchmarks/safety_stream.py [--stories 20] [--model models/storyteller-tiny]

Same model (the embedded models/storyteller-tiny), same requests, same seeds, one after the other:
- without the guard: the engine's first chunk (what the app showed first before the guard);
- the first clause's end in that same raw stream (the guard holds the clause being written, so
  this is the earliest any checked text can be shown), and the first sentence's end (what the
  guard waited for before it released clauses);
- with the guard: the first chunk of `studio.tell` (what the app shows first now).
Then the policy check's cost per sentence, over every sentence of the team's corpus and over the
sentences the guard checked. Targets: check <= 1 ms per sentence; guard overhead over the first
clause's end <= 20 ms, and first text within +20 ms of the first chunk. Holding back a clause delays
first text by that clause: printed as it is, not hidden in the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402

REQUESTS = [("唐", "隐形", "轻松", "zh"), ("宋", "飞行", "温馨", "zh"), ("明", "喷火", "搞笑", "zh"),
            ("Tang", "invisibility", "funny", "en"), ("Han", "flying", "heart-warming", "en")]


def first_end(arrivals: list[tuple[float, str]], clauses: bool = False) -> float | None:
    """When the chunk that finished the first sentence (or clause) arrived; None if none has yet."""
    from storyteller.safety.guard import Sentences

    splitter = Sentences(clauses)
    return next((t for t, chunk in arrivals if splitter.feed(chunk)), None)


def first_text(args) -> None:
    from storyteller import studio
    from storyteller.engines.base import Prompt
    from storyteller.engines.local_hf import LocalHFEngine

    class Timed(LocalHFEngine):
        """The real engine, noting when each chunk reaches its reader (the guard; before it, the app)."""

        arrivals: list[tuple[float, str]] = []

        def stream(self, prompt, cancel=None):
            for chunk in super().stream(prompt, cancel):
                self.arrivals.append((time.perf_counter(), chunk))
                yield chunk

    engine = Timed(Path(args.model).name, source=str(args.model))
    loaded = engine.load()
    for _ in engine.stream(Prompt.for_story(studio.build_request("唐", "隐形", "轻松"), max_new_tokens=4)):
        pass  # warm-up: the first steps are slow
    raw_first, clause_end, sentence_end, guarded, check_s, checked = [], [], [], [], 0.0, 0
    for i in range(args.stories):
        d, p, s, lang = REQUESTS[i % len(REQUESTS)]
        engine.arrivals = []
        run = studio.tell(studio.build_request(d, p, s, lang), engine=engine, seed=1000 + i, save=False)
        t0 = time.perf_counter()
        pieces = iter(run)
        first = next(pieces)
        shown = time.perf_counter()
        while first_end(engine.arrivals) is None and next(pieces, None) is not None:
            pass  # go on until the raw stream has finished its first sentence too
        run.close()
        clause_end.append(first_end(engine.arrivals, clauses=True) - t0)
        sentence_end.append(first_end(engine.arrivals) - t0)
        raw_first.append(engine.arrivals[0][0] - t0)
        guarded.append(shown - t0)
        check_s, checked = check_s + run.guard.check_s, checked + run.guard.checked
        assert first and run.guard.checked >= 1
    ms = [1000 * statistics.median(x) for x in (raw_first, clause_end, guarded, sentence_end)]
    over = [1000 * (g - e) for g, e in zip(guarded, clause_end)]
    print(f"model: {args.model} ({loaded.n_params / 1e6:.1f}M params); {args.stories} stories, zh and en, median")
    print(f"  first text without the guard (the first chunk)     {ms[0]:8.1f} ms")
    print(f"  the first clause ends                              {ms[1]:8.1f} ms  (+{ms[1] - ms[0]:.1f} ms: one "
          f"clause held back, by design)")
    print(f"  first text with the guard (first checked clause)   {ms[2]:8.1f} ms  (+{ms[2] - ms[0]:.1f} ms "
          f"over the first chunk, x{ms[2] / ms[0]:.1f}); target +20 ms: {'ok' if ms[2] - ms[0] <= 20 else 'MISSED'}")
    print(f"  (the first sentence ends                           {ms[3]:8.1f} ms: first text when the guard held "
          f"whole sentences)")
    print(f"  guard overhead after the clause ends: median {statistics.median(over):.2f} ms, max {max(over):.2f} ms;"
          f" target <= 20 ms: {'ok' if max(over) <= 20 else 'MISSED'}")
    print(f"  check cost in these stories: {1000 * check_s / max(1, checked):.3f} ms/sentence over {checked} checks")


def check_cost() -> None:
    from storyteller.corpus import load as load_corpus
    from storyteller.safety import check_text
    from storyteller.tts.sentences import split_sentences

    sentences = [(s, story.lang) for story in load_corpus() for s in split_sentences(story.story)]
    check_text("预热。", "zh")  # builds the matchers once
    times = []
    for text, lang in sentences:
        t = time.perf_counter()
        check_text(text, lang)
        times.append(time.perf_counter() - t)
    times.sort()
    mean, p99 = 1000 * statistics.fmean(times), 1000 * times[int(0.99 * (len(times) - 1))]
    print(f"check_text over the team corpus: {len(sentences)} sentences, mean {mean:.3f} ms, p99 {p99:.3f} ms, "
          f"max {1000 * times[-1]:.3f} ms; target <= 1 ms/sentence: {'ok' if mean <= 1 else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=20)
    ap.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    args = ap.parse_args(argv)
    check_cost()
    first_text(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

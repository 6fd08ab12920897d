"""Read-aloud latency: python benchmarks/tts.py

Streams a story at the embedded model's speed (~450 chars/s) through ReadAloud and prints, per
sentence, the time from the sentence's end in the stream to its audio being ready, plus the
real-time factor (synthesis time / audio length). Target: ≤ 1 s for a 30-character sentence.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storyteller.tts.readaloud import ReadAloud  # noqa: E402
from storyteller.tts.worker import Speaker  # noqa: E402

CHARS_PER_S = 450
STORIES = {
    "zh": "唐朝的诗人李白在月光下写诗时，忽然被一道彩虹门带到了今天的城市。"
          "他发现自己拥有了隐形的超能力，可以悄悄地走到任何地方去帮助别人。"
          "这时候，一只圆滚滚的泡泡怪正在公园里吐出好多好多黏黏的泡泡。"
          "奥特曼飞过来说：“李白，我们一起想办法让它安静下来吧！”"
          "李白隐形后绕到泡泡怪身后，轻轻念了一首关于月亮的诗给它听。"
          "泡泡怪听着听着就打起了哈欠，慢慢地变小，最后睡着了。",
    "en": "Li Bai, the great poet of the Tang dynasty, stepped through a rainbow door into a busy city. "
          "He found that he had the power of invisibility and could tiptoe anywhere to help. "
          "A round bubble monster was blowing sticky bubbles all over the park that afternoon. "
          '"Li Bai, let us calm it down together," said Ultraman with a friendly wave. '
          "Li Bai slipped behind the monster and softly read it a poem about the moon. "
          "The monster yawned, shrank to the size of a kitten, and fell fast asleep.",
}


def run(lang: str, speaker: Speaker) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        reader = ReadAloud(lang, out_dir=Path(tmp), speaker=speaker)
        for ch in STORIES[lang]:
            reader.feed(ch)
            time.sleep(1 / CHARS_PER_S)
        reader.finish()
        list(reader.drain())
        clips = [c for c in reader.clips if c.path]
        latencies = [c.latency_s for c in clips]
        synth = sum(c.latency_s for c in clips)
        audio = sum(c.duration_s for c in clips)
        sizes = [len(c.text) for c in clips]
        print(f"[{lang}] {len(clips)} sentences, {min(sizes)}-{max(sizes)} chars each")
        print(f"[{lang}] sentence end -> audio ready: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms  (target ≤ 1000 ms; ratio max/target {max(latencies):.2f})")
        print(f"[{lang}] real-time factor (synthesis time / audio length): {synth / audio:.3f}")


def main() -> None:
    speaker = Speaker(timeout_s=20)
    t0 = time.perf_counter()
    speaker.start()
    print(f"speech worker start: {(time.perf_counter() - t0) * 1000:.0f} ms (done once, before the first story)")
    for lang in ("zh", "en"):
        run(lang, speaker)
    speaker.close()


if __name__ == "__main__":
    main()

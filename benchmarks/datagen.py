"""Dataset generation speed: one request at a time (as the course did) vs the pipeline.

    python benchmarks/datagen.py [--latency 0.2] [--concurrency 8]

54 stories (3 dynasties x 3 powers x 3 styles x 2 repeats) from a loopback OpenAI server that
waits `latency` seconds per request. Prints both times and the ratio; target: >= 6x faster.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller.data.generate import GenerateSpec, generate  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402


STORY = "唐朝的英雄和奥特曼一起打败了怪兽，大家都笑了。" * 10


def serve(latency: float, conn, stop) -> None:
    """The loopback server in its own process, as a real server would be (no shared GIL)."""
    with FakeOpenAI() as fake:
        fake.latency_s = latency
        fake.responder = lambda body: STORY
        conn.send(fake.base_url)
        stop.wait()


def make_engine(base_url: str):
    """The app's own OpenAI engine pointed at the loopback server; the tests' SDK engine until it lands."""
    os.environ["STORYTELLER_OPENAI__BASE_URL"] = base_url
    os.environ["OPENAI_API_KEY"] = "sk-bench"
    try:
        from storyteller.config import get_settings
        from storyteller.engines.registry import get_engine

        get_settings.cache_clear()
        return get_engine("gpt-4o-mini")
    except ImportError:
        from tests.test_data_generate import LoopbackChat

        return LoopbackChat(base_url, "sk-bench")


def run(base_url: str, concurrency: int, out: Path) -> tuple[float, int]:
    spec = GenerateSpec(model_id="gpt-4o-mini", dynasties=["唐", "宋", "明"], powers=["隐形", "飞行", "变大变小"],
                        styles=["轻松", "努力", "温馨"], repeats=2, concurrency=concurrency, backoff_s=0.1)
    t0 = time.perf_counter()
    res = generate(spec, out, engine=make_engine(base_url))
    return time.perf_counter() - t0, res.written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    parent, child = mp.Pipe()
    stop = mp.Event()
    server = mp.Process(target=serve, args=(args.latency, child, stop), daemon=True)
    server.start()
    try:
        base_url = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            seq, n1 = run(base_url, 1, Path(tmp) / "seq.csv")
            par, n2 = run(base_url, args.concurrency, Path(tmp) / "par.csv")
    finally:
        stop.set()
        server.join(5)
    print(f"{'':28}{'stories':>9}{'seconds':>10}{'stories/s':>11}")
    print(f"{'sequential (1 at a time)':28}{n1:>9}{seq:>10.2f}{n1 / seq:>11.1f}")
    print(f"{f'pipeline (concurrency {args.concurrency})':28}{n2:>9}{par:>10.2f}{n2 / par:>11.1f}")
    ratio = seq / par
    print(f"speed-up: {ratio:.1f}x (target >= 6x) {'OK' if ratio >= 6 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()

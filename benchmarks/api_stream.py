"""Streaming through the OpenAI-compatible API vs the engine alone, and many streams at once.

    python benchmarks/api_stream.py [--tokens 300] [--runs 9] [--streams 16] [--interval-ms MS]

The API runs as `storyteller serve --no-studio` in its own process (as in use), read with the
`openai` SDK; the engine alone runs in this process. Same model, prompt ("唐,隐形,轻松") and length.
Each seed goes through the API and through the engine alone, one right after the other (which goes
first alternates), timed over the same characters (the same seed gives the same text), so that both
runs of a pair see the machine in the same state; the ratio is the median of the pairs' ratios (the
engine column alone varies by a fifth from run to run on the two-core machine). Speed is in characters a second after the first piece. Printed for a
server that sends every token as it comes (stream interval 0) and for the default interval, with
which pieces written within it go out as one event after one safety check. Then `--streams`
concurrent streams (errors, p50/p95 first token). Targets: API >= 0.95x the engine's text speed;
first-token overhead <= 10 ms; 0 errors.

llama.cpp's OpenAI server on the same weights, in tokens a second (its stream is raw tokens; ours
also fills the hero's name and keeps the story to its power and end), with `--llama-python PY` (a
Python in which `pip install 'llama-cpp-python[server]'` ran: the package registry has only its
source, which compiled in 7 min 19 s on the idle two-core machine on 2026-11-30) and `--llama-cpp DIR`
(a llama.cpp source tree, e.g. the `vendor/llama.cpp` folder of that source package, whose converter
`benchmarks/gguf_convert.py` drives). The run prints whether llama.cpp tokenizes the story prompt to
the model's own ids (when written, greedy tokens from the GGUF also matched the model's own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("STORYTELLER_LOCAL__WORLD_OPENING", "false")  # both sides: see benchmarks/streaming.py
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ASK = [{"role": "user", "content": "唐,隐形,轻松"}]


class EngineAlone:
    """LocalHFEngine.stream in this process, over exactly the text the API delivered."""

    def __init__(self, model: Path):
        from storyteller.api.asking import story_request
        from storyteller.engines.local_hf import LocalHFEngine

        self.engine = LocalHFEngine(model.name, source=str(model))
        self.engine.load()
        self.req = story_request(ASK[0]["content"])

    def run(self, tokens: int, seed: int) -> tuple[float, list[tuple[float, int]]]:
        """(start, [(time, characters)] of each piece) of seed `seed`'s story."""
        from storyteller.engines.base import GenerationParams, Prompt
        from storyteller.prompts import build_messages

        prompt = Prompt(messages=build_messages(self.req), request=self.req,
                        params=GenerationParams(max_new_tokens=tokens + 8, seed=seed))
        t0 = time.perf_counter()
        return t0, [(time.perf_counter(), len(chunk)) for chunk in self.engine.stream(prompt)]

    @staticmethod
    def over(t0: float, stamps: list[tuple[float, int]], count: int) -> tuple[float, float]:
        """(first-token s, characters/s) over the first `count` characters."""
        upto, total = [], 0
        for stamp in stamps:
            upto.append(stamp)
            total += stamp[1]
            if total >= count:
                break
        return upto[0][0] - t0, rate(upto)


def rate(stamps: list[tuple[float, int]]) -> float:
    """Characters a second after the first piece (the API may send pieces that queued up as one)."""
    return sum(n for _, n in stamps[1:]) / (stamps[-1][0] - stamps[0][0])


def api_run(client, tokens: int, seed: int) -> tuple[float, float, int, int]:
    """(first-token s, characters/s, characters, tokens) of one stream read with the SDK."""
    t0 = time.perf_counter()
    stamps, used = [], 0
    for c in client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=tokens, seed=seed, stream=True,
                                            stream_options={"include_usage": True}):
        if c.choices and c.choices[0].delta.content:
            stamps.append((time.perf_counter(), len(c.choices[0].delta.content)))
        if c.usage:
            used = c.usage.completion_tokens
    return stamps[0][0] - t0, rate(stamps), sum(n for _, n in stamps), used


def paired(client, alone: EngineAlone, tokens: int, runs: int) -> list[tuple[float, float, float, float, int, int]]:
    """Each seed through the API and through the engine alone, one right after the other (which goes
    first alternates), so that both runs of a pair see the machine in the same state; the engine is
    timed over the characters the API delivered: (api first, api rate, engine first, engine rate,
    characters, tokens) for each seed."""
    out = []
    for seed in range(runs):
        if seed % 2:
            engine = alone.run(tokens, seed)
            a_first, a_rate, count, used = api_run(client, tokens, seed)
        else:
            a_first, a_rate, count, used = api_run(client, tokens, seed)
            engine = alone.run(tokens, seed)
        e_first, e_rate = alone.over(*engine, count)
        out.append((a_first, a_rate, e_first, e_rate, count, used))
    return out


def llama_cpp_runs(python: str, gguf: Path, prompt: str, tokens: int, runs: int) -> tuple[list, list[int]]:
    """(first-token s, tokens/s) of `runs` streams from llama.cpp's OpenAI server (llama-cpp-python)
    on one thread, as our engine runs a tiny model, with the end token banned so that each run writes
    exactly `tokens` tokens. The prompt is the one our engine gives the model. Also returns the
    prompt's ids as llama.cpp reads them."""
    import httpx
    import openai

    from storyteller.engines.base import TEMPERATURE, TOP_P
    from tests.api.conftest import free_port

    port = free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", str(gguf), "--n_threads", "1", "--n_threads_batch", "1",
           "--n_ctx", "832", "--port", str(port), "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
    try:
        t0 = time.monotonic()
        while True:
            try:
                model_id = client.models.list().data[0].id
                break
            except openai.APIConnectionError:
                if proc.poll() is not None or time.monotonic() - t0 > 120:
                    raise SystemExit("llama.cpp's server did not start") from None
                time.sleep(0.5)
        ids = httpx.post(f"http://127.0.0.1:{port}/extras/tokenize", json={"input": prompt}).json()["tokens"]
        out = []
        for seed in range(-1, runs):  # the first run warms up and is not counted
            t0 = time.perf_counter()
            stamps = [time.perf_counter() for c in client.completions.create(
                model=model_id, prompt=prompt, max_tokens=tokens, temperature=TEMPERATURE, top_p=TOP_P,
                seed=max(seed, 0), logit_bias={"1": -100}, stream=True) if c.choices and c.choices[0].text]
            if seed >= 0:
                out.append((stamps[0] - t0, (tokens - 1) / (stamps[-1] - stamps[0])))
        return out, ids
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def llama_cpp_compare(args, model: Path, alone: EngineAlone, ours: list) -> None:
    """Print llama.cpp's server beside ours, in tokens a second (ours: characters/s x tokens per character)."""
    from storyteller.engines.base import GenerationParams, Prompt
    from storyteller.prompts import build_messages

    gguf = Path(tempfile.mkdtemp(prefix="gguf-")) / f"{model.name}.gguf"
    conv = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gguf_convert.py"), str(args.llama_cpp),
                           str(model), str(gguf)], capture_output=True, text=True)
    if conv.returncode != 0:
        print(f"llama.cpp's OpenAI server: not compared, the GGUF conversion failed: {conv.stderr.strip()[-300:]}")
        return
    loaded = alone.engine.load()
    text, _ = alone.engine.build_input(loaded, Prompt(messages=build_messages(alone.req), request=alone.req,
                                                      params=GenerationParams()))
    runs, ids = llama_cpp_runs(args.llama_python, gguf, text, args.tokens, args.runs)
    same = ids == loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    med = statistics.median
    l_tps, l_first = med(t for _, t in runs), med(f for f, _ in runs)
    api_tps = med(p[1] * p[5] / p[4] for p in ours)
    eng_tps = med(p[3] * p[5] / p[4] for p in ours)
    print(f"llama.cpp's OpenAI server (llama-cpp-python, this model as GGUF f32, 1 thread; tokens/s, first token): "
          f"{l_tps:.0f} tokens/s, {l_first * 1e3:.1f} ms; ours at the default interval: API {api_tps:.0f} tokens/s "
          f"({api_tps / l_tps:.2f}x llama.cpp), engine alone {eng_tps:.0f} tokens/s ({eng_tps / l_tps:.2f}x). "
          f"Prompt read as the same ids by both: {'yes' if same else 'NO'}. llama.cpp writes raw tokens; ours also "
          f"fills the hero's name and keeps the story to its power and end.")


async def many(base_url: str, n: int, tokens: int) -> tuple[int, list[float], float]:
    """n streams at once: (errors, first-token seconds of each, wall seconds)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

    async def one(i: int) -> float:
        t0 = time.perf_counter()
        first = None
        stream = await client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=tokens, seed=i,
                                                      stream=True)
        async for c in stream:
            if first is None and c.choices and c.choices[0].delta.content:
                first = time.perf_counter() - t0
        return first

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    wall = time.perf_counter() - t0
    await client.close()
    firsts = [r for r in results if isinstance(r, float)]
    return len(results) - len(firsts), firsts, wall


def start_server(model: Path, streams: int, interval_ms: float) -> tuple[subprocess.Popen, str]:
    from tests.api.conftest import free_port

    port = free_port()
    env = dict(os.environ, STORYTELLER_DATA_DIR=tempfile.mkdtemp(prefix="api-bench-"),
               STORYTELLER_LOCAL__MODELS_DIR=str(model.parent), STORYTELLER_API__MAX_CONCURRENT=str(streams),
               STORYTELLER_API__STREAM_INTERVAL_MS=str(interval_ms))
    cmd = [sys.executable, "-c", "from storyteller.cli import main; main()", "serve", "--no-studio", "--port",
           str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}/v1"


def wait_ready(client, proc) -> None:
    import openai

    t0 = time.monotonic()
    while True:
        try:
            client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=4)  # loads the model
            return
        except openai.APIConnectionError:
            if proc.poll() is not None or time.monotonic() - t0 > 180:
                raise SystemExit("the API server did not start")
            time.sleep(0.5)


def one_server(model: Path, args, interval_ms: float, alone: EngineAlone, concurrent: bool):
    import openai

    proc, base_url = start_server(model, args.streams, interval_ms)
    try:
        client = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
        wait_ready(client, proc)
        time.sleep(3)  # the server's warm-up (safety lists, learned check) runs beside the first request
        pairs = paired(client, alone, args.tokens, args.runs)
        crowd = asyncio.run(many(base_url, args.streams, args.tokens)) if concurrent else None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return pairs, crowd


def main() -> None:
    global MODEL
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--interval-ms", type=float, default=None,
                    help="the server's stream interval (default: the setting's default, beside 0: every token)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "storyteller-tiny")
    ap.add_argument("--llama-python", help="a Python with llama-cpp-python[server] installed (see the docstring)")
    ap.add_argument("--llama-cpp", type=Path, help="a llama.cpp source tree, for its GGUF converter")
    args = ap.parse_args()
    from storyteller.config import APISettings

    model = args.model.resolve()
    MODEL = model.name
    default = APISettings().stream_interval_ms if args.interval_ms is None else args.interval_ms
    alone = EngineAlone(model)
    med = statistics.median
    print(f"model {model.name}, {args.runs} seeds of up to {args.tokens} tokens, each through the API and right "
          f"after or before it through the engine alone, over the same characters (medians; ratio: median of the "
          f"pairs' ratios); {os.cpu_count()} CPUs")
    print(f"{'stream interval':22}{'engine ch/s':>12}{'API ch/s':>10}{'ratio':>8}   {'engine 1st':>10}{'API 1st':>9}"
          f"{'overhead':>10}")
    crowd = ours = None
    for interval in ([0.0, default] if default else [0.0]):
        pairs, c = one_server(model, args, interval, alone, concurrent=interval == default)
        crowd, ours = c or crowd, pairs
        ratio = med(p[1] / p[3] for p in pairs)
        over = med(p[0] - p[2] for p in pairs)
        label = f"{interval:g} ms" + (" (every token)" if not interval else " (default)")
        print(f"{label:22}{med(p[3] for p in pairs):12.1f}{med(p[1] for p in pairs):10.1f}{ratio:7.2f}x   "
              f"{med(p[2] for p in pairs) * 1e3:8.1f}ms{med(p[0] for p in pairs) * 1e3:7.1f}ms{over * 1e3:+8.1f}ms")
    print("targets: API >= 0.95x the engine's text speed; first-token overhead <= +10 ms")
    errors, firsts, wall = crowd
    q = statistics.quantiles(firsts, n=20) if len(firsts) > 1 else firsts * 19
    print(f"{args.streams} concurrent streams: {errors} errors, first token p50 {med(firsts) * 1e3:.0f} ms, "
          f"p95 {q[18] * 1e3:.0f} ms, all done in {wall:.1f} s (server max_concurrent={args.streams}); "
          f"load average now {os.getloadavg()[0]:.1f}")
    if args.llama_python and args.llama_cpp:
        llama_cpp_compare(args, model, alone, ours)
    else:
        print("llama.cpp's OpenAI server: not compared this run (give --llama-python and --llama-cpp).")


if __name__ == "__main__":
    main()

"""Streaming overhead: raw `model.generate` vs the same model through the local engine.

    python benchmarks/streaming.py [--tokens 300] [--runs 5] [--model models/storyteller-tiny]

Same model (models/storyteller-tiny if present, else a ~4M-parameter GPT-2 built from a config with
random weights), same prompt, same seed, same thread count. Prints tokens/s and time to first token
side by side. Targets: delivered tokens/s >= 0.95 x raw; first-token overhead <= 50 ms.

Each part is a function `bench_*(args) -> list[Row]` listed in PARTS, so more parts (the running
app with concurrent clients) can be added without touching the others.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402


@dataclass
class Row:
    """One comparison: what, the baseline, ours, and the target as text."""

    what: str
    baseline: float
    ours: float
    unit: str
    target: str
    ok: bool


def _model_dir(args) -> tuple[str, Path]:
    if args.model:
        return "given", Path(args.model)
    if (DEFAULT_MODEL_DIR / "config.json").exists():
        return "shipped", DEFAULT_MODEL_DIR
    from tests.fakes.tiny_model import build_tiny_model

    out = Path(tempfile.mkdtemp()) / "tiny-bench"
    return "random tiny GPT-2 (n_embd 256, 4 layers)", build_tiny_model(
        out, storyteller=True, n_embd=256, n_layer=4, n_head=4, n_positions=640)


def bench_engine(args) -> list[Row]:
    """Raw generate (with a streamer that only timestamps) vs LocalHFEngine.stream."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    from storyteller.engines.base import Prompt
    from storyteller.engines.local_hf import LocalHFEngine, set_threads
    from storyteller.prompts import StoryRequest

    kind, path = _model_dir(args)
    engine = LocalHFEngine(path.name, source=str(path))
    loaded = engine.load()
    prompt = Prompt.for_story(StoryRequest(dynasty="唐", power="隐形", style="轻松"),
                              max_new_tokens=args.tokens, seed=args.seed)
    text, _ = engine.build_input(loaded, prompt)
    kwargs = engine.generate_kwargs(loaded, prompt, text)
    for k in ("logits_processor", "do_sample", "temperature", "top_p", "top_k"):
        kwargs.pop(k)  # raw = transformers' own sampling
    set_threads(loaded)
    print(f"model: {path} ({kind}, {loaded.n_params / 1e6:.1f}M params, device {loaded.device}, "
          f"{torch.get_num_threads()} thread(s)); {args.tokens} new tokens, {args.runs} runs each")

    class Stamp(BaseStreamer):
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2 and self.first is None:  # call 1 is the prompt
                self.first = time.perf_counter()

        def end(self):
            pass

    def raw_once() -> tuple[float, float]:
        torch.manual_seed(args.seed)
        stamp, t0 = Stamp(), time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(**kwargs, do_sample=True, temperature=prompt.params.temperature,
                                        top_p=prompt.params.top_p, streamer=stamp)
        t1 = time.perf_counter()
        n = out.shape[1] - kwargs["input_ids"].shape[1]
        return stamp.first - t0, (n - 1) / (t1 - stamp.first)

    def engine_once() -> tuple[float, float]:
        resp = engine.prompt(prompt)
        resp.text()
        n = engine.last_new_tokens or resp.tokens
        return resp.ttft_s, (n - 1) / (resp.finished_at - resp.first_token_at)

    raw_once(), engine_once()  # warm-up
    raw, ours = [], []
    for _ in range(args.runs):  # interleaved, so drift hits both alike
        raw.append(raw_once())
        ours.append(engine_once())
    raw_ttft, raw_tps = (statistics.median(x) for x in zip(*raw))
    eng_ttft, eng_tps = (statistics.median(x) for x in zip(*ours))
    overhead_ms = (eng_ttft - raw_ttft) * 1000
    return [
        Row("tokens/s (median)", raw_tps, eng_tps, "tok/s", ">= 0.95 x raw", eng_tps >= 0.95 * raw_tps),
        Row("time to first token", raw_ttft * 1000, eng_ttft * 1000, "ms", "overhead <= 50 ms", overhead_ms <= 50),
    ]


PARTS = [bench_engine]


# --- the running app: the same model served by `storyteller ui`, read through gradio_client -----------
APP_CLIENTS = 8  # concurrent browser sessions in the load part


def _serve_app(model_dir: Path, data_dir: Path) -> tuple["subprocess.Popen", str]:
    """`storyteller ui` in its own process on a free loopback port, serving `model_dir` by default."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYTELLER_", "OPENAI_"))}
    env |= {"STORYTELLER_LOCAL__MODELS_DIR": str(model_dir.parent), "STORYTELLER_LOCAL__DEFAULT_MODEL": model_dir.name,
            "STORYTELLER_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost"}
    cmd = [sys.executable, "-c", "from storyteller.cli import main; main()", "ui", "--host", "127.0.0.1",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the app did not start; run `storyteller ui` by hand to see why")


def _app_story(url: str, model_id: str, length: int, count_tokens) -> dict:
    """One story through /tell, timed where a client sees it: first text, last update, tokens."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    t0 = time.perf_counter()
    job = client.submit("唐", "隐形", "轻松", "zh", length, model_id, 0.8, api_name="/tell")
    first = last = None
    for story, *_ in job:
        if story:
            last = time.perf_counter()
            first = first or last
    story, stats = job.outputs()[-1]
    if first is None or "tokens/s" not in stats or "讲完啦" not in stats:
        raise RuntimeError(f"the story did not finish: {stats!r}")
    n = count_tokens(story)
    return {"ttft": first - t0, "tps": (n - 1) / (last - first) if last > first else float("nan"), "tokens": n,
            "start": t0, "end": last}


def bench_app(args) -> list[Row]:
    """Raw generate vs one client through the running app; then APP_CLIENTS clients at once."""
    import subprocess  # noqa: F401  (used by _serve_app)
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from storyteller import studio
    from storyteller.engines.base import Prompt
    from storyteller.engines.local_hf import LocalHFEngine, set_threads

    kind, path = _model_dir(args)
    length = max(studio.LENGTH_MIN, round((args.tokens - 64) / studio.TOKENS_PER_UNIT["zh"]))
    req = studio.build_request("唐", "隐形", "轻松", "zh", length)
    prompt = Prompt.for_story(req, max_new_tokens=studio.max_tokens_for(req))
    engine = LocalHFEngine(path.name, source=str(path))
    loaded = engine.load()
    set_threads(loaded)
    text, _ = engine.build_input(loaded, prompt)
    kwargs = engine.generate_kwargs(loaded, prompt, text)
    for k in ("logits_processor", "do_sample", "temperature", "top_p", "top_k"):
        kwargs.pop(k, None)

    def raw_once() -> tuple[float, float]:
        stamps: list[float] = []

        class Stamp:
            def put(self, value):
                stamps.append(time.perf_counter())

            def end(self):
                pass

        t0 = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(**kwargs, do_sample=True, temperature=0.8, top_p=0.95, streamer=Stamp())
        n = out.shape[1] - kwargs["input_ids"].shape[1]
        return stamps[1] - t0, (n - 1) / (stamps[-1] - stamps[1])  # stamps[0] is the prompt

    raw_once()
    raw_ttft, raw_tps = (statistics.median(x) for x in zip(*(raw_once() for _ in range(args.runs))))

    def count_tokens(story: str) -> int:
        return len(loaded.tokenizer(story, add_special_tokens=False)["input_ids"])

    with tempfile.TemporaryDirectory() as var:
        proc, url = _serve_app(path, Path(var))
        try:
            print(f"app: {url} serving {path.name} ({kind}); stories of ~{prompt.params.max_new_tokens} tokens")
            time.sleep(3)  # let the app's own warm-up finish
            _app_story(url, path.name, length, count_tokens)
            one = [_app_story(url, path.name, length, count_tokens) for _ in range(args.runs)]
            app_ttft, app_tps = statistics.median(r["ttft"] for r in one), statistics.median(r["tps"] for r in one)
            errors, many = 0, []
            with ThreadPoolExecutor(APP_CLIENTS) as pool:
                futures = [pool.submit(_app_story, url, path.name, length, count_tokens) for _ in range(APP_CLIENTS)]
                for f in futures:
                    try:
                        many.append(f.result(timeout=600))
                    except Exception as e:  # any failure counts; the target is zero
                        errors += 1
                        print(f"client error: {e}")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    ttfts = sorted(r["ttft"] for r in many) or [float("nan")]
    p95 = ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))]
    wall = max(r["end"] for r in many) - min(r["start"] for r in many) if many else float("nan")
    total_tps = sum(r["tokens"] for r in many) / wall if many else float("nan")
    print(f"{APP_CLIENTS} clients: first token p50 {statistics.median(ttfts) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms; {errors} errors")
    return [
        Row("app tokens/s (1 client)", raw_tps, app_tps, "tok/s", "vs raw generate", True),
        Row("app first token", raw_ttft * 1000, app_ttft * 1000, "ms", "vs raw generate", True),
        Row(f"{APP_CLIENTS} clients p95 1st tok", app_ttft * 1000, p95 * 1000, "ms", "vs 1 client", True),
        Row(f"{APP_CLIENTS} clients total tok/s", app_tps, total_tps, "tok/s", "vs 1 client", True),
        Row(f"{APP_CLIENTS} clients errors", 0, errors, "", "0 errors", errors == 0),
    ]


PARTS.append(bench_app)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--model", help="a model folder (default: models/storyteller-tiny, else a tiny random one)")
    args = ap.parse_args(argv)
    rows = [row for part in PARTS for row in part(args)]
    print(f"\n{'what':<24}{'raw / baseline':>16}{'storyteller':>14}{'ratio':>8}  target")
    for r in rows:
        ratio = r.ours / r.baseline if r.baseline else float("nan")
        print(f"{r.what:<24}{r.baseline:>12.1f} {r.unit:<3}{r.ours:>10.1f} {r.unit:<3}{ratio:>8.2f}  "
              f"{r.target} {'OK' if r.ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

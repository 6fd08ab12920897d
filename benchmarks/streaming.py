"""Streaming overhead: raw `model.generate` vs the same model through the local engine.

    python benchmarks/streaming.py [--tokens 300] [--runs 5] [--model models/storyteller-tiny]

Same model (models/storyteller-tiny if present, else a ~4M-parameter GPT-2 built from a config with
random weights), same prompt, same seed, same thread count. Prints tokens/s and time to first token
side by side. Targets: delivered tokens/s >= 0.95 x raw; first-token overhead <= 50 ms.

The app part serves `storyteller ui` and, for the framework floor, a minimal Gradio app streaming
the same engine; both are read two ways: like a browser (join the queue, one event stream) and with
gradio_client (whose reader polls every 50 ms and opens new HTTP clients per call: its own cost).
"First text" is the first frame with story text in it, never the "thinking…" frame. The app has no
seed, so stories differ run to run; tokens/s counts the story as shown, for raw generate too.

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
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio_client would start a telemetry thread
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

    from transformers import AutoTokenizer, GenerationConfig

    from storyteller.model.format import END

    out = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny-bench", storyteller=True, n_embd=256, n_layer=4,
                           n_head=4, n_positions=640)
    gen = GenerationConfig.from_pretrained(out)  # random weights end at random: every story runs its full length
    gen.suppress_tokens = [AutoTokenizer.from_pretrained(out).convert_tokens_to_ids(END)]
    gen.save_pretrained(out)
    return "random tiny GPT-2 (n_embd 256, 4 layers)", out


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


# --- the running app: the same model served by `storyteller ui`, read over HTTP -------------------------
# Next to it, the framework floor: a minimal Gradio app (one button, one Markdown) streaming the same
# engine, read the same way, so what the story tab adds on top of Gradio itself is visible.
APP_CLIENTS = 8  # concurrent browser sessions in the load part
QUESTION = ("唐", "隐形", "轻松", "zh")


def _floor_blocks(model_id: str):
    """The least a Gradio app can do to stream this engine: accumulate chunks, yield the text."""
    import gradio as gr

    from storyteller import studio
    from storyteller.engines.base import Prompt
    from storyteller.engines.registry import get_engine

    def tell(length):
        req = studio.build_request(*QUESTION, length)
        text = ""
        for chunk in get_engine(model_id).stream(Prompt.for_story(req, max_new_tokens=studio.max_tokens_for(req))):
            text += chunk
            yield text

    with gr.Blocks() as demo:
        length, out = gr.Number(), gr.Markdown()
        gr.Button().click(tell, length, out, api_name="tell")
    demo.queue(default_concurrency_limit=APP_CLIENTS)
    return demo


def _serve(model_dir: Path, data_dir: Path, floor: bool) -> tuple["subprocess.Popen", str]:
    """`storyteller ui` (or the floor app) in its own process on a free loopback port."""
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
    if floor:
        cmd = [sys.executable, __file__, "--serve-floor", str(port), "--model", str(model_dir)]
    else:
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


def _serve_floor(port: int, model_dir: Path) -> None:
    from storyteller import studio

    studio.warm_up(model_dir.name)
    _floor_blocks(model_dir.name).launch(server_name="127.0.0.1", server_port=port, quiet=True)


def _timed(t0: float, stories, count_tokens) -> dict:
    """First frame with story text, last update, tokens: from (time, story text) pairs."""
    first = last = None
    story = ""
    for t, story in stories:
        if story:
            last = t
            first = first or t
    if first is None:
        raise RuntimeError("no story text arrived")
    n = count_tokens(story)
    return {"ttft": first - t0, "tps": (n - 1) / (last - first) if last > first else float("nan"), "tokens": n,
            "start": t0, "end": last}


def _via_gradio_client(url: str, data: list, count_tokens) -> dict:
    """One story through gradio_client (its reader polls every 50 ms: part of its numbers)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    t0 = time.perf_counter()
    job = client.submit(*data, api_name="/tell")
    return _timed(t0, ((time.perf_counter(), out[0] if isinstance(out, tuple) else out) for out in job),
                  count_tokens)


def _via_sse(url: str, data: list, count_tokens) -> dict:
    """One story the way a browser reads it: join the queue, then one event stream, no polling."""
    import json
    import uuid

    import httpx

    config = httpx.get(url + "/config").json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "tell")
    defaults = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    data = data + [defaults[i] for i in dep["inputs"][len(data):]]  # the rest as on screen (read aloud off)
    fn = dep["id"]
    session = uuid.uuid4().hex

    def frames():
        story = ""
        with httpx.Client(timeout=600) as http:
            http.post(url + "/gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session},
                      ).raise_for_status()
            with http.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}) as r:
                for line in r.iter_lines():
                    msg = json.loads(line[5:]) if line.startswith("data:") else {}
                    if msg.get("msg") == "process_completed":
                        if not msg.get("success"):
                            raise RuntimeError(f"the story failed: {msg}")
                        return
                    if msg.get("msg") == "process_generating":
                        out = msg["output"]["data"][0]  # the full text, then diffs [op, path, value]
                        for op, _, value in (out if isinstance(out, list) else [("replace", [], out)]):
                            story = value if op == "replace" else story + value
                        yield time.perf_counter(), story

    t0 = time.perf_counter()
    return _timed(t0, frames(), count_tokens)


def _summary(runs: list[dict]) -> tuple[float, float, float]:
    ttfts = sorted(r["ttft"] for r in runs)
    return (statistics.median(ttfts) * 1000, ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))] * 1000,
            statistics.median(r["tps"] for r in runs))


def _load(url: str, read, data: list, count_tokens) -> tuple[list[dict], int]:
    from concurrent.futures import ThreadPoolExecutor

    runs, errors = [], 0
    with ThreadPoolExecutor(APP_CLIENTS) as pool:
        for f in [pool.submit(read, url, data, count_tokens) for _ in range(APP_CLIENTS)]:
            try:
                runs.append(f.result(timeout=600))
            except Exception as e:  # any failure counts; the target is zero
                errors += 1
                print(f"client error: {e!r}")
    return runs, errors


def bench_app(args) -> list[Row]:
    """Raw generate vs the floor app vs ours, one client then APP_CLIENTS at once, read two ways."""
    import torch

    from storyteller import studio
    from storyteller.engines.base import Prompt
    from storyteller.engines.local_hf import LocalHFEngine, set_threads

    kind, path = _model_dir(args)
    length = max(studio.LENGTH_MIN, round((args.tokens - 64) / studio.TOKENS_PER_UNIT["zh"]))
    req = studio.build_request(*QUESTION, length)
    prompt = Prompt.for_story(req, max_new_tokens=studio.max_tokens_for(req))
    engine = LocalHFEngine(path.name, source=str(path))
    loaded = engine.load()
    set_threads(loaded)
    text, _ = engine.build_input(loaded, prompt)
    kwargs = engine.generate_kwargs(loaded, prompt, text)
    for k in ("logits_processor", "do_sample", "temperature", "top_p", "top_k"):
        kwargs.pop(k, None)

    from storyteller.model.format import SlotFiller

    def count_tokens(story: str) -> int:
        return len(loaded.tokenizer(story, add_special_tokens=False)["input_ids"])

    def raw_once() -> tuple[float, float]:
        """Counted like the apps: tokens of the story as shown (slots filled), over the same span."""
        stamps: list[float] = []

        class Stamp:
            def put(self, value):
                stamps.append(time.perf_counter())

            def end(self):
                pass

        t0 = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(**kwargs, do_sample=True, temperature=0.8, top_p=0.95, streamer=Stamp())
        filler = SlotFiller(req)
        story = filler.feed(loaded.tokenizer.decode(out[0, kwargs["input_ids"].shape[1]:], skip_special_tokens=True))
        n = count_tokens(story + filler.flush())
        return stamps[1] - t0, (n - 1) / (stamps[-1] - stamps[1])  # stamps[0] is the prompt

    raw_once()
    raw_ttft, raw_tps = (statistics.median(x) for x in zip(*(raw_once() for _ in range(args.runs))))
    raw_ttft *= 1000

    results = {}  # (app, reader) -> (one client runs, many client runs, errors)
    readers = {"sse": _via_sse, "gradio_client": _via_gradio_client}
    for app in ("floor", "ours"):
        data = [length] if app == "floor" else [*QUESTION, length, path.name, 0.8]
        with tempfile.TemporaryDirectory() as var:
            proc, url = _serve(path, Path(var), floor=app == "floor")
            try:
                time.sleep(3)  # let the app's own warm-up finish
                for name, read in readers.items():
                    read(url, data, count_tokens)
                    one = [read(url, data, count_tokens) for _ in range(args.runs)]
                    results[app, name] = (one, *_load(url, read, data, count_tokens))
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    print(f"app: {path.name} ({kind}); stories of ~{prompt.params.max_new_tokens} tokens; raw generate: "
          f"first token {raw_ttft:.1f} ms, {raw_tps:.1f} tok/s")
    print(f"{'app, reader':<24}{'1st text p50':>13}{'tok/s':>8}   {APP_CLIENTS} clients: {'p50':>7}{'p95':>8}"
          f"{'tok/s each':>11}{'errors':>7}")
    for (app, name), (one, many, errors) in results.items():
        t50, _, tps = _summary(one)
        m50, m95, mtps = _summary(many) if many else (float("nan"),) * 3
        print(f"{app + ', ' + name:<24}{t50:>10.1f} ms{tps:>8.1f}   {'':>11}{m50:>7.0f}{m95:>8.0f}{mtps:>11.1f}"
              f"{errors:>7}")
    rows = []
    for name in readers:
        (one, many, errors), (f_one, f_many, _) = results["ours", name], results["floor", name]
        (t50, _, tps), (f50, _, ftps) = _summary(one), _summary(f_one)
        _, m95, _ = _summary(many) if many else (0, float("nan"), 0)
        _, f95, _ = _summary(f_many) if f_many else (0, float("nan"), 0)
        rows += [
            Row(f"{name}: tok/s", raw_tps, tps, "tok/s", ">= 0.95 x raw", tps >= 0.95 * raw_tps),
            Row(f"{name}: 1st text", raw_ttft, t50, "ms", "overhead <= 50 ms", t50 - raw_ttft <= 50),
            Row(f"{name}: 1st vs floor", f50, t50, "ms", "ours - floor <= 50 ms", t50 - f50 <= 50),
            Row(f"{name}: tok/s vs floor", ftps, tps, "tok/s", ">= 0.95 x floor", tps >= 0.95 * ftps),
            Row(f"{name}: {APP_CLIENTS}x p95 vs floor", f95, m95, "ms", "printed", True),
            Row(f"{name}: {APP_CLIENTS}x errors", 0, errors, "", "0 errors", errors == 0),
        ]
    return rows


PARTS.append(bench_app)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--model", help="a model folder (default: models/storyteller-tiny, else a tiny random one)")
    ap.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_floor:
        _serve_floor(args.serve_floor, Path(args.model))
        return 0
    rows = [row for part in PARTS for row in part(args)]
    print(f"\n{'what':<24}{'raw / baseline':>16}{'storyteller':>14}{'ratio':>8}  target")
    for r in rows:
        ratio = r.ours / r.baseline if r.baseline else float("nan")
        print(f"{r.what:<24}{r.baseline:>12.1f} {r.unit:<3}{r.ours:>10.1f} {r.unit:<3}{ratio:>8.2f}  "
              f"{r.target} {'OK' if r.ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The running-app part of benchmarks/streaming.py, which imports it (run that script):

    python benchmarks/streaming.py --part app [--runs 5] [--tokens 300]

The model is served by `storyteller ui`, and next to it by the framework floor: a minimal Gradio app
(one button, one Markdown) streaming the same engine, so what the story tab adds on top of Gradio
itself is visible. Both are read two ways:

- like a browser tab (`Tab`): the page is open, so its HTTP connection and its Gradio session exist
  when Tell is pressed; join the queue, then read one event stream (SSE), no polling. A session's
  first event pays for Gradio's per-session setup, which grows with the number of components
  (~13 ms for the whole studio, <1 ms for the floor); in a browser the training tab's timer pays it
  2 s after the page loads. That first story is shown apart ("new tab"); it is also the first story
  the app tells after starting (it has warmed its model up by then).
- with gradio_client (`Program`), one Client reused as its docs show. Each call opens two new
  httpx clients (the join, the event stream), each loading CA certificates even for http://, and
  its reader polls for messages every 50 ms: the client's own cost, printed as the difference from
  a browser tab on the same app.

Then APP_CLIENTS new visitors press Tell at once (new tabs, or new Clients), on each app.
"First text" is the first frame with story text in it, never the "thinking…" frame. The app has no
seed, so stories differ run to run; tokens/s counts the story as shown, for raw generate too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from streaming import ROOT, Row, model_dir

APP_CLIENTS = 8  # visitors pressing Tell at once in the load part
QUESTION = ("唐", "隐形", "轻松", "zh")
BENCHMARKS = Path(__file__).resolve().parent


def floor_blocks(model_id: str):
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


def serve_floor(port: int, model: Path) -> None:
    from storyteller import studio

    studio.warm_up(model.name)
    floor_blocks(model.name).launch(server_name="127.0.0.1", server_port=port, quiet=True)


def serve(model: Path, data_dir: Path, floor: bool) -> tuple[subprocess.Popen, str]:
    """`storyteller ui` (or the floor app) in its own process on a free loopback port."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYTELLER_", "OPENAI_"))}
    env |= {"STORYTELLER_LOCAL__MODELS_DIR": str(model.parent), "STORYTELLER_LOCAL__DEFAULT_MODEL": model.name,
            "STORYTELLER_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost", "STORYTELLER_LOCAL__WORLD_OPENING": "false"}  # see streaming.py
    if floor:
        code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(BENCHMARKS)!r}]; import streaming_app; "
                f"streaming_app.serve_floor({port}, streaming_app.Path({str(model)!r}))")
        cmd = [sys.executable, "-c", code]
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


def timed(t0: float, stories: Iterable[tuple[float, str]], count_tokens: Callable[[str], int]) -> dict:
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
    return {"ttft": first - t0, "tps": (n - 1) / (last - first) if last > first else float("nan"), "tokens": n}


class Tab:
    """A browser tab with the app open: its connection and session outlive a story."""

    def __init__(self, url: str, data: list):
        import httpx

        self.url, self.http, self.session = url, httpx.Client(timeout=600), uuid.uuid4().hex
        config = self.http.get(url + "/config").json()
        dep = next(d for d in config["dependencies"] if d.get("api_name") == "tell")
        defaults = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
        self.fn = dep["id"]
        self.data = data + [defaults[i] for i in dep["inputs"][len(data):]]  # the rest as on screen (read aloud off)

    def tell(self, count_tokens) -> dict:
        def frames():
            story = ""
            self.http.post(self.url + "/gradio_api/queue/join",
                           json={"data": self.data, "fn_index": self.fn, "session_hash": self.session},
                           ).raise_for_status()
            with self.http.stream("GET", self.url + "/gradio_api/queue/data",
                                  params={"session_hash": self.session}) as r:
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

        return timed(time.perf_counter(), frames(), count_tokens)

    def close(self) -> None:
        self.http.close()


class Program:
    """A program using gradio_client: one Client, one call per story."""

    def __init__(self, url: str, data: list):
        from gradio_client import Client

        self.client, self.data = Client(url, verbose=False), data

    def tell(self, count_tokens) -> dict:
        t0 = time.perf_counter()
        job = self.client.submit(*self.data, api_name="/tell")
        return timed(t0, ((time.perf_counter(), out[0] if isinstance(out, tuple) else out) for out in job),
                     count_tokens)

    def close(self) -> None:
        self.client.close()


def at_once(url: str, reader, data: list, count_tokens) -> tuple[list[dict], int]:
    """APP_CLIENTS new visitors: each opens its tab (or Client), then all press Tell together."""
    ready = threading.Barrier(APP_CLIENTS)

    def visit():
        try:
            visitor = reader(url, data)
        finally:
            ready.wait()
        try:
            return visitor.tell(count_tokens)
        finally:
            visitor.close()

    runs, errors = [], 0
    with ThreadPoolExecutor(APP_CLIENTS) as pool:
        for f in [pool.submit(visit) for _ in range(APP_CLIENTS)]:
            try:
                runs.append(f.result(timeout=600))
            except Exception as e:  # any failure counts; the target is zero
                errors += 1
                print(f"client error: {e!r}")
    return runs, errors


def summary(runs: list[dict]) -> tuple[float, float, float]:
    """(p50, p95 first text in ms, p50 tokens/s)."""
    if not runs:
        return (float("nan"),) * 3
    ttfts = sorted(r["ttft"] for r in runs)
    return (statistics.median(ttfts) * 1000, ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))] * 1000,
            statistics.median(r["tps"] for r in runs))


def httpx_setup_ms() -> float:
    """What a new httpx client costs here (it loads CA certificates); gradio_client opens two per call."""
    import httpx

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        httpx.Client().close()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def raw_generate(args, path: Path, req, prompt) -> tuple[float, float, Callable[[str], int]]:
    """Raw `model.generate` on the app's question: (first token ms, tokens/s, story token counter),
    tokens counted like the apps: the story as shown (slots filled), over the same span."""
    import torch

    from storyteller.engines.local_hf import LocalHFEngine, set_threads
    from storyteller.story_format import SlotFiller

    engine = LocalHFEngine(path.name, source=str(path))
    loaded = engine.load()
    set_threads(loaded)
    text, _ = engine.build_input(loaded, prompt)
    kwargs = engine.generate_kwargs(loaded, prompt, text)
    for k in ("logits_processor", "do_sample", "temperature", "top_p", "top_k"):
        kwargs.pop(k, None)

    def count_tokens(story: str) -> int:
        return len(loaded.tokenizer(story, add_special_tokens=False)["input_ids"])

    def once() -> tuple[float, float]:
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

    once()
    ttft, tps = (statistics.median(x) for x in zip(*(once() for _ in range(args.runs))))
    return ttft * 1000, tps, count_tokens


def bench_app(args) -> list[Row]:
    """Raw generate vs the floor app vs ours: a tab's first story, later stories, APP_CLIENTS at once."""
    from storyteller import studio
    from storyteller.engines.base import Prompt

    kind, path = model_dir(args)
    length = max(studio.LENGTH_MIN, round((args.tokens - 64) / studio.TOKENS_PER_UNIT["zh"]))
    req = studio.build_request(*QUESTION, length)
    prompt = Prompt.for_story(req, max_new_tokens=studio.max_tokens_for(req))
    raw_ttft, raw_tps, count_tokens = raw_generate(args, path, req, prompt)

    results = {}  # (app, reader) -> (new tab run, later runs, at-once runs, errors)
    readers = {"sse": Tab, "gradio_client": Program}
    for app in ("floor", "ours"):
        data = [length] if app == "floor" else [*QUESTION, length, path.name, 0.8]
        with tempfile.TemporaryDirectory() as var:
            proc, url = serve(path, Path(var), floor=app == "floor")
            try:  # both apps answer once their model is warm
                for name, reader in readers.items():
                    visitor = reader(url, data)
                    new = visitor.tell(count_tokens)
                    later = [visitor.tell(count_tokens) for _ in range(args.runs)]
                    visitor.close()
                    results[app, name] = (new, later, *at_once(url, reader, data, count_tokens))
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    print(f"app: {path.name} ({kind}); stories of ~{prompt.params.max_new_tokens} tokens; raw generate: "
          f"first token {raw_ttft:.1f} ms, {raw_tps:.1f} tok/s")
    print(f"{'app, reader':<22}{'new tab':>9}{'1st text p50':>14}{'tok/s':>8}   {APP_CLIENTS} at once: "
          f"{'p50':>6}{'p95':>7}{'tok/s each':>11}{'errors':>7}")
    for (app, name), (new, later, many, errors) in results.items():
        t50, _, tps = summary(later)
        m50, m95, mtps = summary(many)
        print(f"{app + ', ' + name:<22}{new['ttft'] * 1000:>6.1f} ms{t50:>11.1f} ms{tps:>8.1f}   {'':>11}"
              f"{m50:>6.0f}{m95:>7.0f}{mtps:>11.1f}{errors:>7}")
    own = {app: summary(results[app, "gradio_client"][1])[0] - summary(results[app, "sse"][1])[0]
           for app in ("floor", "ours")}
    print(f"gradio_client's own cost (its 1st text minus a tab's, same app): floor {own['floor']:+.1f} ms, "
          f"ours {own['ours']:+.1f} ms; a new httpx client costs {httpx_setup_ms():.1f} ms here and it opens "
          f"two per call; its reader polls every 50 ms")
    rows = []
    for name in readers:
        (_, one, many, errors), (_, f_one, f_many, _) = results["ours", name], results["floor", name]
        (t50, _, tps), (f50, _, ftps) = summary(one), summary(f_one)
        (_, m95, _), (_, f95, _) = summary(many), summary(f_many)
        rows += [
            Row(f"{name}: tok/s", raw_tps, tps, "tok/s", ">= 0.95 x raw", tps >= 0.95 * raw_tps),
            Row(f"{name}: 1st text", raw_ttft, t50, "ms", "overhead <= 50 ms", t50 - raw_ttft <= 50),
            Row(f"{name}: 1st vs floor", f50, t50, "ms", "ours - floor <= 50 ms", t50 - f50 <= 50),
            Row(f"{name}: tok/s vs floor", ftps, tps, "tok/s", ">= 0.95 x floor", tps >= 0.95 * ftps),
            Row(f"{name}: {APP_CLIENTS}x p95 vs floor", f95, m95, "ms", "printed", True),
            Row(f"{name}: {APP_CLIENTS}x errors", 0, errors, "", "0 errors", errors == 0),
        ]
    return rows


if __name__ == "__main__":  # `make bench` runs every file here; this part runs inside streaming.py
    print("the app part of benchmarks/streaming.py: python benchmarks/streaming.py --part app")

"""Streaming overhead: raw `model.generate` vs the same model through the local engine and the app.

    python benchmarks/streaming.py [--tokens 300] [--runs 5] [--model models/storyteller-tiny] [--part app]

Same model (models/storyteller-tiny if present, else a ~4M-parameter GPT-2 built from a config with
random weights), same prompt, same seed, same thread count. Prints tokens/s and time to first token
side by side. Targets: delivered tokens/s >= 0.95 x raw; first-token overhead <= 50 ms.

Each part is a function `bench_*(args) -> list[Row]` in PARTS: the engine here, the running app
(read like a browser tab and with gradio_client, next to a minimal Gradio app, then many visitors at
once) in streaming_app.py.
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
# A new story's first paragraph comes from the story world before the model's first token: it would hide
# the overhead measured here, so the model writes the whole story (the app's and the engine's alike).
os.environ.setdefault("STORYTELLER_LOCAL__WORLD_OPENING", "false")
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


def model_dir(args) -> tuple[str, Path]:
    if args.model:
        return "given", Path(args.model)
    if (DEFAULT_MODEL_DIR / "config.json").exists():
        return "shipped", DEFAULT_MODEL_DIR
    from tests.fakes.tiny_model import build_tiny_model

    from transformers import AutoTokenizer, GenerationConfig

    from storyteller.story_format import END

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

    kind, path = model_dir(args)
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


PARTS = {"engine": bench_engine}  # the app part is added by main() from streaming_app.py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--model", help="a model folder (default: models/storyteller-tiny, else a tiny random one)")
    ap.add_argument("--part", choices=["engine", "app"], action="append", help="run only these parts (default: all)")
    args = ap.parse_args(argv)
    sys.modules.setdefault("streaming", sys.modules[__name__])  # streaming_app imports Row from here, run as a script
    from streaming_app import bench_app

    parts = PARTS | {"app": bench_app}
    rows = [row for name, part in parts.items() if not args.part or name in args.part for row in part(args)]
    print(f"\n{'what':<24}{'raw / baseline':>16}{'storyteller':>14}{'ratio':>8}  target")
    for r in rows:
        ratio = r.ours / r.baseline if r.baseline else float("nan")
        print(f"{r.what:<24}{r.baseline:>12.1f} {r.unit:<3}{r.ours:>10.1f} {r.unit:<3}{ratio:>8.2f}  "
              f"{r.target} {'OK' if r.ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

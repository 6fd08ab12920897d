"""Read-aloud as a family hears it: python benchmarks/read_aloud.py [--listen 20] [--runs 2]

Serves the app (`storyteller ui`, shipped model) and drives it in Chromium, the audio playing
for real (headless, no speakers: the media clock still runs). Each run presses Tell twice on a
fresh page, read-aloud off and then on, and records in the page, every 20 ms, the story's length
and the player's clock. From those:

- first audio: Tell pressed -> the player's clock first moves (target <= 1.5 s);
- gaps: after the voice starts, each stretch where the player is not paused yet its clock stands
  still, i.e. waiting for audio that is not there yet (target: every one <= 300 ms). The silence
  espeak-ng puts inside a clip is part of the voice, not a gap;
- text never waits for speech: text done (Tell -> last word) and the longest pause between two
  text updates, read-aloud off and on side by side (target ratio on/off <= 1.1 for the text);
- Stop silences: Stop pressed -> the clock's last move (target <= 200 ms); then no audio segment
  is fetched any more, and the kept WAV is offered for download.

Figures are measured on this machine, not guaranteed; a busy CPU makes every one of them worse.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyteller.paths import DEFAULT_MODEL_DIR  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
TARGETS = {"first_audio": 1.5, "gap": 0.3, "stop": 0.2, "text_ratio": 1.1}

# In the page: a sample every 20 ms of (time, story length, player clock, paused), and each audio
# segment the player fetches.
PROBE = """
window.__probe = {samples: [], segments: [], clicks: {}};
setInterval(() => {
  const ta = document.querySelector('#story-text textarea');
  const a = document.querySelector('#story-audio audio');
  window.__probe.samples.push([performance.now(), ta ? ta.value.length : 0,
                               a ? a.currentTime : -1, a ? a.paused : true,
                               ta ? /[。！？.!?]/.test(ta.value) : false]);
}, 20);
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if (/\\/stream\\/.*\\.(aac|ts)/.test(e.name)) window.__probe.segments.push(e.startTime);
}).observe({type: 'resource', buffered: true});
"""


def serve(model: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    """`storyteller ui` in its own process on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYTELLER_", "OPENAI_"))}
    env |= {"STORYTELLER_LOCAL__MODELS_DIR": str(model.parent), "STORYTELLER_LOCAL__DEFAULT_MODEL": model.name,
            "STORYTELLER_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost"}
    cmd = [sys.executable, "-c", "from storyteller.cli import main; main()", "ui", "--host", "127.0.0.1",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/", timeout=2).close()
            time.sleep(3)  # the speech worker warms up beside the model
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the app did not start; run `storyteller ui` by hand to see why")


def press(page, button: str) -> float:
    """Click in the page and return the page-clock time of the click."""
    return page.evaluate(f"() => {{ const t = performance.now(); document.querySelector('#{button}').click(); "
                         f"return t; }}")


def text_timing(samples: list, t0: float) -> dict:
    """Tell -> first words, Tell -> last words, longest wait between two text updates."""
    grew = [s[0] for s, before in zip(samples[1:], samples) if s[0] > t0 and s[1] > before[1]]
    if not grew:
        raise RuntimeError("no story text arrived")
    pauses = [b - a for a, b in zip(grew, grew[1:])]
    return {"first_text": (grew[0] - t0) / 1000, "text_done": (grew[-1] - t0) / 1000,
            "longest_text_pause": max(pauses, default=0) / 1000}


def audio_timing(samples: list, t0: float, stop_at: float | None) -> dict:
    """First audio after Tell, the stalls after it (each: clock still while not paused), and the
    time from Stop to the clock's last move."""
    after = [s for s in samples if s[0] > t0 and s[2] >= 0]
    moving = [(t, s[2]) for s, before in zip(after[1:], after) if s[2] > before[2] for t in [s[0]]]
    if not moving:
        raise RuntimeError("no audio was heard")
    first = moving[0][0]
    end = stop_at if stop_at is not None else after[-1][0]
    gaps, still_since, prev = [], None, after[0]
    for t, _, clock, paused, _ in after:
        if first < t < end:
            if clock > prev[2] or paused:
                if still_since is not None and not paused:
                    gaps.append(t - still_since)
                still_since = None
            elif still_since is None:
                still_since = prev[0]
        prev = (t, None, clock, paused, None)
    silent = None
    if stop_at is not None:
        last_move = max((t for t, _ in moving if t <= stop_at + 5000), default=stop_at)
        silent = max(0.0, last_move - stop_at) / 1000
    # a sample interval of clock standing still is normal (20 ms polls, ~25 ms clock updates)
    gaps = [g / 1000 for g in gaps if g > 60]
    sentence = next((s[0] for s in samples if s[0] > t0 and s[4]), first)
    player = next((s[0] for s in after), first)
    return {"first_audio": (first - t0) / 1000, "gaps": gaps, "stop_silent": silent,
            "heard_s": moving[-1][1], "first_sentence": (sentence - t0) / 1000, "player_shown": (player - t0) / 1000}


def greedy(page) -> None:
    """Imagination 0: the model picks its likeliest word each time, so both sides tell the same story."""
    page.get_by_text("更多选择", exact=True).click()  # the accordion the setting sits in
    box = page.locator("#temperature input[type=number]")
    box.fill("0")
    box.press("Enter")


def run_once(browser, url: str, listen_s: float) -> dict:
    out = {}
    for read in (False, True):
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.add_init_script(PROBE)
        page.goto(url)
        page.wait_for_selector("#tell")
        page.wait_for_timeout(1500)
        greedy(page)
        if read:
            page.click("#read-aloud input")
        t0 = press(page, "tell")
        stop_at = None
        if read:
            page.wait_for_function("() => { const a = document.querySelector('#story-audio audio'); "
                                   "return a && a.currentTime > 0; }", timeout=30_000)
            page.wait_for_timeout(listen_s * 1000)
            stop_at = press(page, "stop")
            page.wait_for_timeout(2500)
        else:
            page.wait_for_function("() => /讲完|已停止|问题/.test(document.querySelector('#story-stats').innerText)",
                                   timeout=60_000)
            page.wait_for_timeout(500)
        probe = page.evaluate("() => window.__probe")
        timing = text_timing(probe["samples"], t0)
        if read:
            timing |= audio_timing(probe["samples"], t0, stop_at)
            timing["segments_after_stop"] = sum(1 for t in probe["segments"] if t > stop_at + 300)
            link = page.locator("#story-audio-file a[download]")
            link.first.wait_for(timeout=10_000)
            href = link.first.get_attribute("href")
            timing["kept_wav"] = page.request.get(href if href.startswith("http") else url + href).body()[:4] == b"RIFF"
        out["on" if read else "off"] = timing
        page.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=float, default=20.0, help="seconds of voice before Stop is pressed")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as var:
        proc, url = serve(args.model, Path(var))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                runs = [run_once(browser, url, args.listen) for _ in range(args.runs)]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    report(runs)


def report(runs: list[dict]) -> None:
    def med(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in runs)

    gaps = [g for r in runs for g in r["on"]["gaps"]]
    first, stop = max(r["on"]["first_audio"] for r in runs), max(r["on"]["stop_silent"] for r in runs)
    worst_gap = max(gaps, default=0.0)
    print(f"{len(runs)} run(s); medians unless marked worst")
    print(f"{'measure':38} {'read-aloud off':>15} {'read-aloud on':>14} {'target':>8} {'ratio':>6}")
    for key, label in (("first_text", "Tell -> first words (s)"), ("text_done", "Tell -> last words (s)"),
                       ("longest_text_pause", "longest wait between text updates (s)")):
        off, on = med("off", key), med("on", key)
        ratio = on / off if off else float("nan")
        print(f"{label:38} {off:15.2f} {on:14.2f} {'on/off':>8} {ratio:6.2f}")
    print(f"{'Tell -> first audio, worst (s)':38} {'':15} {first:14.2f} {TARGETS['first_audio']:8.2f} "
          f"{first / TARGETS['first_audio']:6.2f}")
    print(f"{'gap between sentences, worst (s)':38} {'':15} {worst_gap:14.2f} {TARGETS['gap']:8.2f} "
          f"{worst_gap / TARGETS['gap']:6.2f}")
    print(f"{'  gaps over 60 ms (count, all runs)':38} {'':15} {len(gaps):14d}")
    print(f"{'Stop -> silence, worst (s)':38} {'':15} {stop:14.2f} {TARGETS['stop']:8.2f} "
          f"{stop / TARGETS['stop']:6.2f}")
    print(f"{'audio segments fetched after Stop':38} {'':15} {sum(r['on']['segments_after_stop'] for r in runs):14d}")
    print(f"{'kept WAV downloadable after Stop':38} {'':15} {str(all(r['on']['kept_wav'] for r in runs)):>14}")
    print(f"{'voice heard before Stop (s)':38} {'':15} {med('on', 'heard_s'):14.1f}")
    print(f"where first audio goes: first sentence on screen {med('on', 'first_sentence'):.2f} s, "
          f"player shown {med('on', 'player_shown'):.2f} s, voice {med('on', 'first_audio'):.2f} s")


if __name__ == "__main__":
    main()

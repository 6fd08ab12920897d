"""The story tab in Chromium at 1280x800 and on a 390x844 phone: the story is on screen while it
streams, no words overlap, a press is answered at once, Tell during a story and Regenerate tell
what is on screen now, and read-aloud flows (text keeps coming while audio is made; after Stop no
audio arrives and the heard part is a WAV to download). Timings are printed by
benchmarks/read_aloud.py, never asserted here. Screenshots land in the test's tmp folder."""

from __future__ import annotations

import shutil
import sqlite3
import time
from types import SimpleNamespace

import pytest

from tests.ui.test_browser import ARGS, CHROMIUM, choose, story_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# Every visible label, button, tab and dropdown text; pairs that do not nest must not overlap.
OVERLAPS = """() => {
  const sel = '[role=tab], .story-tab button, .story-tab [data-testid=block-info], .story-tab .label-text,'
            + '.story-tab input[role=combobox], .story-tab input[type=number]';
  const els = [...document.querySelectorAll(sel)].filter((e) => e.getClientRects().length
            && e.getBoundingClientRect().width > 0 && getComputedStyle(e).visibility !== 'hidden');
  const name = (e) => (e.id || e.className || e.tagName) + ':' + (e.innerText || e.value || '').slice(0, 12);
  const out = [];
  for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
    const a = els[i], b = els[j];
    if (a.contains(b) || b.contains(a)) continue;
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (w > 1 && h > 1) out.push(name(a) + ' / ' + name(b));
  }
  // a dropdown's words end before its arrow
  for (const input of document.querySelectorAll('.story-tab input[role=combobox]')) {
    const icon = input.parentElement.querySelector('.icon-wrap');
    if (!icon || !input.getClientRects().length) continue;
    const c = document.createElement('canvas').getContext('2d'), st = getComputedStyle(input);
    c.font = st.font;
    const textEnd = input.getBoundingClientRect().left + parseFloat(st.paddingLeft) + c.measureText(input.value).width;
    if (textEnd > icon.getBoundingClientRect().left + 1 && input.scrollWidth <= input.clientWidth)
      out.push('arrow over ' + input.value);
  }
  return out;
}"""
IN_VIEW = """() => {
  const r = document.querySelector('#story-text').getBoundingClientRect();
  const b = document.querySelector('#story-buttons').getBoundingClientRect();
  return [r.top, r.bottom, b.top, window.innerHeight];
}"""


@pytest.fixture(scope="module")
def long_app(tmp_path_factory):
    """The app with a model that writes long (random weights, no ending): a story streams for seconds."""
    from tests.ui.conftest import app_env, build_random_model, serve_app

    models_dir, var = tmp_path_factory.mktemp("flow-models"), tmp_path_factory.mktemp("flow-var")
    build_random_model(models_dir / "long-writer", n_embd=512, n_layer=8, n_head=8)
    with serve_app(app_env(models_dir, "long-writer", var), var) as url:
        yield SimpleNamespace(url=url, db=var / "storyteller.db")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=ARGS + ["--autoplay-policy=no-user-gesture-required", "--mute-audio"])
        yield browser
        browser.close()


def open_page(browser, url: str, size: str = "desktop"):
    page = browser.new_page(viewport=SIZES[size], locale="zh-CN", is_mobile=size == "phone",
                            has_touch=size == "phone")
    page.goto(url)
    page.wait_for_selector("#tell")
    page.wait_for_timeout(500)
    return page


def long_story(page) -> None:
    length = page.locator("#length input[type=number]")
    length.fill("800")
    length.press("Enter")


def stories(db) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT json_extract(request, '$.dynasty'), json_extract(request, '$.power'), status "
                           "FROM stories ORDER BY id").fetchall()
    return [tuple(r) for r in rows]


def wait_stopped(page) -> None:
    page.wait_for_function("() => /已停止|讲完啦/.test(document.querySelector('#story-stats').innerText)",
                           timeout=30_000)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_story_is_in_view_while_it_streams_and_no_words_overlap(browser, long_app, size, tmp_path):
    page = open_page(browser, long_app.url, size)
    page.screenshot(path=str(tmp_path / f"{size}-before.png"), full_page=True)
    assert page.evaluate(OVERLAPS) == []
    assert page.locator("#read-aloud .label-text").is_visible()  # 朗读故事 keeps its words
    assert not page.locator("#story-audio").is_visible() and not page.locator("#story-audio-file").is_visible()
    long_story(page)
    page.evaluate("""() => { window.__pending = []; new MutationObserver(() => window.__pending.push(
        document.querySelector('#story-stats').dataset.pending)).observe(document.querySelector('#story-stats'),
        {attributes: true, attributeFilter: ['data-pending']}); }""")
    page.locator("#tell").click()
    page.wait_for_function("() => window.__pending.length > 0", timeout=5_000)  # answered in the browser
    assert page.evaluate("() => window.__pending[0]") == "正在想故事……"
    samples, deadline = [], time.monotonic() + 40
    while len(samples) < 8 and time.monotonic() < deadline:
        if len(story_text(page)) > 10 * (len(samples) + 1):
            samples.append((len(story_text(page)), page.evaluate(IN_VIEW)))
        page.wait_for_timeout(100)
    page.screenshot(path=str(tmp_path / f"{size}-streaming.png"))
    page.click("#stop")
    wait_stopped(page)
    assert len(samples) >= 4, "the story did not stream"
    for length, (top, bottom, buttons_top, height) in samples:
        assert 0 <= top and bottom <= height + 1, f"story box {top:.0f}-{bottom:.0f} outside 0-{height} at {length} chars"
        assert 0 <= buttons_top < height, "Stop is out of reach while the story streams"
    assert page.evaluate(OVERLAPS) == []
    page.screenshot(path=str(tmp_path / f"{size}-stopped.png"), full_page=True)
    page.close()


def test_tell_during_a_story_and_regenerate_tell_what_is_on_screen(browser, long_app):
    page = open_page(browser, long_app.url)
    before = len(stories(long_app.db))
    long_story(page)
    choose(page, "dynasty", "唐")
    choose(page, "power", "隐形")
    page.click("#tell")
    page.wait_for_function("() => document.querySelector('#story-text textarea').value.length > 30", timeout=30_000)
    choose(page, "dynasty", "宋")
    page.click("#tell")  # during the story: it stops, and the 宋 story starts
    deadline = time.monotonic() + 20
    while len(stories(long_app.db)) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    page.wait_for_function("() => document.querySelector('#story-text textarea').value.length > 10", timeout=30_000)
    choose(page, "power", "飞行")
    page.click("#regenerate")  # tells 宋/飞行, what is on screen now
    page.wait_for_timeout(1500)
    page.click("#stop")
    wait_stopped(page)
    deadline = time.monotonic() + 20
    while len(stories(long_app.db)) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    told = stories(long_app.db)[before:]
    assert told == [("唐", "隐形", "stopped"), ("宋", "隐形", "stopped"), ("宋", "飞行", "stopped")]
    page.close()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_read_aloud_flows_and_stop_silences_it(browser, long_app, tmp_path):
    page = open_page(browser, long_app.url)
    page.evaluate("""() => { window.__segments = 0; new PerformanceObserver((l) => { for (const e of l.getEntries())
        if (/\\/stream\\/.*\\.aac/.test(e.name)) window.__segments++; }).observe({type: 'resource'}); }""")
    long_story(page)
    page.click("#read-aloud input")
    page.click("#tell")
    page.wait_for_function("() => { const a = document.querySelector('#story-audio audio'); "
                           "return a && a.currentTime > 0; }", timeout=60_000)
    heard_at = len(story_text(page))
    page.wait_for_function(f"() => document.querySelector('#story-text textarea').value.length > {heard_at + 20}",
                           timeout=30_000)  # the text keeps streaming while audio is made and played
    page.screenshot(path=str(tmp_path / "reading.png"), full_page=True)
    page.click("#stop")
    page.wait_for_function("() => /已停止|讲完啦/.test(document.querySelector('#story-stats').innerText)",
                           timeout=30_000)
    link = page.locator("#story-audio-file a[download]").first
    link.wait_for(timeout=10_000)  # the story's last frame: it silences the player and offers what was heard
    # A segment made just before Stop may still be fetched while Stop travels; once the last frame is
    # here, nothing more may come and nothing may play.
    playing = "() => [...document.querySelectorAll('#story-audio audio')].filter(a => !a.paused).length"
    assert page.evaluate(playing) == 0, "the voice goes on after Stop"
    segments = page.evaluate("() => window.__segments")
    page.wait_for_timeout(2000)
    assert page.evaluate(playing) == 0, "the voice came back after Stop"
    assert page.evaluate("() => window.__segments") == segments, "audio arrived after Stop"
    href = link.get_attribute("href")
    wav = page.request.get(href if href.startswith("http") else long_app.url + href).body()
    assert wav[:4] == b"RIFF" and len(wav) > 44 + 22050  # more than half a second of the voice
    page.screenshot(path=str(tmp_path / "stopped-reading.png"), full_page=True)
    page.click("#read-aloud input")
    page.click("#tell")  # a new story clears the old audio
    page.wait_for_function("() => !document.querySelector('#story-audio-file a[download]')", timeout=15_000)
    page.click("#stop")
    page.close()

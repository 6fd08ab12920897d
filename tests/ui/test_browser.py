"""The story tab in a real browser (Debian's Chromium via Playwright) against the running app:
pick 唐/隐形/轻松, Tell, watch the story grow, Stop cuts it, and the text stays (and is saved)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from storyteller.studio import build_request, max_tokens_for

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def long_app(tmp_path_factory):
    """The app telling with a model that writes long: random weights never write an ending, and at
    27M parameters the longest story (1000 字, ~1,400 tokens) takes seconds, so Stop always cuts it."""
    from tests.ui.conftest import app_env, build_random_model, serve_app

    models_dir, var = tmp_path_factory.mktemp("long-models"), tmp_path_factory.mktemp("long-var")
    build_random_model(models_dir / "long-writer", n_embd=512, n_layer=8, n_head=8)
    with serve_app(app_env(models_dir, "long-writer", var), var) as url:
        yield SimpleNamespace(url=url, db=var / "storyteller.db", model="long-writer")


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page.goto(url)
    page.wait_for_selector("#tell")
    return page


@pytest.fixture
def page(browser, app):
    page = open_page(browser, app.url)
    yield page
    page.close()


@pytest.fixture
def long_page(browser, long_app):
    page = open_page(browser, long_app.url)
    yield page
    page.close()


def choose(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=value, exact=True).click()
    assert page.locator(f"#{elem_id} input").input_value() == value


def story_text(page) -> str:
    """The story box's text (a read-only text box: the model's output is never rendered)."""
    return page.locator("#story-text textarea").input_value().strip()


def test_tell_streams_and_stop_cuts_the_story_and_keeps_the_text(long_page, long_app):
    page, app = long_page, long_app
    choose(page, "dynasty", "唐")
    choose(page, "power", "隐形")
    choose(page, "style", "轻松")
    length = page.locator("#length input[type=number]")
    length.fill("1000")
    length.press("Enter")
    placeholder = story_text(page)  # empty: the hint is the box's placeholder
    page.click("#tell")

    seen: list[str] = []
    deadline = time.monotonic() + 30
    while len(seen) < 12 and time.monotonic() < deadline:
        text = story_text(page)
        if text and text != placeholder and (not seen or text != seen[-1]):
            seen.append(text)
        page.wait_for_timeout(30)
    assert len(seen) >= 10, f"the story grew only {len(seen)} times"
    assert all(len(a) < len(b) for a, b in zip(seen, seen[1:])), "the story should only grow"
    assert seen[-1].startswith(seen[0][:5])

    page.click("#stop")
    page.wait_for_function("() => /已停止|讲完啦/.test(document.querySelector('#story-stats').innerText)",
                           timeout=15_000)
    stats = page.locator("#story-stats").inner_text()
    assert "已停止" in stats, f"the story ended before Stop could cut it: {stats}"
    assert "每秒" not in stats and app.model not in stats, "speed and model are for parents, folded away"
    page.locator("#story-stats summary").click()  # 给爸爸妈妈 / For parents
    parents = page.locator("#story-stats details").inner_text()
    assert "每秒" in parents and "个词元" in parents and app.model in parents
    kept = settled_text(page)
    assert len(kept) >= len(seen[-1]) and kept.startswith(seen[-1][:20])
    page.wait_for_timeout(1000)
    assert story_text(page) == kept, "after Stop the text stays as it is"

    with sqlite3.connect(app.db) as db:
        status, saved = db.execute("SELECT status, text FROM stories ORDER BY id DESC LIMIT 1").fetchone()
    assert status == "stopped"
    assert squash(saved) == squash(kept), "the saved story is the one on screen"
    full = max_tokens_for(build_request("唐", "隐形", "轻松", "zh", 1000))
    assert len(saved) < full, "one character per token: a story cut short has fewer characters than tokens allowed"


def settled_text(page, quiet_ms: int = 300) -> str:
    """The story once no frame already on its way changes it any more."""
    last = None
    for _ in range(20):
        text = story_text(page)
        if text == last:
            return text
        last = text
        page.wait_for_timeout(quiet_ms)
    raise AssertionError("the story kept changing after Stop")


def squash(text: str) -> str:
    """Compare stories as characters: the Markdown view folds whitespace and eats emphasis marks."""
    return "".join(text.split()).replace("*", "").replace("_", "")

def test_language_switch_relabels_and_translates(page):
    page.get_by_label("English").check()
    page.wait_for_function("() => document.querySelector('#dynasty input').value === 'Tang'", timeout=10_000)
    assert "Dynasty" in page.locator("#dynasty").inner_text()
    assert "Superpower" in page.locator("#power").inner_text()
    page.locator("#dynasty input").click()
    assert page.get_by_role("option", name="Song", exact=True).is_visible()

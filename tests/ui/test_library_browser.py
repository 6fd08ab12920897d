"""The story book, "Tell two, pick one" and the preference export in a real browser against the
running app: tell two stories side by side, pick one, rate a story 👍 with a reason in the story
book, export the pairs from the Data tab and read the file back. Then, in public mode, two
browsers (two families) never see each other's stories or ratings. Screenshots go to tmp_path."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest

from tests.ui.conftest import app_env, serve_app
from tests.ui.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def tell_two_and_pick(page, choice_button: str) -> None:
    open_tab(page, "选一个")
    page.click("#pick-tell")
    page.locator("#pick-status").get_by_text("你更喜欢哪一个").wait_for(timeout=180_000)
    assert page.locator("#pick-left textarea").input_value().strip()
    assert page.locator("#pick-right textarea").input_value().strip()
    page.click(choice_button)
    page.locator("#pick-status").get_by_text("记住啦").wait_for(timeout=20_000)


def rate_first_story(page, reason: str) -> str:
    """Open the newest story in the book, tick a reason and press 👍; returns its title line."""
    open_tab(page, "故事书")
    cell = page.locator("#library-table").get_by_role("gridcell").nth(0)
    cell.wait_for(timeout=20_000)
    title = cell.inner_text().strip()
    cell.click()
    page.locator("#library-story").wait_for(timeout=20_000)
    page.locator("#library-reasons").get_by_text(reason, exact=True).click()
    page.click("#library-up")
    page.locator("#library-rated").get_by_text("记住啦").wait_for(timeout=20_000)
    return title


def test_pick_one_of_two_rate_and_export(browser, app, tmp_path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    try:
        page.goto(app.url)
        page.wait_for_selector("#tell")
        tell_two_and_pick(page, "#pick-right-btn")
        page.screenshot(path=str(tmp_path / "pick-one.png"), full_page=True)
        with sqlite3.connect(app.db) as db:
            pairs = db.execute("SELECT left_id, right_id, choice FROM pairs").fetchall()
        assert pairs and pairs[-1][2] == "right"

        title = rate_first_story(page, "最喜欢")
        page.locator("#library-files a").first.wait_for(timeout=20_000)  # text and the printable page
        names = page.locator("#library-files").inner_text()
        assert ".txt" in names and ".html" in names
        href = next(h for h in (a.get_attribute("href") for a in page.locator("#library-files a[href]").all())
                    if ".html" in h)
        printable = page.request.get(href if href.startswith("http") else app.url + href).text()
        assert "<ruby>" in printable and "<rt>" in printable  # pinyin above the hanzi
        page.screenshot(path=str(tmp_path / "story-book.png"), full_page=True)
        assert "👍" in page.locator("#library-table").get_by_role("gridcell").nth(0).inner_text()
        assert title.strip("⭐👍👎 ") in page.locator("#library-heading").inner_text()

        open_tab(page, "数据")
        page.locator("#prefs-format").get_by_text("OpenAI DPO").click()
        page.click("#prefs-export")
        page.locator("#prefs-report").get_by_text("导出了").wait_for(timeout=30_000)
        page.locator("#prefs-box").screenshot(path=str(tmp_path / "export.png"))
        assert "👍 **" not in page.locator("#prefs-counts").inner_text()  # Markdown rendered, not shown raw
        link = page.locator("#prefs-file a[href]").first
        link.wait_for(timeout=10_000)
        body = page.request.get(link.get_attribute("href") if link.get_attribute("href").startswith("http")
                                else app.url + link.get_attribute("href")).text()
        lines = [json.loads(x) for x in body.splitlines()]
        with sqlite3.connect(app.db) as db:
            left, right = db.execute("SELECT left_id, right_id FROM pairs ORDER BY id DESC").fetchone()
            chosen = db.execute("SELECT text FROM stories WHERE id = ?", (right,)).fetchone()[0].strip()
            other = db.execute("SELECT text FROM stories WHERE id = ?", (left,)).fetchone()[0].strip()
        if chosen != other:  # two seeds nearly always differ; identical stories make no pair
            assert any(x["preferred_output"][0]["content"] == chosen and
                       x["non_preferred_output"][0]["content"] == other for x in lines)
        assert all(set(x) == {"input", "preferred_output", "non_preferred_output"} for x in lines)
    finally:
        page.close()


@pytest.fixture(scope="module")
def public_app(story_model, tmp_path_factory):
    """The app in public mode on loopback: each browser is a family of its own."""
    models_dir, model_id = story_model
    var = tmp_path_factory.mktemp("public-var")
    env = app_env(models_dir, model_id, var) | {"STORYTELLER_PUBLIC__ENABLED": "true"}
    with serve_app(env, var) as url:
        yield SimpleNamespace(url=url, db=var / "storyteller.db")


def test_two_families_never_see_each_other_s_stories_or_ratings(browser, public_app, tmp_path):  # noqa: F811
    families = []
    for name in ("a", "b"):
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
        page = context.new_page()
        page.goto(public_app.url)
        page.wait_for_selector("#tell")
        families.append(SimpleNamespace(name=name, context=context, page=page))
    try:
        a, b = families
        tell_two_and_pick(a.page, "#pick-left-btn")
        rate_first_story(a.page, "太吓人")
        a.page.screenshot(path=str(tmp_path / "family-a.png"), full_page=True)

        open_tab(b.page, "故事书")
        b.page.locator("#library-pager").get_by_text("故事书还是空的").wait_for(timeout=20_000)
        assert b.page.locator("#library-table").get_by_role("gridcell").count() == 0
        b.page.locator("#library-search input, #library-search textarea").first.fill("唐")
        b.page.keyboard.press("Enter")
        b.page.locator("#library-pager").get_by_text("没有找到").wait_for(timeout=20_000)
        b.page.screenshot(path=str(tmp_path / "family-b.png"), full_page=True)

        tell_two_and_pick(b.page, "#pick-both-bad")
        open_tab(b.page, "故事书")
        b.page.locator("#library-pager").get_by_text("一共 2 个故事").wait_for(timeout=20_000)
        assert "👍" not in b.page.locator("#library-table").inner_text()  # a's 👍 is not b's
        open_tab(a.page, "故事书")
        a.page.locator("#library-pager").get_by_text("一共 2 个故事").wait_for(timeout=20_000)
        with sqlite3.connect(public_app.db) as db:
            owners = db.execute("SELECT count(DISTINCT owner), count(*) FROM stories").fetchone()
            picks = sorted(c for (c,) in db.execute("SELECT choice FROM pairs"))
        assert owners == (2, 4) and picks == ["both_bad", "left"]
        ids_b = {int(x) for (x,) in sqlite3.connect(public_app.db).execute(
            "SELECT id FROM stories WHERE owner = (SELECT owner FROM pairs WHERE choice = 'both_bad')")}
        titles_a = a.page.locator("#library-table").inner_text()
        with sqlite3.connect(public_app.db) as db:
            for sid in ids_b:
                title = db.execute("SELECT substr(text, 1, 12) FROM stories WHERE id = ?", (sid,)).fetchone()[0]
                mine = db.execute("SELECT count(*) FROM stories WHERE substr(text, 1, 12) = ? AND id NOT IN "
                                  f"({','.join(map(str, ids_b))})", (title,)).fetchone()[0]
                if not mine:  # a title only b's story has must not be on a's page
                    assert title not in titles_a
    finally:
        for f in families:
            f.context.close()

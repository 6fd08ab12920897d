"""The Data tab in a real browser against the running app: upload a CSV, read the check report,
press Prepare and download the training files; a broken file gets a friendly message instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_data_prepare import stories_csv, untouched
from tests.ui.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def data_page(browser, app):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page.goto(app.url)
    page.get_by_role("tab", name="数据", exact=True).click()
    page.wait_for_selector("#data-upload input[type=file]", state="attached")
    yield page
    page.close()


def test_upload_check_prepare_download(data_page, tmp_path: Path):
    page = data_page
    src = stories_csv(tmp_path / "family_stories.csv", n=20)
    before = untouched(src)
    assert not page.locator("#data-prepared").is_visible()  # no empty download box before there is a file

    page.locator("#data-upload input[type=file]").set_input_files(str(src))
    report = page.locator("#data-report")
    report.get_by_text("可以训练").wait_for(timeout=30_000)
    assert "20" in report.inner_text() and "gpt-4o-mini" in report.inner_text()
    page.locator("#data-preview").get_by_text("朝代", exact=True).wait_for(timeout=30_000)  # the preview renders after the report
    assert page.locator("#data-preview").get_by_text("第4个故事").first.is_visible()

    page.click("#data-prepare")
    page.locator("#data-prepare-status").get_by_text("训练 18").wait_for(timeout=30_000)
    links = page.locator("#data-prepared a[href]")
    links.first.wait_for(timeout=10_000)
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert any("family_stories.chat.train.jsonl" in h for h in hrefs), hrefs
    assert any("family_stories.chat.val.jsonl" in h for h in hrefs), hrefs
    train = next(h for h in hrefs if "train" in h)
    body = page.request.get(train if train.startswith("http") else page.url.rstrip("/") + train).text()
    rows = [json.loads(line) for line in body.splitlines()]
    assert len(rows) == 18 and rows[0]["messages"][-1]["role"] == "assistant"
    assert untouched(src) == before  # the parent's file is only read


def test_broken_upload_gets_a_friendly_message(data_page, tmp_path: Path):
    page = data_page
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"dynasty": "唐", "power": "隐形", "style": "轻松", "story": "好"}\n{"dynasty": \n', encoding="utf-8")
    page.locator("#data-upload input[type=file]").set_input_files(str(bad))
    page.locator("#data-report").get_by_text("这个文件有问题").wait_for(timeout=30_000)
    text = page.locator("#data-report").inner_text()
    assert "line 2" in text and "Traceback" not in text
    page.click("#data-prepare")  # nothing usable was uploaded, so Prepare says what to do
    page.locator("#data-prepare-status").get_by_text("先生成或上传").wait_for(timeout=10_000)

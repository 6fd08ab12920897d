"""The family loop in a real browser, end to end on one running app: a child hears two stories and
picks one, rates a story 👍 with a reason in the story book; a parent exports the pairs from the
Data tab, starts a DPO job from that export on the Training tab with the defaults (one pair: three
steps), waits for it, presses "Try it" and tells a story with the new model, which is saved under
the new model's name.

The app tells with a tiny random storyteller-format model (tests/fakes/tiny_model.py), so nothing
here rests on what a real model writes; its models, runs and database are in a temp folder, so a
fine-tune never lands in the repository's models/. Screenshots go to tmp_path/shots.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from storyteller.ui.i18n import t
from tests.fakes.tiny_model import build_tiny_model
from tests.ui.conftest import app_env, serve_app
from tests.ui.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.ui.test_library_browser import open_tab, rate_first_story, tell_two_and_pick

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPORT = "prepared/preferences.trl.jsonl"  # where the Data tab writes the trl export, as the Training tab lists it


@pytest.fixture
def loop_app(tmp_path_factory):
    """The app on loopback with a tiny storyteller model called "tiny" and its own runs folder."""
    base = tmp_path_factory.mktemp("family-loop")
    build_tiny_model(base / "models" / "tiny", storyteller=True, n_positions=1024)
    env = app_env(base / "models", "tiny", base / "var") | {"STORYTELLER_TRAINING__RUNS_DIR": str(base / "runs"),
                                                             "STORYTELLER_TRAINING__POLL_S": "0.5"}
    with serve_app(env, base) as url:
        yield url, base


def choose(page, dropdown: str, option: str) -> None:
    """Open a Gradio dropdown and click one of its options."""
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_rate_export_dpo_try_it_and_the_new_model_tells(browser, loop_app, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    url, base = loop_app
    db = base / "var" / "storyteller.db"
    shots = tmp_path / "shots"
    shots.mkdir()
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    try:
        page.goto(url)
        page.wait_for_selector("#tell")

        # A child: two stories, this one! Then 👍 with a reason in the story book.
        tell_two_and_pick(page, "#pick-right-btn")
        page.screenshot(path=str(shots / "1-picked.png"), full_page=True)
        rate_first_story(page, "最喜欢")
        page.screenshot(path=str(shots / "2-rated.png"), full_page=True)

        # A parent: export the pairs (trl) from the Data tab.
        open_tab(page, t("tab.data", "zh"))
        page.click("#prefs-export")
        page.locator("#prefs-report").get_by_text("导出了 1 条").wait_for(timeout=30_000)
        page.locator("#prefs-box").screenshot(path=str(shots / "3-export.png"))
        with sqlite3.connect(db) as con:
            left, right, choice = con.execute("SELECT left_id, right_id, choice FROM pairs").fetchone()
            chosen, other = (con.execute("SELECT text FROM stories WHERE id = ?", (i,)).fetchone()[0].strip()
                             for i in (right, left))
            rated = con.execute("SELECT value, reasons FROM ratings").fetchall()
        assert choice == "right" and rated == [(1, '["loved"]')]
        exported = base / "var" / "datasets" / EXPORT
        [line] = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
        assert line["chosen"][0]["content"] == chosen and line["rejected"][0]["content"] == other

        # The Training tab: choose the export; how it learns follows it (DPO), everything else as it is.
        open_tab(page, t("tab.training", "zh"))
        choose(page, "#ft-data", EXPORT)
        expect(page.locator("#ft-report")).to_contain_text("1 对「讲两个，选一个」里的选择", timeout=15_000)
        plan = page.locator("#ft-plan")
        expect(plan).to_contain_text("📋", timeout=30_000)
        page.locator("#ft-advanced").get_by_text(t("ft.advanced", "zh")).click()  # opened to check what it chose
        expect(page.locator("#ft-objective input")).to_have_value(t("ft.objective_dpo", "zh"))
        expect(page.locator("#ft-report")).not_to_contain_text("⛔")  # the export passed the safety check
        assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body").all_inner_texts()
        page.screenshot(path=str(shots / "4-plan.png"), full_page=True)
        page.click("#ft-launch")
        expect(plan).to_contain_text("开始学习了", timeout=15_000)
        status = page.locator("#ft-status")
        expect(status).to_contain_text(t("ft.state.succeeded", "zh"), timeout=180_000)
        page.screenshot(path=str(shots / "5-learnt.png"), full_page=True)

        expect(status).to_contain_text("第 3 / 3 步")  # one pair, 8 a step, 3 rounds: the defaults
        with sqlite3.connect(db) as con:
            (new_model, spec, job_dir), = con.execute("SELECT result_model, spec, job_dir FROM jobs").fetchall()
        spec = json.loads(spec)
        assert spec["objective"] == "dpo" and spec["base_model"] == "tiny" and spec["max_steps"] is None
        assert (Path(job_dir) / "data" / "train.jsonl").read_bytes() == exported.read_bytes()  # it learnt the export
        assert (base / "models" / new_model / "config.json").is_file()

        # Try it: the story tab with the new model; its story is saved under the new model's name.
        page.click("#ft-try")
        expect(page.locator("#model input")).to_have_value(new_model, timeout=10_000)
        page.click("#tell")
        expect(page.locator("#story-stats")).to_contain_text("讲完啦", timeout=120_000)
        page.screenshot(path=str(shots / "6-new-story.png"), full_page=True)
        with sqlite3.connect(db) as con:
            model, text, status_ = con.execute("SELECT model, text, status FROM stories ORDER BY id DESC").fetchone()
        assert model == new_model and text.strip() and status_ == "done"
        assert "Traceback" not in (base / "app.log").read_text(errors="replace")  # no handler failed on the way
    finally:
        page.close()

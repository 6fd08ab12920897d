"""The Training tab: handlers in process, and a real browser launching a local job on a tiny dataset.

The browser test runs its own app (tiny storyteller model, temp database, runs and models dirs),
so a fine-tune never lands in the repository's models/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.tiny_model import build_tiny_model
from tests.ui.conftest import app_env, serve_app

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def stories(tmp_path: Path, n: int = 12) -> Path:
    lines = (ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    path = tmp_path / "new.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ui_env(settings_env, monkeypatch, tmp_path):
    from storyteller.config import get_settings

    build_tiny_model(tmp_path / "models" / "tiny", storyteller=True)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    return stories(tmp_path)


def test_unsafe_dataset_needs_the_checkbox(ui_env, tmp_path):
    import json

    from storyteller.data import workspace
    from storyteller.ui import training as t

    rows = [json.loads(x) for x in ui_env.read_text(encoding="utf-8").splitlines()]
    rows[2]["story"] += "The ghost drank vodka."
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    form = ["local", "tiny", workspace.relative_name(workspace.save_upload(bad)), "", "ui-u", None, 4, None, None, 3, 0.0]
    settings, est = t.preview(*form)
    assert "Not ready" in est and "not safe for children" in est and "row 3" in est and "vodka" not in est
    settings, est = t.preview(*form, True)
    assert settings["allow_unsafe"] is True and "Estimate" in est


def test_handlers_preview_launch_errors_and_poll(ui_env):
    from storyteller.data import workspace
    from storyteller.ui import training as t

    data = workspace.relative_name(workspace.save_upload(ui_env))  # the tab reads only its workspace
    assert data == "uploads/new.jsonl"
    form = ["local", "tiny", data, "", "ui-a", None, 4, None, None, 3, 0.0]
    settings, est = t.preview(*form)
    assert settings["steps"] == 3 and settings["output"] == "models/ui-a" and "Estimate" in est
    settings, est = t.preview("local", "tiny", "", "", "", None, None, None, None, None, 0.5)
    assert "Choose a dataset" in est
    _, est = t.preview("local", "tiny", data, "", "", None, -3, None, None, None, 0.5)
    assert "batch_size" in est and "Not ready" in est
    _, est = t.preview("local", "nope", data, "", "", None, None, None, None, None, 0.5)
    assert "There is no base model" in est and "Not ready" in est
    _, est = t.preview("local", "tiny", str(ui_env), "", "", None, None, None, None, None, 0.5)
    assert "Choose a dataset from the list" in est  # a typed path is never opened
    assert t.poll(None)[1].startswith("No jobs yet")
    from storyteller.finetune import get_provider

    job = get_provider("local").start(t.make_spec(*form), launch=False)
    out = t.poll(None)  # a fresh page picks the newest unfinished job
    assert out[0]["value"] == job.id and "queued" in out[1] and list(out[2].columns) == t.PLOT_COLUMNS
    t.cancel(job.id)
    assert "cancelled" in t.poll(job.id)[1]
    from storyteller.finetune import MetricRow

    frame = t.metrics_frame([MetricRow(step=1, train_loss=2.0, valid_loss=2.5), MetricRow(step=2, train_loss=1.5)])
    assert frame.to_dict("records") == [{"step": 1, "loss": 2.0, "series": "train"},
                                        {"step": 2, "loss": 1.5, "series": "train"},
                                        {"step": 1, "loss": 2.5, "series": "validation"}]


@pytest.fixture
def training_app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    base = tmp_path_factory.mktemp("training-app")
    build_tiny_model(base / "models" / "tiny", storyteller=True)
    env = app_env(base / "models", "tiny", base / "var") | {"STORYTELLER_TRAINING__RUNS_DIR": str(base / "runs"),
                                                             "STORYTELLER_TRAINING__POLL_S": "0.5"}
    with serve_app(env, base) as url:
        yield url, base


@pytest.mark.browser
@pytest.mark.slow
def test_browser_launches_a_local_job_and_sees_the_loss_plot(training_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, base = training_app
    data = stories(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.get_by_role("tab", name="训练 / Training").click()
        page.locator("#ft-upload input[type=file]").set_input_files(str(data))  # copied into the workspace
        expect(page.locator("#ft-data input")).to_have_value("uploads/new.jsonl", timeout=15_000)
        page.locator("#ft-name textarea").fill("ui-tiny")
        page.get_by_text("参数 / Settings").click()
        page.locator("#ft-steps input[type=number]").fill("30")
        page.locator("#ft-batch input[type=number]").fill("4")
        page.click("#ft-launch")
        expect(page.locator("#ft-status")).to_contain_text("step", timeout=60_000)
        plot = page.locator("#ft-plot")
        expect(plot.locator("svg.marks .mark-line path").first).to_be_attached(timeout=30_000)  # a loss line
        early = page.locator("#ft-status").inner_text()
        expect(page.locator("#ft-status")).to_contain_text("succeeded", timeout=120_000)
        assert early != page.locator("#ft-status").inner_text()  # the status moved on while we watched
        assert "Done: saved as models/ui-tiny" in page.locator("#ft-log textarea").input_value()
        page.click("#ft-try")
        expect(page.locator("#model input")).to_have_value("ui-tiny", timeout=10_000)
        assert (base / "models" / "ui-tiny" / "config.json").is_file()
        browser.close()

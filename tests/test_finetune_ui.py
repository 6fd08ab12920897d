"""The Training tab ("Teach it our stories"): handlers in process, and a real browser in which a
parent starts a local job with only the default fields on a tiny dataset.

In process: the plan line says in words how many stories, how long on this computer (from the
speed earlier jobs measured here, else a first guess) and what it costs (free here; OpenAI's price
and fine-tuning cut-off date); the typed fields under Advanced build the same JobSpec; hostile
values in them get a friendly error in the page's language and start nothing.

The browser test runs its own app (tiny storyteller model, temp database, runs and models dirs),
so a fine-tune never lands in the repository's models/. Its screenshots land in its tmp folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from storyteller.finetune.worker import BATCH
from tests.fakes.tiny_model import build_tiny_model
from tests.ui.conftest import app_env, serve_app

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
# The form as the page sends it, with the defaults a parent leaves alone.
DEFAULTS = {"provider": "local", "base": "tiny", "data": None, "val": "", "name": "", "epochs": 3, "batch": 8,
            "lr": 0, "lr_mult": 0, "steps": 0, "mix": 0.5, "allow_unsafe": False, "method": "auto",
            "lora_r": 8, "seed": 42}


# A loss line that is really drawn: a path with points and the train line's colour.
DRAWN = "el => (el.getAttribute('d') || '').length > 20 && el.getAttribute('stroke') === '#ea580c'"


def stories(tmp_path: Path, n: int = 12) -> Path:
    lines = (ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    path = tmp_path / "new.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def form(**changes) -> list:
    return list((DEFAULTS | changes).values())


def page_visitor(lang: str):
    from storyteller.ui.visitor import Visitor

    v = Visitor()
    v.lang = lang
    return v


@pytest.fixture
def ui_env(settings_env, monkeypatch, tmp_path):
    """A tiny model called "tiny", and its 12 stories saved in the workspace (what the picker offers)."""
    from storyteller.config import get_settings
    from storyteller.data import workspace

    build_tiny_model(tmp_path / "models" / "tiny", storyteller=True)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    return workspace.relative_name(workspace.save_upload(stories(tmp_path)))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_plan_says_in_words_how_long_and_what_it_costs(ui_env, lang):
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    assert ui_env == "uploads/new.jsonl"
    plan, uses, unsafe_box = tr.preview(*form(data=ui_env), page_visitor(lang))
    review = t("ft.review", lang, n=12)
    assert plan == t("ft.plan_local", lang, what=t("ft.what_sft", lang, n=12), review=review,
                     time=t("ft.less_minute", lang), how=t("ft.guess", lang))  # 9 steps of a tiny model; no job has measured this computer yet
    assert uses == t("ft.uses", lang, lr="0.0003", method=t("ft.method_full", lang), steps=9)
    assert unsafe_box == {"__type__": "update", "visible": False}  # nothing flagged: no override box


def test_the_estimate_uses_the_speed_measured_by_an_earlier_job(ui_env, tmp_path):
    """A job's worker logs steps a second; the next plan divides its work by what was measured."""
    from storyteller.finetune import JobSpec, get_provider
    from storyteller.finetune.local_ft import LocalProvider
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    provider: LocalProvider = get_provider("local")
    spec = tr.make_spec(*form(data=ui_env))
    before = provider.plan(spec)
    assert not before.measured and before.work_per_step > 0
    job = provider.start(spec, launch=False)
    Path(job.job_dir, "trainer_log.jsonl").write_text(json.dumps(
        {"type": "metrics", "time": 1.0, "step": 4, "total_steps": 9, "train_loss": 2.5, "eta_s": 10.0,
         "steps_per_s": 0.5}) + "\n", encoding="utf-8")
    provider.status(job.id)  # the poll reads the log into the store
    after = provider.plan(spec.model_copy(update={"name": "next"}))
    assert after.measured and math.isclose(after.seconds, 9 * after.work_per_step / (job.extra["work_per_step"] * 0.5))
    assert math.isclose(after.seconds, 18.0)  # same work per step: 9 steps at 0.5 steps a second
    plan, _, _ = tr.preview(*form(data=ui_env, name="next"), page_visitor("en"))
    assert t("ft.measured", "en") in plan and t("ft.less_minute", "en") in plan
    assert JobSpec.model_validate(provider.store.get_job(job.id).spec.model_dump()) == spec


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_openai_shows_its_price_and_the_fine_tuning_cut_off_date(ui_env, lang):
    from storyteller.data import pricing
    from storyteller.finetune import get_provider
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    chosen = form(provider="openai", base="gpt-4o-mini-2024-07-18", data=ui_env, epochs=None, batch=None)
    plan, uses, _ = tr.preview(*chosen, page_visitor(lang))
    cost = get_provider("openai").plan(tr.make_spec(*chosen)).cost_usd
    price = t("ft.price", lang, usd=f"{cost:,.2f}", as_of=pricing.AS_OF)
    assert plan == t("ft.plan_openai", lang, n=12, cost=price, cutoff="2027-01-06") and uses == ""
    assert pricing.FINE_TUNING_CUTOFF == "2027-01-06" and cost > 0


def test_unsafe_dataset_needs_the_checkbox(ui_env, tmp_path):
    from storyteller.data import workspace
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    src = workspace.resolve(ui_env)
    rows = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines()]
    rows[2]["story"] += "The ghost drank vodka."
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    name = workspace.relative_name(workspace.save_upload(bad))
    plan, _, box = tr.preview(*form(data=name), page_visitor("en"))
    assert plan.startswith("⚠️ **Not ready:**") and t("ft.hint_unsafe", "en") in plan
    assert "row 3" in plan and "vodka" not in plan and "--allow-unsafe" not in plan
    assert box == {"__type__": "update", "visible": True}  # the override box shows only now
    plan, _, box = tr.preview(*form(data=name, allow_unsafe=True), page_visitor("en"))
    assert plan.startswith("📋") and box == {"__type__": "update"}  # ticked: it stays on screen


# Hostile values in the typed fields under Advanced: (field, value, the field's words in the error).
HOSTILE = [("batch", -3, "batch"), ("batch", 100_000, "batch"), ("epochs", -1, "epochs"),
           ("epochs", 51, "epochs"), ("epochs", 2.5, "epochs"), ("epochs", "three", "epochs"),
           ("epochs", float("inf"), "epochs"), ("epochs", True, "epochs"), ("epochs", "1e400", "epochs"),
           ("lr", -0.1, "lr"), ("lr", 5, "lr"), ("lr", "0.001; rm -rf /", "lr"),
           ("steps", -5, "steps"), ("steps", 10**12, "steps"), ("lora_r", -8, "lora_r"), ("lora_r", 10**6, "lora_r"),
           ("seed", -1, "seed"), ("seed", 2**63, "seed"), ("mix", 1.0, "mix"), ("mix", -0.5, "mix"),
           ("mix", [0.5], "mix")]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("field, value, named", HOSTILE, ids=[f"{f}={v!r}"[:30] for f, v, _ in HOSTILE])
def test_hostile_advanced_values_get_a_friendly_error_and_start_nothing(ui_env, lang, field, value, named):
    from storyteller.finetune import JobStore
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    v = page_visitor(lang)
    plan, uses, _ = tr.preview(*form(data=ui_env, **{field: value}), v)
    assert plan.startswith(t("ft.not_ready", lang, e="")) and uses == ""
    assert t(f"ft.field.{named}", lang) in plan  # names the field a parent can change, in the page's language
    assert "Input should" not in plan and "Traceback" not in plan and "loc" not in plan
    _, said = tr.launch(*form(data=ui_env, **{field: value}), v)
    assert said == plan and JobStore().list_jobs() == []


def test_an_emptied_number_box_means_the_default(ui_env):
    """A number box the parent clears comes back as None, or as 0 once the browser has shown it."""
    from storyteller.ui import training as tr

    plain = tr.make_spec(*form(data=ui_env, epochs=None, batch=None, lora_r=None, seed=None))
    for empty in (0, "", float("nan")):
        spec = tr.make_spec(*form(data=ui_env, epochs=empty, batch=empty, lr=empty, steps=empty, lora_r=empty,
                                  seed=None))
        assert spec == plain and spec.n_epochs is None and spec.learning_rate is None and spec.lora_r == 8
    assert tr.make_spec(*form(data=ui_env, seed=0, mix=0)).seed == 0  # 0 is a seed, and "review nothing"


@pytest.mark.parametrize("changes, key", [
    ({"method": "evil"}, "ft.bad_method"), ({"provider": "gcp"}, "ft.need_provider"), ({"base": "nope"}, "ft.no_base"),
    ({"base": "../models/tiny"}, "ft.no_base"), ({"data": ""}, "ft.need_data"), ({"name": "../../etc"}, "ft.hint_bad_name"),
    ({"provider": "openai", "base": "gpt-4o-mini-2024-07-18", "lr_mult": 11}, "ft.field.lr_mult"),
])
def test_other_wrong_choices_say_what_to_do_on_the_page(ui_env, changes, key):
    from storyteller.plaintext import escape_markdown
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    for lang in ("zh", "en"):
        plan, _, _ = tr.preview(*form(**({"data": ui_env} | changes)), page_visitor(lang))
        assert plan.startswith(t("ft.not_ready", lang, e="")) and escape_markdown(t(key, lang)) in plan, plan


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_preference_export_sets_how_it_learns_and_is_counted_as_picks(ui_env, lang):
    """The Data tab's export chosen as the dataset: the picks' pairs learn by DPO (a parent's KTO stays),
    👍/👎 by KTO, stories by example again; the report counts picks (never the story check's words,
    which read the system prompt's rules as an unsafe story), and the plan is ready with the defaults."""
    from storyteller.data import workspace
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t
    from tests.test_finetune_preference import pair_lines, write

    v, skip = page_visitor(lang), {"__type__": "update"}
    folder = workspace.prepared_dir()
    pairs, thumbs = "prepared/preferences.trl.jsonl", "prepared/preferences.kto.jsonl"
    write(folder / "preferences.trl.jsonl", pair_lines(3))
    write(folder / "preferences.kto.jsonl", pair_lines(3, "kto"))
    assert tr.objective_for(pairs, "sft", v) == "dpo" and tr.objective_for(pairs, "kto", v) == skip
    assert tr.objective_for(thumbs, "dpo", v) == "kto" and tr.objective_for(ui_env, "dpo", v) == "sft"
    assert tr.objective_for(ui_env, "sft", v) == skip and tr.objective_for("../etc/passwd", "sft", v) == skip
    assert tr.check_dataset(pairs, v) == t("ft.pairs", lang, n=3)
    assert tr.check_dataset(thumbs, v) == t("ft.ratings", lang, n=6)
    plan, _, _ = tr.preview(*form(data=pairs, objective="dpo"), v)
    assert plan.startswith("📋 " + t("ft.what_dpo", lang, n=3)), plan  # three picks, not "three stories"
    assert t("ft.review", lang, n=0)[:8] not in plan  # nothing earlier is reviewed
    plan, _, _ = tr.preview(*form(data=thumbs, objective="kto"), v)
    assert plan.startswith("📋 " + t("ft.what_kto", lang, n=6)), plan
    assert tr._review_field("local", "dpo") == {"__type__": "update", "visible": False}
    assert tr._review_field("local", "sft") == {"__type__": "update", "visible": True}
    lines = pair_lines(3)
    lines[1]["rejected"][0]["content"] += "The ghost drank vodka."
    write(folder / "preferences.trl.jsonl", lines)
    report = tr.check_dataset(pairs, v)
    assert report.startswith(t("ft.pairs", lang, n=3)) and "⛔" in report and "vodka" not in report
    assert report.endswith(f"{t('data.issue.unsafe_story', lang)}{t('ft.lines', lang, lines='2')}"), report
    listed = tr.datasets(v)  # a picker's focus: new choices, and its own value left alone (no error)
    assert "value" not in listed and set(listed["choices"]) == {ui_env, pairs, thumbs}


def test_handlers_launch_errors_and_poll(ui_env):
    from storyteller.data import workspace
    from storyteller.finetune import JobStore, MetricRow, get_provider
    from storyteller.ui import training as tr
    from storyteller.ui.i18n import t

    v = page_visitor("en")
    assert tr.poll(None, v)[1] == t("ft.no_lessons", "en")
    _, said = tr.launch(*form(data=str(workspace.resolve(ui_env))), v)  # a typed path is never opened
    assert "Choose a dataset from the list" in said and JobStore().list_jobs() == []
    job = get_provider("local").start(tr.make_spec(*form(data=ui_env, name="ui-a")), launch=False)
    out = tr.poll(None, v)  # a fresh page picks the newest unfinished job
    assert out[0]["value"] == job.id and t("ft.state.queued", "en") in out[1]
    assert out[2] is None  # no points yet: the plot gets None (from an empty frame it would never draw its lines)
    tr.cancel(job.id, v)
    assert t("ft.state.cancelled", "en") in tr.poll(job.id, v)[1]
    frame = tr.metrics_frame([MetricRow(step=1, train_loss=2.0, valid_loss=2.5), MetricRow(step=2, train_loss=1.5)])
    assert frame.to_dict("records") == [{"step": 1, "loss": 2.0, "series": "train"},
                                        {"step": 2, "loss": 1.5, "series": "train"},
                                        {"step": 1, "loss": 2.5, "series": "validation"}]
    assert set(tr.PLOT_COLOURS) == {"train", "validation"}  # each line's colour, as the words above the plot name it


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
def test_a_parent_starts_a_local_job_with_the_defaults_and_sees_the_plan_and_the_loss_plot(training_app, tmp_path):
    """Chinese page: choose the stories (an upload), read the plan, press Start; Advanced stays shut.
    Then a hostile value under Advanced gets a friendly error and starts nothing."""
    from playwright.sync_api import expect, sync_playwright

    from storyteller.ui.i18n import t

    url, base = training_app
    data = stories(tmp_path)
    shots = tmp_path / "shots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(url)
        default_model = page.locator("#model input").input_value()
        page.get_by_role("tab", name=t("tab.training", "zh")).click()
        expect(page.locator("#ft-launch")).to_have_text(t("ft.launch", "zh"))
        expect(page.locator("#ft-epochs")).to_be_hidden()  # everything technical is folded away
        with page.expect_file_chooser() as chooser:
            page.click("#ft-upload")
        chooser.value.set_files(str(data))  # copied into the workspace, then chosen
        expect(page.locator("#ft-data input")).to_have_value("uploads/new.jsonl", timeout=15_000)
        plan = page.locator("#ft-plan")
        expect(plan).to_contain_text("学 12 个故事", timeout=30_000)
        expect(plan).to_contain_text("免费")
        expect(page.locator("#ft-report")).to_contain_text("12 个故事")
        page.screenshot(path=str(shots / "1-plan.png"), full_page=True)
        page.click("#ft-launch")
        expect(plan).to_contain_text("开始学习了", timeout=15_000)
        status = page.locator("#ft-status")
        expect(status).to_contain_text(t("ft.state.succeeded", "zh"), timeout=120_000)
        expect(status).to_contain_text("第 9 / 9 步")
        expect(page.locator("#ft-plot-title")).to_contain_text("学得怎么样")
        line = page.locator("#ft-plot svg.marks .mark-line path").first
        expect(line).to_be_attached(timeout=30_000)
        assert line.evaluate(DRAWN), "the loss line is not drawn"
        page.screenshot(path=str(shots / "2-learnt.png"), full_page=True)
        jobs = list((base / "runs").iterdir())
        assert len(jobs) == 1
        # A hostile value under Advanced: a friendly error in the plan line, and Start starts nothing.
        page.locator("#ft-advanced").get_by_text(t("ft.advanced", "zh")).click()
        batch = page.locator("#ft-batch input")
        expect(batch).to_have_value(str(BATCH))  # the folded box is drawn and filled before it is typed into
        for _ in range(3):  # an opening fold may draw its boxes once more, with their values, as it settles
            batch.fill("-3")
            try:
                expect(batch).to_have_value("-3", timeout=2_000)
                break
            except AssertionError:
                continue
        expect(batch).to_have_value("-3")
        batch.blur()
        expect(plan).to_contain_text("「每一步学几个故事」要填从 1 到 256 的整数", timeout=15_000)
        page.click("#ft-launch")
        expect(plan).to_contain_text("还不能开始")
        page.screenshot(path=str(shots / "3-hostile.png"), full_page=True)
        assert len(list((base / "runs").iterdir())) == 1
        page.locator("#ft-batch input").fill("8")
        page.locator("#ft-batch input").blur()
        expect(plan).to_contain_text("学 12 个故事", timeout=15_000)
        page.locator("#ui-lang").get_by_text("English").click()  # the plan is said again in the new language
        expect(plan).to_contain_text("Learns 12 stories", timeout=15_000)
        expect(page.locator("#ft-launch")).to_have_text(t("ft.launch", "en"))
        expect(status).to_contain_text(t("ft.state.succeeded", "en"), timeout=15_000)
        expect(page.locator("#ft-report")).to_contain_text("12 stories")
        assert line.evaluate(DRAWN), "the loss line vanished with the language switch"
        page.screenshot(path=str(shots / "4-english.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(shots / "5-phone.png"), full_page=True)
        page.click("#ft-try")  # the story tab, with the new model chosen
        expect(page.locator("#model input")).not_to_have_value(default_model, timeout=10_000)
        expect(page.get_by_role("tab", name=t("tab.story", "en"))).to_have_attribute("aria-selected", "true")
        browser.close()
    [made] = [d for d in (base / "models").iterdir() if d.name.startswith("tiny-ft-")]  # the name made up for it
    assert (made / "config.json").is_file()

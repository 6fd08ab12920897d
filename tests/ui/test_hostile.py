"""Hostile input against every tab's handlers, called in process as Gradio calls them: typed paths,
links and `.env`, format-spec bombs, bad uploads, 10,000-character fields, markup in and out,
another family's job ids, typed model ids of every kind, and a page no parent unlocked.

Each case must end in a friendly message (a return value or gr.Error, never another exception),
leak nothing (the fake key and the secret file's marker appear in no output), and open no file
outside the workspace: a Python audit hook records every file opened while a case runs. Messages
follow the page's language (its `Visitor.lang`): the page's own words are checked through
`i18n.t(key, lang)`, the core's two-language messages by their half in that language (and the
other half's absence), in both languages where a case is cheap.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import warnings
from pathlib import Path

import gradio as gr
import pytest

from storyteller import ratelimit, studio
from storyteller.config import get_settings
from storyteller.data import workspace
from storyteller.plaintext import escape_markdown
from storyteller.ui import data as data_tab
from storyteller.ui import preferences, story
from storyteller.ui import training
from storyteller.ui.i18n import LANGS, t
from storyteller.ui.visitor import Visitor
from tests.test_data_prepare import stories_csv
from tests.ui.conftest import ReplayEngine

FAKE_KEY = "sk-FAKE-hostile-suite-0123456789"
MARKER = "TOP-SECRET-MARKER-7f3a"
LONG = "长" * 10_000
MARKUP = ['![x](http://evil.example/x.png)', '<img src="http://evil.example/y.png">',
          '<a href="http://evil.example">click</a>', '[link](http://evil.example/z)']
# The core's refusals come in both languages at once (no key of the page's): {what: {lang: its words}}.
CORE = {"model": {"zh": "请从列表里选一个模型", "en": "Please choose a model from the list"},
        "dataset": {"zh": "请从列表里选一个数据集", "en": "Choose a dataset from the list"},
        "template": {"zh": "写作提示", "en": "prompt template"},
        "too_many": {"zh": "一次最多生成 {n} 个故事", "en": "one run makes at most {n}"},
        "length": {"zh": "长度请填一个数字", "en": "Length must be a number"},
        "name": {"zh": "请用几个简单的字", "en": "in a few simple words"},
        "content": {"zh": "不适合放进小朋友的故事里", "en": "isn't right for a children's story"},
        "unreadable": {"zh": "读不出来", "en": "could not be read"},
        "too_big": {"zh": "MB 的上限", "en": "MB limit"}}

_opened: list[str] = []
_recording = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _recording.is_set() and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cannot be removed; records only while a case runs


@pytest.fixture
def world(settings_env, tmp_path, monkeypatch):
    """A temp app: one model folder ("tiny"), a fake key, a secret file and a `.env` beside the data
    folder, the replaying engine for stories, and fresh rate limiters on a clock we move."""
    from storyteller.config import get_settings

    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text('{"n_embd": 8, "n_layer": 1}')
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={FAKE_KEY}\n# {MARKER}\n")
    stories_csv(tmp_path / "secret.csv").write_text(
        stories_csv(tmp_path / "secret.csv").read_text(encoding="utf-8").replace("李白", MARKER), encoding="utf-8")
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("STORYTELLER_LOCAL__DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("STORYTELLER_PUBLIC__PARENT_PASSWORD", "correct horse")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never reached: nothing here may call it
    get_settings.cache_clear()
    clock = ratelimit.FakeClock()
    ratelimit.reset(clock)
    engine = ReplayEngine("从前有一位勇敢的英雄。" * 3)
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    yield type("World", (), {"root": tmp_path, "clock": clock, "engine": engine})
    ratelimit.reset()


def page(public: bool = True, lang: str = "zh") -> Visitor:
    """A page no parent unlocked, in `lang` (what its language switch set)."""
    v = Visitor(public)
    v.lang = lang
    return v


def parent(public: bool = True, lang: str = "zh") -> Visitor:
    v = page(public, lang)
    v.parent = True
    return v


def other(lang: str) -> str:
    return next(x for x in LANGS if x != lang)


def says(shown: str, text: str) -> bool:
    """The page said `text`: as it is, in a toast (HTML-escaped) or in a Markdown line (escaped)."""
    return any(form in shown for form in (text, html.escape(text), repr(escape_markdown(text))[1:-1]))


def core_says(shown: str, what: str, lang: str, **values) -> bool:
    """The core's message in the page's language, and not the other language's half."""
    words = {x: CORE[what][x].format(**values) for x in LANGS}
    return words[lang] in shown and words[other(lang)] not in shown


# The Training form as the page sends it (training.render's `form`), the defaults a parent leaves alone.
FORM = {"provider": "local", "base": "tiny", "data": None, "val": "", "name": "", "epochs": None, "batch": None,
        "lr": None, "lr_mult": None, "steps": None, "mix": 0.5, "allow_unsafe": False, "method": "auto",
        "lora_r": None, "seed": None, "objective": "sft"}


def form(**changes) -> tuple:
    assert set(changes) <= set(FORM)
    return tuple((FORM | changes).values())


def outside_reads(root: Path) -> list[str]:
    """Files opened during the case that the app has no business reading: anything in the test's
    folder but the app's own (workspace and database, runs, models), any `.env`, /etc/passwd, ~/.ssh."""
    own = [str(root / "var"), str(root / "runs"), str(root / "models")]
    return [p for p in _opened if (p.startswith(str(root)) and not any(p.startswith(a) for a in own))
            or Path(p).name == ".env" or p.startswith(("/etc/passwd", str(Path.home() / ".ssh")))]


def rendered(markdown: str) -> str:
    """Markdown as a browser would show it (GFM with autolinks), as HTML."""
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like").render(markdown)


def no_remote_markup(markdown: str) -> bool:
    """No image, link or raw tag once rendered: what came from outside shows as text."""
    html = rendered(markdown)
    return "<img" not in html and "<a " not in html


def run_case(world, fn, *args, allow: tuple = ()) -> str:
    """Run one handler (draining generators); the text it showed, with gr.Error as a message too."""
    _opened.clear()
    _recording.set()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = fn(*args)
                out = list(out) if hasattr(out, "__next__") else out
            except gr.Error as e:
                out = f"gr.Error: {e.message}"
    finally:
        _recording.clear()
    shown = repr(out) + " ".join(str(w.message) for w in caught)
    assert "Traceback" not in shown
    assert FAKE_KEY not in shown and MARKER not in shown and "correct horse" not in shown
    assert [p for p in outside_reads(world.root) if p not in map(str, allow)] == []
    return shown


# --- typed paths: the Training tab reads only the family's workspace -----------------------------
PATHS = ["../../etc/passwd", "/etc/passwd", "~/.ssh/id_rsa", ".env", "../.env", "../../.env", "uploads/../../../.env",
         "prepared/../../../secret.csv", "{root}/secret.csv", "{root}/.env", "link.csv", "uploads/link-env.csv",
         "C:\\Windows\\win.ini", "file:///etc/passwd", "http://evil.example/x.csv", "uploads", "\x00", "x" * 10_000,
         "families/{other}/s.csv"]


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("public", [False, True])
@pytest.mark.parametrize("lang", LANGS)
def test_a_typed_dataset_path_opens_nothing_outside_the_workspace(world, name, public, lang):
    visitor = parent(public, lang)
    other = Visitor(True)
    stories_csv(workspace.datasets_dir(other.scope) / "s.csv")  # another family's file
    base = workspace.datasets_dir(visitor.scope)
    (base / "uploads").mkdir(exist_ok=True)
    (base / "link.csv").symlink_to(world.root / "secret.csv")
    (base / "uploads" / "link-env.csv").symlink_to(world.root / ".env")
    name = name.format(root=world.root, other=other.scope)
    if not public and name.startswith("families/"):
        pytest.skip("the local single-user app sees every family's files")
    shown = run_case(world, training.check_dataset, name, visitor)
    assert core_says(shown, "dataset", lang)
    shown = run_case(world, training.preview, *form(data=name), visitor)  # the plan, as any choice redraws it
    assert says(shown, t("ft.not_ready", lang, e="")) and core_says(shown, "dataset", lang)
    shown = run_case(world, training.launch, *form(data=name), visitor)
    assert says(shown, t("ft.not_ready_toast", lang, e="")) and core_says(shown, "dataset", lang)
    assert visitor.jobs().list_jobs() == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_family_s_own_dataset_is_used(world, lang):
    visitor = parent(lang=lang)
    saved = workspace.save_upload(stories_csv(world.root / "mine.csv"), visitor.scope)
    name = workspace.relative_name(saved, visitor.scope)
    assert name == "uploads/mine.csv" and workspace.list_datasets(visitor.scope) == [name]
    assert workspace.list_datasets(Visitor(True).scope) == []  # another family sees none of it
    assert t("ft.stories", lang, n=20) in run_case(world, training.check_dataset, name, visitor)


# --- typed model ids: only what the picker offers -------------------------------------------------
MODEL_IDS = ["{root}/models/tiny", "../models/tiny", "models/tiny", "./tiny", "tiny/../tiny", "~/tiny", "~",
             "..", ".", "/", "/etc", "Qwen/Qwen2.5-0.5B-Instruct", "openai:gpt-4o", "gpt-4o", "o1-preview",
             "davinci-002", "chatgpt-4o-latest", "openai:", "tiny\x00", "models\\tiny", "x" * 10_000,
             '<img src="http://evil.example/x.png">', "![x](http://evil.example/x.png)", "file:///etc/passwd",
             "hf://org/name", "https://huggingface.co/org/name"]


@pytest.mark.parametrize("model_id", MODEL_IDS)
@pytest.mark.parametrize("lang", LANGS)
def test_a_typed_model_id_on_the_story_tab_is_refused_kindly(world, model_id, lang):
    model_id = model_id.format(root=world.root)
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", lang, 100, model_id, 0.8,
                                                        story.TellSession(), visitor=page(lang=lang))))
    assert core_says(out, "model", lang) and not world.engine.prompts
    assert "http\\\\://evil" not in out or "<img" not in out.replace("\\\\<", "")  # quoted, never as markup


@pytest.mark.parametrize("model_id", ["gpt-4o-mini", "openai:gpt-4o-mini", "ft:gpt-4o-mini-2024-07-18:acme::abc"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_model_that_costs_money_needs_a_parent(world, model_id, lang):
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", lang, 100, model_id, 0.8,
                                                        story.TellSession(), visitor=page(lang=lang))))
    assert says(out, t("gate.paid", lang)) and not says(out, t("gate.paid", other(lang))) and not world.engine.prompts
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", lang, 100, model_id, 0.8,
                                                        story.TellSession(), visitor=parent(lang=lang))))
    assert world.engine.prompts  # a parent may (the fake engine stands in for the paid model)


@pytest.mark.parametrize("model_id", ["{root}/models/tiny", "../models/tiny", "Qwen/Qwen2.5-0.5B-Instruct",
                                      "openai:gpt-4o", "x" * 10_000])
@pytest.mark.parametrize("lang", LANGS)
def test_a_typed_model_id_on_the_data_and_training_tabs_is_refused_kindly(world, model_id, lang):
    model_id = model_id.format(root=world.root)
    visitor = parent(lang=lang)
    out = run_case(world, data_tab.run_generate, model_id, ["唐"], ["隐形"], ["轻松"], 1, 1, "", lang, "s", "csv",
                   data_tab.DataSession(), visitor)
    assert core_says(out, "model", lang) and not list(workspace.datasets_dir(visitor.scope).glob("*.csv"))
    name = workspace.relative_name(workspace.save_upload(stories_csv(world.root / "t.csv"), visitor.scope),
                                   visitor.scope)
    for handler in (training.preview, training.launch):
        out = run_case(world, handler, *form(base=model_id, data=name), visitor)
        assert says(out, t("ft.no_base", lang)) and not says(out, t("ft.no_base", other(lang)))
    assert visitor.jobs().list_jobs() == []


# --- the prompt template: only bare placeholders --------------------------------------------------
TEMPLATES = ["{length:>999999999}", "{dynasty:>999999999}{power:^99999999}", "{length:{dynasty}}", "{dynasty!r}",
             "{dynasty!s:>9999}", "{dynasty.__class__}", "{hero.__init__.__globals__}", "{hero[0]}", "{}", "{0}",
             "{villain}", "unclosed {dynasty", "stray } brace", "{" * 5_000, LONG]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t[:30])
@pytest.mark.parametrize("lang", LANGS)
def test_a_template_bomb_is_refused_before_any_story(world, template, lang):
    visitor = parent(lang=lang)
    out = run_case(world, data_tab.run_generate, "world", ["唐"], ["隐形"], ["轻松"], 1, 2, template, "zh", "bomb",
                   "csv", data_tab.DataSession(), visitor)
    assert core_says(out, "template", lang) and "⚠️" in out
    assert not (workspace.datasets_dir(visitor.scope) / "bomb.csv").exists()


@pytest.mark.parametrize("lang", LANGS)
def test_too_many_stories_are_refused_in_public_mode(world, lang):
    visitor = parent(lang=lang)
    many = [f"朝代{i}" for i in range(20)]
    out = run_case(world, data_tab.run_generate, "world", many, many, ["轻松"], 1, 16, "", "zh", "big", "csv",
                   data_tab.DataSession(), visitor)
    assert core_says(out, "too_many", lang, n=get_settings().public.max_stories)
    assert not (workspace.datasets_dir(visitor.scope) / "big.csv").exists()


@pytest.mark.parametrize("lang", LANGS)
def test_a_good_template_still_works(world, lang):
    visitor = parent(lang=lang)
    out = run_case(world, data_tab.run_generate, "world", ["唐"], ["隐形"], ["轻松"], 2, 1, "写{dynasty}朝{hero}的故事",
                   "zh", "ok", "csv", data_tab.DataSession(), visitor)
    assert t("data.done", lang, written=2, skipped=0, failed=0, name="ok.csv") in out
    assert (workspace.datasets_dir(visitor.scope) / "ok.csv").is_file()


# --- uploads: copied into the workspace, checked, friendly ----------------------------------------
def _csv(rows: list[list]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def _upload(root: Path, kind: str) -> Path:
    p = root / "up" / {"gbk": "gbk.csv", "utf16": "u16.csv", "json": "list.json", "env": ".env"}.get(kind, f"{kind}.csv")
    p.parent.mkdir(exist_ok=True)
    writes = {
        "empty": b"",
        "binary": bytes(range(256)) * 40,
        "png": b"\x89PNG\r\n\x1a\n" + os.urandom(64),
        "nul": "index,dynasty,super_power,story_type,story\n0,唐,隐形,轻松,好\x00故事\n".encode(),
        "gbk": "index,dynasty,super_power,story_type,story\n0,唐,隐形,轻松,一个故事\n".encode("gbk"),
        "utf16": "index,dynasty,super_power,story_type,story\n0,唐,隐形,轻松,一个故事\n".encode("utf-16"),
        "json": b'[{"dynasty": "x"}]',
        "env": f"OPENAI_API_KEY={FAKE_KEY}\n".encode(),
        "headers": _csv([["index", "dynasty", "super_power", "story_type", "story"]]
                        + [[i, m, m, "轻松", f"{m} 故事{i}，奥特曼来了。"] for i, m in enumerate(MARKUP * 5)]),
        "long": f"index,dynasty,super_power,story_type,story\n0,{LONG},{LONG},{LONG},{LONG}\n".encode(),
        "markup_header": f"{MARKUP[0]},```,{MARKUP[1]}\n1,2,3\n".encode(),
    }
    if kind == "huge":
        with open(p, "wb") as f:
            f.truncate(51 * 2**20)  # sparse: over the limit without writing 51 MB
    elif kind == "link":
        p.symlink_to(root / ".env")
    else:
        p.write_bytes(writes[kind])
    return p


UPLOADS = ["empty", "binary", "png", "nul", "gbk", "utf16", "json", "env", "headers", "long", "markup_header", "huge",
           "link"]


@pytest.mark.parametrize("kind", UPLOADS)
@pytest.mark.parametrize("lang", LANGS)
def test_a_bad_upload_gets_a_friendly_answer_on_the_data_tab(world, kind, lang):
    visitor = parent(lang=lang)
    src = _upload(world.root, kind)
    shown = run_case(world, data_tab.on_upload, str(src), visitor, allow=(src,))
    md = data_tab.on_upload(str(src), visitor)[0]
    assert no_remote_markup(md)  # what the file says is quoted as text, never rendered
    if kind in ("headers", "long"):
        assert t("data.ready", lang) in md or t("data.not_ready", lang) in md
    else:
        assert t("data.problem", lang) in md or t("data.not_ready", lang) in md, md[:300]
    if kind in ("huge", "link"):  # refused before copying, in the page's language
        assert core_says(md, "too_big" if kind == "huge" else "unreadable", lang)
        assert workspace.list_datasets(visitor.scope) == []
    assert FAKE_KEY not in shown


@pytest.mark.parametrize("kind", ["empty", "binary", "env", "huge", "link"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_bad_upload_on_the_training_tab_is_kept_or_refused_kindly(world, kind, lang):
    visitor = parent(lang=lang)
    src = _upload(world.root, kind)
    shown = run_case(world, training.take_upload, str(src), visitor, allow=(src,))
    if kind in ("huge", "link"):  # refused before copying
        assert core_says(shown, "too_big" if kind == "huge" else "unreadable", lang)
        assert says(shown, t("ft.hint_data", lang)) and not says(shown, t("err.lead", "zh"))
        assert workspace.list_datasets(visitor.scope) == []
    else:  # kept as the parent's own upload; its check says what is wrong, without quoting a secret
        [name] = workspace.list_datasets(visitor.scope)
        report = run_case(world, training.check_dataset, name, visitor)
        assert "**" in report or "```" in report


# --- 10,000-character fields everywhere -----------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_ten_thousand_character_fields_on_every_tab(world, lang):
    visitor = parent(lang=lang)
    out = run_case(world, lambda: list(story.tell_story(LONG, LONG, LONG, lang, LONG, "tiny", LONG,
                                                        story.TellSession(), visitor=visitor)))
    assert any(core_says(out, what, lang) for what in ("length", "name")) and not world.engine.prompts
    out = run_case(world, data_tab.run_generate, "world", [LONG], [LONG], [LONG], 1, 1, LONG, "zh", LONG, "csv",
                   data_tab.DataSession(), visitor)
    assert "⚠️" in out and workspace.list_datasets(visitor.scope) == []
    out = run_case(world, training.preview, *form(data=LONG, val=LONG, name=LONG), visitor)
    assert says(out, t("ft.not_ready", lang, e="")) and core_says(out, "dataset", lang)
    numbers = {k: LONG for k in ("epochs", "batch", "lr", "lr_mult", "steps", "mix", "lora_r", "seed")}
    out = run_case(world, training.launch, *form(data=LONG, **numbers), visitor)
    assert says(out, t("ft.not_ready", lang, e="")) and t("ft.field.epochs", lang) in out
    assert visitor.jobs().list_jobs() == []
    out = run_case(world, training.poll, LONG, visitor)
    assert t("ft.no_lessons", lang) in out
    assert run_case(world, page().unlock, LONG) == "False"  # a wrong password is just wrong


# --- markup in the input and in the model's output ------------------------------------------------
def test_model_output_goes_to_a_plain_text_box_and_errors_are_escaped(world, monkeypatch):
    text = "从前有一位英雄。" + " ".join(MARKUP) + " 完。"
    world.engine.text = text
    out = list(story.tell_story("唐", "隐形", "轻松", "zh", 100, "tiny", 0.8, story.TellSession(),
                                visitor=Visitor(True)))
    assert out[-1][0] == text  # the text itself, to a gr.Textbox: shown as typed, never rendered
    failing = ReplayEngine(text, fail_after=5)
    monkeypatch.setattr(studio, "_get_engine", lambda m: failing)
    from storyteller.errors import ServiceError

    def broken(*a, **k):
        raise ServiceError(f"Server said {MARKUP[0]} {MARKUP[1]}")
    monkeypatch.setattr(failing, "stream", broken)
    status = list(story.tell_story("唐", "隐形", "轻松", "zh", 100, "tiny", 0.8, story.TellSession()))[-1][1]
    assert "Server said" in status and no_remote_markup(status)
    assert t("err.lead", "zh") in status  # an English-only detail on a Chinese page says so first
    assert "![x](http://evil.example/x.png)" in rendered(status)  # shown as typed
    from storyteller.ui.app import build_ui

    demo = build_ui(public=True)
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "story-text")
    assert isinstance(box, gr.Textbox) and not box.interactive


@pytest.mark.parametrize("lang", LANGS)
def test_markup_typed_into_the_story_fields_reaches_no_markdown(world, lang):
    out = list(story.tell_story(*MARKUP[:3], lang, 100, MARKUP[3], 0.8, story.TellSession(), visitor=page(lang=lang)))
    status = out[-1][1]
    # refused for what it says (the learned check reads a link or a tag as no story's) or for its shape
    assert (core_says(status, "content", lang) or core_says(status, "name", lang)) and no_remote_markup(status)
    out = list(story.tell_story("唐", "隐形", "轻松", lang, 100, MARKUP[3], 0.8, story.TellSession(),
                                visitor=page(lang=lang)))
    status = out[-1][1]
    assert core_says(status, "model", lang) and no_remote_markup(status) and not world.engine.prompts


# --- another family's jobs ------------------------------------------------------------------------
@pytest.fixture
def other_job(world):
    from storyteller.finetune import JobSpec

    owner = Visitor(True)
    job = owner.jobs().create_job(JobSpec(base_model="tiny", train_file="x.csv"), "their-model", status="failed")
    return job


@pytest.mark.parametrize("handler", ["poll", "cancel", "resume", "try_it"])
def test_another_family_s_job_id_reads_as_no_such_job(world, other_job, handler):
    me = parent()
    shown = run_case(world, getattr(training, handler), other_job.id, me)
    assert "their-model" not in shown
    assert me.jobs().list_jobs() == [] and Visitor(False).jobs().get_job(other_job.id).status == "failed"


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "' OR 1=1 --", "%", "*", None, 123, ["job"], LONG])
def test_garbage_job_ids_are_harmless(world, other_job, job_id):
    for handler in (training.poll, training.cancel, training.resume, training.try_it):
        shown = run_case(world, handler, job_id, parent())
        assert "their-model" not in shown


def test_the_local_single_user_app_sees_every_job(world, other_job):
    assert [j.id for j in Visitor(False).jobs().list_jobs()] == [other_job.id]


# --- the parent gate ------------------------------------------------------------------------------
# The parent tabs' handlers (Data, its preference box, Training), as the page wires them. Each one a
# locked page can trigger either refuses with the gate's words (GATED), or answers nothing at all
# (QUIET: timers, focus and language events, which must not raise a toast every tick), or touches
# nothing of a family's (OPEN).
GATED = [
    (data_tab.run_generate, ("world", ["唐"], ["隐形"], ["轻松"], 1, 1, "", "zh", "s", "csv", data_tab.DataSession())),
    (data_tab.on_upload, ("{csv}",)),
    (data_tab.run_prepare, ("{csv}", "chat", 0.1, 42, {})),
    (preferences.counts, ()), (preferences.run_export, ("trl",)),
    (training.preview, form(data="s.csv")), (training.launch, form(data="s.csv")),
    (training.cancel, ("job-x",)), (training.resume, ("job-x",)), (training.try_it, ("job-x",)),
    (training.take_upload, ("{csv}",)), (training.use_data_tab_dataset, ("{csv}",)),
]
QUIET = [(training.poll, (None,), (gr.skip(),) * 7), (training.check_dataset, ("s.csv",), ""),
         (training.replan, form(data="s.csv"), (gr.skip(),) * 3), (training.datasets, (), gr.skip()),
         (training._provider_fields, ("openai", "sft"), (gr.skip(),) * 9), (preferences._quiet_counts, (), gr.skip()),
         (training.objective_for, ("s.csv", "sft"), gr.skip())]
OPEN = {"data.stop_generate", "data.story_language",  # this page's own stop button; the presets' words
        "training._review_field"}  # shows or hides a slider: reads and changes nothing of a family's


def _name(fn) -> str:
    return f"{fn.__module__.split('.')[-1]}.{fn.__name__}"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("fn, args", GATED, ids=[_name(f) for f, _ in GATED])
@pytest.mark.parametrize("lang", LANGS)
def test_a_page_no_parent_unlocked_can_do_nothing_on_the_parent_tabs(world, fn, args, lang):
    csv = str(stories_csv(world.root / "g.csv"))
    args = tuple(a.replace("{csv}", csv) if isinstance(a, str) else a for a in args)
    visitor = page(lang=lang)
    shown = run_case(world, fn, *args, visitor)
    assert shown == repr(f"gr.Error: {t('gate.not_parent', lang)}")  # the gate's words, and nothing else
    assert _files(workspace.datasets_dir(None)) == [] and visitor.jobs().list_jobs() == []


@pytest.mark.parametrize("fn, args, nothing", QUIET, ids=[_name(f) for f, _, _ in QUIET])
def test_a_locked_page_s_quiet_handlers_answer_nothing(world, fn, args, nothing):
    visitor = page()
    stories_csv(workspace.datasets_dir(visitor.scope) / "s.csv")  # even with a file of its family's there
    assert run_case(world, fn, *args, visitor) == repr(nothing)
    assert visitor.jobs().list_jobs() == [] and not world.engine.prompts


def test_every_handler_of_the_parent_tabs_is_gated_or_quiet(world):
    """A handler added to (or renamed on) a parent tab must join one of the lists above."""
    from storyteller.ui.app import build_ui

    demo = build_ui(public=True)
    wired = set()
    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if fn is None or fn.__module__ not in (data_tab.__name__, preferences.__name__, training.__name__):
            continue
        if fn.__name__ == "<lambda>":  # a lambda that calls one handler (`lambda v=None: datasets(v)`)
            [called] = [n for n in fn.__code__.co_names if callable(getattr(sys.modules[fn.__module__], n, None))]
            fn = getattr(sys.modules[fn.__module__], called)
        wired.add(_name(fn))
    known = {_name(f) for f, _ in GATED} | {_name(f) for f, _, _ in QUIET} | OPEN
    assert wired - known == set()
    assert known - wired == set()  # and every handler listed is one the page really calls


def test_the_parent_password_unlocks_and_guessing_is_limited(world):
    v = Visitor(True)
    assert not v.unlock("") and not v.unlock(None) and not v.unlock("wrong") and not v.unlock("CORRECT HORSE")
    assert not v.unlock("correct horse ") and not v.trusted
    assert not v.unlock("correct horse")  # the sixth try of the minute: refused whatever it says
    world.clock.advance(61)
    assert v.unlock("correct horse") and v.trusted


def test_without_a_password_nothing_unlocks(world, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.delenv("STORYTELLER_PUBLIC__PARENT_PASSWORD")
    get_settings.cache_clear()
    v = Visitor(True)
    assert not v.unlock("correct horse") and not v.unlock("") and not v.trusted


# --- stories per minute ---------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_the_eleventh_story_in_a_minute_gets_a_friendly_message(world, lang):
    v = page(lang=lang)
    v.session, v.address = "s1", "203.0.113.5"
    told = [list(story.tell_story("唐", "隐形", "轻松", lang, 50, "tiny", 0.8, story.TellSession(), visitor=v))
            for _ in range(11)]
    assert all(frames[-1][0] for frames in told[:10])
    refused = told[10][-1][1]
    assert refused == f"**{escape_markdown(t('gate.too_many', lang, s=60))}**" and len(world.engine.prompts) == 10
    nearby = page(lang=lang)  # a new session from the same address: the address's minute is used up too
    nearby.session, nearby.address = "s2", "203.0.113.5"
    refused = list(story.tell_story("唐", "隐形", "轻松", lang, 50, "tiny", 0.8, story.TellSession(),
                                    visitor=nearby))[-1][1]
    assert escape_markdown(t("gate.too_many", lang, s=60)) in refused and len(world.engine.prompts) == 10
    world.clock.advance(60)
    assert list(story.tell_story("唐", "隐形", "轻松", lang, 50, "tiny", 0.8, story.TellSession(), visitor=v))[-1][0]


def test_stories_are_saved_as_the_family_s_own(world):
    from storyteller.store import Store

    a, b = Visitor(True), Visitor(True)
    list(story.tell_story("唐", "隐形", "轻松", "zh", 50, "tiny", 0.8, story.TellSession(), visitor=a))
    assert len(a.stories().stories()) == 1 and b.stories().stories() == []
    assert len(Store().stories()) == 1  # the CLI and the local app see every story

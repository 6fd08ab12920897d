"""Hostile input against every tab's handlers, called in process as Gradio calls them: typed paths,
links and `.env`, format-spec bombs, bad uploads, 10,000-character fields, markup in and out,
another family's job ids, typed model ids of every kind, and a page no parent unlocked.

Each case must end in a friendly message (a return value or gr.Error, never another exception),
leak nothing (the fake key and the secret file's marker appear in no output), and open no file
outside the workspace: a Python audit hook records every file opened while a case runs.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from pathlib import Path

import gradio as gr
import pytest

from storyteller import ratelimit, studio
from storyteller.data import workspace
from storyteller.ui import data as data_tab
from storyteller.ui import story
from storyteller.ui import training
from storyteller.ui.visitor import Visitor
from tests.test_data_prepare import stories_csv
from tests.ui.conftest import ReplayEngine

FAKE_KEY = "sk-FAKE-hostile-suite-0123456789"
MARKER = "TOP-SECRET-MARKER-7f3a"
LONG = "长" * 10_000
MARKUP = ['![x](http://evil.example/x.png)', '<img src="http://evil.example/y.png">',
          '<a href="http://evil.example">click</a>', '[link](http://evil.example/z)']

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


def parent(public: bool = True) -> Visitor:
    v = Visitor(public)
    v.parent = True
    return v


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
def test_a_typed_dataset_path_opens_nothing_outside_the_workspace(world, name, public):
    visitor = parent(public)
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
    assert "请从列表里选一个数据集" in shown  # the page's language: Chinese unless the switch says English
    shown = run_case(world, training.preview, "local", "tiny", name, "", "", None, None, None, None, None, 0.5, False,
                     visitor)
    assert "还不能开始" in shown and "请从列表里选一个数据集" in shown


def test_the_family_s_own_dataset_is_used(world):
    visitor = parent()
    saved = workspace.save_upload(stories_csv(world.root / "mine.csv"), visitor.scope)
    name = workspace.relative_name(saved, visitor.scope)
    assert name == "uploads/mine.csv" and workspace.list_datasets(visitor.scope) == [name]
    assert workspace.list_datasets(Visitor(True).scope) == []  # another family sees none of it
    assert "个故事" in run_case(world, training.check_dataset, name, visitor)


# --- typed model ids: only what the picker offers -------------------------------------------------
MODEL_IDS = ["{root}/models/tiny", "../models/tiny", "models/tiny", "./tiny", "tiny/../tiny", "~/tiny", "~",
             "..", ".", "/", "/etc", "Qwen/Qwen2.5-0.5B-Instruct", "openai:gpt-4o", "gpt-4o", "o1-preview",
             "davinci-002", "chatgpt-4o-latest", "openai:", "tiny\x00", "models\\tiny", "x" * 10_000,
             '<img src="http://evil.example/x.png">', "![x](http://evil.example/x.png)", "file:///etc/passwd",
             "hf://org/name", "https://huggingface.co/org/name"]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_a_typed_model_id_on_the_story_tab_is_refused_kindly(world, model_id):
    model_id = model_id.format(root=world.root)
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", "zh", 100, model_id, 0.8,
                                                        story.TellSession(), visitor=Visitor(True))))
    assert "choose a model from the list" in out and not world.engine.prompts
    assert "http\\\\://evil" not in out or "<img" not in out.replace("\\\\<", "")  # quoted, never as markup


@pytest.mark.parametrize("model_id", ["gpt-4o-mini", "openai:gpt-4o-mini", "ft:gpt-4o-mini-2024-07-18:acme::abc"])
def test_a_model_that_costs_money_needs_a_parent(world, model_id):
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", "zh", 100, model_id, 0.8,
                                                        story.TellSession(), visitor=Visitor(True))))
    assert "costs money" in out and not world.engine.prompts
    out = run_case(world, lambda: list(story.tell_story("唐", "隐形", "轻松", "zh", 100, model_id, 0.8,
                                                        story.TellSession(), visitor=parent())))
    assert world.engine.prompts  # a parent may (the fake engine stands in for the paid model)


@pytest.mark.parametrize("model_id", ["{root}/models/tiny", "../models/tiny", "Qwen/Qwen2.5-0.5B-Instruct",
                                      "openai:gpt-4o", "x" * 10_000])
def test_a_typed_model_id_on_the_data_and_training_tabs_is_refused_kindly(world, model_id):
    model_id = model_id.format(root=world.root)
    visitor = parent()
    out = run_case(world, data_tab.run_generate, model_id, ["唐"], ["隐形"], ["轻松"], 1, 1, "", "zh", "s", "csv",
                   data_tab.DataSession(), visitor)
    assert "choose a model from the list" in out and not list(workspace.datasets_dir(visitor.scope).glob("*.csv"))
    name = workspace.relative_name(workspace.save_upload(stories_csv(world.root / "t.csv"), visitor.scope),
                                   visitor.scope)
    out = run_case(world, training.preview, "local", model_id, name, "", "", None, None, None, None, None, 0.5,
                   False, visitor)
    assert "列表里没有这个模型" in out


# --- the prompt template: only bare placeholders --------------------------------------------------
TEMPLATES = ["{length:>999999999}", "{dynasty:>999999999}{power:^99999999}", "{length:{dynasty}}", "{dynasty!r}",
             "{dynasty!s:>9999}", "{dynasty.__class__}", "{hero.__init__.__globals__}", "{hero[0]}", "{}", "{0}",
             "{villain}", "unclosed {dynasty", "stray } brace", "{" * 5_000, LONG]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t[:30])
def test_a_template_bomb_is_refused_before_any_story(world, template):
    visitor = parent()
    out = run_case(world, data_tab.run_generate, "world", ["唐"], ["隐形"], ["轻松"], 1, 2, template, "zh", "bomb",
                   "csv", data_tab.DataSession(), visitor)
    assert "template" in out and "⚠️" in out
    assert not (workspace.datasets_dir(visitor.scope) / "bomb.csv").exists()


def test_too_many_stories_are_refused_in_public_mode(world):
    visitor = parent()
    many = [f"朝代{i}" for i in range(20)]
    out = run_case(world, data_tab.run_generate, "world", many, many, ["轻松"], 1, 16, "", "zh", "big", "csv",
                   data_tab.DataSession(), visitor)
    assert "at most 100" in out and not (workspace.datasets_dir(visitor.scope) / "big.csv").exists()


def test_a_good_template_still_works(world):
    visitor = parent()
    out = run_case(world, data_tab.run_generate, "world", ["唐"], ["隐形"], ["轻松"], 2, 1, "写{dynasty}朝{hero}的故事",
                   "zh", "ok", "csv", data_tab.DataSession(), visitor)
    assert "Done" in out and (workspace.datasets_dir(visitor.scope) / "ok.csv").is_file()


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
def test_a_bad_upload_gets_a_friendly_answer_on_the_data_tab(world, kind):
    visitor = parent()
    src = _upload(world.root, kind)
    shown = run_case(world, data_tab.on_upload, str(src), visitor, allow=(src,))
    md = data_tab.on_upload(str(src), visitor)[0]
    assert no_remote_markup(md)  # what the file says is quoted as text, never rendered
    if kind in ("headers", "long"):
        assert "可以训练" in md or "不能训练" in md
    else:
        assert "这个文件有问题" in md or "不能训练" in md, md[:300]
    assert FAKE_KEY not in shown


@pytest.mark.parametrize("kind", ["empty", "binary", "env", "huge", "link"])
def test_a_bad_upload_on_the_training_tab_is_kept_or_refused_kindly(world, kind):
    visitor = parent()
    src = _upload(world.root, kind)
    shown = run_case(world, training.take_upload, str(src), visitor, allow=(src,))
    if kind in ("huge", "link"):  # refused before copying
        assert "could not be read" in shown or "limit" in shown
        assert workspace.list_datasets(visitor.scope) == []
    else:  # kept as the parent's own upload; its check says what is wrong, without quoting a secret
        [name] = workspace.list_datasets(visitor.scope)
        report = run_case(world, training.check_dataset, name, visitor)
        assert "**" in report or "```" in report


# --- 10,000-character fields everywhere -----------------------------------------------------------
def test_ten_thousand_character_fields_on_every_tab(world):
    visitor = parent()
    out = run_case(world, lambda: list(story.tell_story(LONG, LONG, LONG, "zh", LONG, "tiny", LONG,
                                                        story.TellSession(), visitor=visitor)))
    assert "Temperature" in out or "Length" in out or "长度" in out or "请" in out
    out = run_case(world, data_tab.run_generate, "world", [LONG], [LONG], [LONG], 1, 1, LONG, "zh", LONG, "csv",
                   data_tab.DataSession(), visitor)
    assert "⚠️" in out
    out = run_case(world, training.preview, "local", "tiny", LONG, LONG, LONG, None, None, None, None, None, 0.5,
                   False, visitor)
    assert "还不能开始" in out
    out = run_case(world, training.poll, LONG, visitor)
    assert "还没有开始学过" in out
    assert not run_case(world, visitor.unlock, LONG) or True  # a wrong password is just wrong


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
    assert "![x](http://evil.example/x.png)" in rendered(status)  # shown as typed
    from storyteller.ui.app import build_ui

    demo = build_ui(public=True)
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "story-text")
    assert isinstance(box, gr.Textbox) and not box.interactive


def test_markup_typed_into_the_story_fields_reaches_no_markdown(world):
    out = list(story.tell_story(*MARKUP[:3], "zh", 100, MARKUP[3], 0.8, story.TellSession(), visitor=Visitor(True)))
    status = out[-1][1]
    assert "请用几个简单的字" in status and no_remote_markup(status)  # markup is not the shape of a name
    out = list(story.tell_story("唐", "隐形", "轻松", "zh", 100, MARKUP[3], 0.8, story.TellSession(), visitor=Visitor(True)))
    status = out[-1][1]
    assert "choose a model" in status and no_remote_markup(status)


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
GATED = [
    (data_tab.run_generate, ("world", ["唐"], ["隐形"], ["轻松"], 1, 1, "", "zh", "s", "csv", data_tab.DataSession())),
    (data_tab.on_upload, ("{csv}",)),
    (data_tab.run_prepare, ("{csv}", "chat", 0.1, 42, {})),
    (training.preview, ("local", "tiny", "s.csv", "", "", None, None, None, None, None, 0.5, False)),
    (training.launch, ("local", "tiny", "s.csv", "", "", None, None, None, None, None, 0.5, False)),
    (training.cancel, ("job-x",)), (training.resume, ("job-x",)), (training.try_it, ("job-x",)),
    (training.take_upload, ("{csv}",)), (training.use_data_tab_dataset, ("{csv}",)),
]


@pytest.mark.parametrize("fn, args", GATED, ids=[f"{f.__module__.split('.')[-1]}.{f.__name__}" for f, _ in GATED])
def test_a_page_no_parent_unlocked_can_do_nothing_on_the_parent_tabs(world, fn, args):
    csv = str(stories_csv(world.root / "g.csv"))
    args = tuple(a.replace("{csv}", csv) if isinstance(a, str) else a for a in args)
    visitor = Visitor(True)
    shown = run_case(world, fn, *args, visitor)
    assert "parent needs to unlock" in shown
    assert workspace.list_datasets(None) == [] and visitor.jobs().list_jobs() == []
    assert training.poll(None, visitor) == (gr.skip(),) * 7 and training.check_dataset("s.csv", visitor) == ""


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
def test_the_eleventh_story_in_a_minute_gets_a_friendly_message(world):
    v = Visitor(True)
    v.session, v.address = "s1", "203.0.113.5"
    told = [list(story.tell_story("唐", "隐形", "轻松", "zh", 50, "tiny", 0.8, story.TellSession(), visitor=v))
            for _ in range(11)]
    assert all(t[-1][0] for t in told[:10])
    assert "一分钟" in told[10][-1][1] and "60 seconds" in told[10][-1][1] and len(world.engine.prompts) == 10
    other = Visitor(True)  # a new session from the same address: the address's minute is used up too
    other.session, other.address = "s2", "203.0.113.5"
    assert "一分钟" in list(story.tell_story("唐", "隐形", "轻松", "zh", 50, "tiny", 0.8, story.TellSession(),
                                          visitor=other))[-1][1]
    world.clock.advance(60)
    assert list(story.tell_story("唐", "隐形", "轻松", "zh", 50, "tiny", 0.8, story.TellSession(), visitor=v))[-1][0]


def test_stories_are_saved_as_the_family_s_own(world):
    from storyteller.store import Store

    a, b = Visitor(True), Visitor(True)
    list(story.tell_story("唐", "隐形", "轻松", "zh", 50, "tiny", 0.8, story.TellSession(), visitor=a))
    assert len(a.stories().stories()) == 1 and b.stories().stories() == []
    assert len(Store().stories()) == 1  # the CLI and the local app see every story

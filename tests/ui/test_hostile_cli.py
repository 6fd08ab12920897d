"""Hostile input at the command line. The CLI is the machine's own user, so it keeps its paths;
still, every bad path, file, template, id or field gets a friendly message (exit 1, no traceback),
a file that is not a dataset is never quoted back (a `.env` line holds a key), and a model's
terminal escape sequences never reach the terminal."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from storyteller.cli import app
from storyteller.cli import commands  # noqa: F401  (registers the commands)

FAKE_KEY = "sk-FAKE-cli-suite-5d1e"
runner = CliRunner()


@pytest.fixture
def files(settings_env, tmp_path, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    made = {
        ".env": f"OPENAI_API_KEY={FAKE_KEY}\nOPENAI_BASE_URL=http://127.0.0.1:9/v1\n".encode(),
        "empty.csv": b"",
        "binary.csv": bytes(range(256)) * 20,
        "nul.csv": "index,dynasty,super_power,story_type,story\n0,唐,隐形,轻松,好\x00\n".encode(),
        "gbk.csv": "index,dynasty,super_power,story_type,story\n0,唐,隐形,轻松,一个故事\n".encode("gbk"),
        "list.jsonl": b'[{"story": "x"}]',
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def friendly(result, *, code: int = 1) -> str:
    out = result.output
    assert result.exit_code == code, out
    assert "Traceback" not in out and FAKE_KEY not in out
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return out


@pytest.mark.parametrize("name", [".env", "empty.csv", "binary.csv", "nul.csv", "gbk.csv", "list.jsonl", "missing.csv",
                                  "."])
def test_data_check_on_a_file_that_is_not_a_dataset(files, name):
    out = friendly(runner.invoke(app, ["data", "check", str(files / name)]))
    assert "Error" in out or "line" in out


@pytest.mark.parametrize("model_id", ["/etc", "../../etc/passwd", "~/.ssh", ".env", "x" * 10_000, "bad\x00id",
                                      "<img src=http://evil.example/x.png>"])
def test_tell_with_a_model_id_that_names_nothing(files, model_id):
    out = friendly(runner.invoke(app, ["tell", "--model", model_id]))
    assert "no model" in out.lower() or "missing" in out.lower()
    assert len(out) < 2000  # the id is quoted short, not echoed whole


@pytest.mark.parametrize("template", ["{length:>999999999}", "{dynasty!r}", "{hero.__class__}", "{0}", "{", "{x}"])
def test_data_generate_refuses_a_template_bomb(files, template):
    out = friendly(runner.invoke(app, ["data", "generate", "--source", "world", "-d", "唐", "-p", "隐形", "-s", "轻松",
                                       "--template", template, "--out", str(files / "out.csv")]))
    assert "template" in out
    assert not (files / "out.csv").exists() or "故事" not in (files / "out.csv").read_text(encoding="utf-8")


def test_finetune_status_of_a_job_that_is_not_there(files):
    out = friendly(runner.invoke(app, ["finetune", "status", "../../etc/passwd"]))
    assert "no fine-tuning job" in out


def test_a_model_s_terminal_escapes_never_reach_the_terminal(files, monkeypatch):
    from storyteller import studio
    from tests.ui.conftest import ReplayEngine

    engine = ReplayEngine("从前有一位英雄。\x1b]8;;http://evil.example\x07点我\x1b]8;;\x07\x1b[2J\x1b[31m红色\x1b[0m。")
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    result = runner.invoke(app, ["tell", "--model", "replay"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "点我" in result.stdout

"""Settings: OPENAI_API_KEY and OPENAI_BASE_URL count in a `.env` file, as SDK users expect."""

from __future__ import annotations

import pytest

from storyteller.config import get_settings
from storyteller.engines.base import Prompt
from storyteller.engines.openai import OpenAIChatEngine
from storyteller.engines.registry import clear_engines, list_models
from storyteller.prompts import StoryRequest


@pytest.fixture
def dotenv_cwd(tmp_path, monkeypatch):
    """A working folder whose `.env` the test writes; nothing OpenAI in the process environment."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STORYTELLER_OPENAI__API_KEY", "STORYTELLER_OPENAI__BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    clear_engines()
    yield tmp_path / ".env"
    clear_engines()
    get_settings.cache_clear()


def test_key_and_server_only_in_dotenv_tell_a_story(dotenv_cwd, fake_openai):
    dotenv_cwd.write_text(f"OPENAI_API_KEY=sk-from-dotenv\nOPENAI_BASE_URL={fake_openai.base_url}\n")
    fake_openai.api_key = "sk-from-dotenv"  # the fake refuses any other key
    fake_openai.queue("从前有一位英雄。")

    assert "gpt-4o-mini" in [m.id for m in list_models(include_remote=False)]  # the picker offers OpenAI
    prompt = Prompt.for_story(StoryRequest(dynasty="唐", power="隐形", style="轻松"), max_new_tokens=20)
    assert OpenAIChatEngine("gpt-4o-mini").prompt(prompt).text() == "从前有一位英雄。"


def test_process_environment_wins_over_dotenv(dotenv_cwd, monkeypatch):
    dotenv_cwd.write_text("OPENAI_API_KEY=sk-from-dotenv\nOPENAI_BASE_URL=http://127.0.0.1:1/v1\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:2/v1")
    s = get_settings().openai
    assert s.resolved_key().get_secret_value() == "sk-from-env"
    assert s.resolved_base_url() == "http://127.0.0.1:2/v1"


def test_storyteller_setting_wins_over_both(dotenv_cwd, monkeypatch):
    dotenv_cwd.write_text("OPENAI_API_KEY=sk-from-dotenv\nSTORYTELLER_OPENAI__API_KEY=sk-ours\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert get_settings().openai.resolved_key().get_secret_value() == "sk-ours"

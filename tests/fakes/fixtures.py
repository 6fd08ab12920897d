"""pytest fixtures for the fakes; tests/conftest.py imports them so every test can ask for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running loopback OpenAI server; `.base_url` ends in /v1. Stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def openai_env(settings_env, fake_openai, monkeypatch):
    """Settings pointing the OpenAI engines and fine-tuning at the loopback server."""
    from storyteller.config import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    return fake_openai


@pytest.fixture
def story_sample(tmp_path):
    """Twelve of the team's corpus stories in a file of their own (a small fine-tuning dataset)."""
    from storyteller.paths import CORPUS_DIR

    lines = (CORPUS_DIR / "zh_b.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    data = tmp_path / "stories.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data

"""Shared fixtures. Tests run offline: no model or dataset downloads, ever."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Every DPO/KTO job of a storyteller model in the tests still runs the story check, on two short stories.
os.environ.setdefault("STORYTELLER_TRAINING__STORY_CHECK_STORIES", "2")
os.environ.setdefault("STORYTELLER_TRAINING__STORY_CHECK_TOKENS", "80")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.fakes.fixtures import fake_openai, openai_env, story_sample  # noqa: E402,F401  (loopback OpenAI fixtures)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "ultraman_stories.csv"


# Rooms whose modules take a minute or more (a browser, a served app, a fine-tune): they run first, so
# that with the suite spread over workers (make test) none is left running one of them alone at the end.
SLOW_FIRST = ("tests/ui/", "tests/api/", "tests/test_finetune_", "tests/test_story_check")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))  # stable: a module keeps its order


@pytest.fixture
def reference_csv() -> Path:
    """The reference corpus beside the checkout; tests using it skip cleanly when absent."""
    if not SHARED_DATA.exists():
        pytest.skip("reference corpus ../shared/data/ultraman_stories.csv not present")
    return SHARED_DATA


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    """Point data, runs and the database at a temp folder; clear cached settings around it. A developer's
    `.env` is not read, so a key in it cannot change what tests see."""
    from storyteller.config import Settings, get_settings

    monkeypatch.setitem(Settings.model_config, "env_file", None)
    monkeypatch.setenv("STORYTELLER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STORYTELLER_TRAINING__RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()

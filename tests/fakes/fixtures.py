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

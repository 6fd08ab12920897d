"""Model routing, the model list (local cards, hub ids, OpenAI + the account's ft: models) and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from storyteller.engines import registry
from storyteller.engines.local_hf import LocalHFEngine
from storyteller.engines.openai import OpenAIChatEngine, OpenAICompletionEngine
from storyteller.errors import ModelNotFoundError
from tests.fakes.tiny_model import CHARS, build_tiny_model


@pytest.fixture
def env(settings_env, tmp_path, monkeypatch):
    from storyteller.config import get_settings

    models = tmp_path / "models"
    models.mkdir()
    (models / "storyteller-tiny").mkdir()
    (models / "storyteller-tiny" / "config.json").write_text("{}")
    (models / "storyteller-tiny" / "README.md").write_text(
        "---\nlicense: mit\ndescription: The embedded storyteller.\n---\n# Storyteller Tiny\n\nIgnored.\n")
    (models / "my-ft").mkdir()
    (models / "my-ft" / "config.json").write_text("{}")
    (models / "my-ft" / "README.md").write_text("# My fine-tune\n\n![badge](x)\nTrained on\nour corpus.\n\nMore.\n")
    (models / "not-a-model").mkdir()  # no config.json: not listed
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    monkeypatch.setenv("STORYTELLER_LOCAL__HUB_IDS", '["Qwen/Qwen2.5-0.5B-Instruct"]')
    get_settings.cache_clear()
    registry.clear_engines()
    yield models
    registry.clear_engines()
    get_settings.cache_clear()


def set_openai(monkeypatch, base_url: str | None, key: str | None = "sk-test"):
    from storyteller.config import get_settings

    if base_url:
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    if key:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    get_settings.cache_clear()


@pytest.mark.parametrize("model_id, cls", [
    ("storyteller-tiny", LocalHFEngine),
    ("Qwen/Qwen2.5-0.5B-Instruct", LocalHFEngine),
    ("gpt-4o-mini", OpenAIChatEngine),
    ("o3-mini", OpenAIChatEngine),
    ("openai:llama3.1", OpenAIChatEngine),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", OpenAIChatEngine),
    ("babbage-002", OpenAICompletionEngine),
    ("davinci-002", OpenAICompletionEngine),
    ("ft:babbage-002:acme::def", OpenAICompletionEngine),
    ("ft:davinci-002:acme:custom:ghi", OpenAICompletionEngine),
    ("openai:ft:babbage-002:acme::def", OpenAICompletionEngine),
])
def test_routing(env, model_id, cls):
    engine = registry.get_engine(model_id)
    assert type(engine) is cls
    assert registry.get_engine(model_id) is engine  # cached


def test_default_and_paths(env):
    engine = registry.get_engine(None)
    assert engine.model_id == "storyteller-tiny" and engine.source == str(env / "storyteller-tiny")
    assert isinstance(registry.get_engine(str(env / "my-ft")), LocalHFEngine)
    assert registry.get_engine("Qwen/Qwen2.5-0.5B-Instruct").is_hub


def test_a_folder_without_config_is_not_a_model_for_any_path(env):
    """A half-copied folder that shares a Hub id's name: the registry and the local engine both
    take the id as the Hub's (one rule), not the folder for one and the Hub for the other."""
    (env / "acme" / "story-7b").mkdir(parents=True)
    engine = registry.get_engine("acme/story-7b")
    assert isinstance(engine, LocalHFEngine) and (engine.source, engine.is_hub) == ("acme/story-7b", True)
    assert (LocalHFEngine("acme/story-7b").source, LocalHFEngine("acme/story-7b").is_hub) == ("acme/story-7b", True)


@pytest.mark.parametrize("model_id, base", [
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", "gpt-4o-mini-2024-07-18"),
    ("openai:ft:davinci-002:acme:custom:ghi", "davinci-002"),
    ("ft:babbage-002", None),  # no organisation: not an id OpenAI gives out
    ("ft:", None),
    ("ft::acme::abc", None),
    ("gpt-4o-mini", None),
])
def test_ft_ids_read_alike_for_routing_and_pricing(env, model_id, base):
    from storyteller.data import pricing

    legacy = base in ("babbage-002", "davinci-002")
    assert isinstance(registry.get_engine(model_id), OpenAICompletionEngine) == legacy
    price = pricing.price_for(model_id)
    assert (price is not None and price[1]) == (base is not None)  # billed as a fine-tune only when it is one


@pytest.mark.parametrize("bad", ["nonsense", "not-a-model", "../../etc", "a/b/c", "x" * 5000, "bad\x00id"])
def test_unknown_id_lists_what_exists(env, bad):
    with pytest.raises(ModelNotFoundError) as err:
        registry.get_engine(bad)
    assert "storyteller-tiny" in str(err.value) and "my-ft" in str(err.value)


def test_list_without_key_has_local_and_hub_only(env):
    models = registry.list_models()
    assert [m.id for m in models] == ["storyteller-tiny", "my-ft", "Qwen/Qwen2.5-0.5B-Instruct"]
    tiny, ft, hub = models
    assert (tiny.label, tiny.description, tiny.kind) == ("Storyteller Tiny", "The embedded storyteller.", "local")
    assert (ft.label, ft.description) == ("My fine-tune", "Trained on our corpus.")
    assert hub.kind == "hub" and hub.description


def test_list_with_key_adds_account_fine_tunes(env, fake_openai, monkeypatch):
    set_openai(monkeypatch, fake_openai.base_url)
    ids = [m.id for m in registry.list_models() if m.kind == "openai"]
    assert ids == ["gpt-4o-mini", "ft:babbage-002:acme::def456", "ft:gpt-4o-mini-2024-07-18:acme::abc123"]
    assert fake_openai.requests_to("/v1/models")
    assert len([m for m in registry.list_models(include_remote=False) if m.kind == "openai"]) == 1


@pytest.mark.parametrize("fault", [dict(status=500, times=9), dict(status=401), dict(close=True, times=9)])
def test_models_list_errors_are_skipped(env, fake_openai, monkeypatch, fault):
    set_openai(monkeypatch, fake_openai.base_url)
    fake_openai.fail(**fault)
    ids = [m.id for m in registry.list_models()]
    assert "storyteller-tiny" in ids and "gpt-4o-mini" in ids
    assert not [i for i in ids if i.startswith("ft:")]


def test_keyless_local_server_lists_models_without_key(env, fake_openai, monkeypatch):
    set_openai(monkeypatch, fake_openai.base_url, key=None)
    monkeypatch.setenv("STORYTELLER_OPENAI__MODELS", '["llama3.1"]')
    from storyteller.config import get_settings

    get_settings.cache_clear()
    openai_ids = [m.id for m in registry.list_models() if m.kind == "openai"]
    assert openai_ids[0] == "openai:llama3.1"
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-no-key-required"


def test_cli_models(env, tmp_path):
    from storyteller.cli import app, commands  # noqa: F401

    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    assert [m["id"] for m in json.loads(result.output)][0] == "storyteller-tiny"
    result = CliRunner().invoke(app, ["models", "--offline"])
    assert result.exit_code == 0 and "Storyteller Tiny" in result.output and "hub" in result.output


def test_real_tiny_model_through_registry(env):
    build_tiny_model(env / "tiny-real")
    from storyteller.engines.base import Prompt
    from storyteller.prompts import StoryRequest

    engine = registry.get_engine("tiny-real")
    prompt = Prompt.for_story(StoryRequest(dynasty="宋", power="飞行", style="搞笑"), max_new_tokens=20, seed=1)
    text = engine.prompt(prompt).text()
    assert isinstance(engine, LocalHFEngine) and engine.source == str(env / "tiny-real")
    assert text and set(text) <= set(CHARS), "written by this model's character tokenizer"
    assert len(text) <= engine.last_new_tokens <= 20  # at most one character per token, within the limit
    assert registry.get_engine("tiny-real").prompt(prompt).text() == text  # the same seed tells it again


def test_missing_default_model_says_how_to_rebuild(env):
    import shutil

    shutil.rmtree(env / "storyteller-tiny")
    with pytest.raises(ModelNotFoundError) as err:
        registry.get_engine()
    assert "storyteller.model.build" in str(err.value)

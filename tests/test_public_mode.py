"""The rules of public mode, one by one: where the app binds, when it is public, who a client is,
what a web model id may name, the bounded engine cache, the limiter's clock, the training
worker's environment, and each family's folder."""

from __future__ import annotations

import pytest

from storyteller import access, ratelimit
from storyteller.config import get_settings


@pytest.fixture
def env(settings_env, monkeypatch, tmp_path):
    for name in ("SPACE_ID", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    models = tmp_path / "models"
    for name in ("tiny", "my-ft"):
        (models / name).mkdir(parents=True)
        (models / name / "config.json").write_text("{}")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.json").write_text("{}")
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    monkeypatch.setenv("STORYTELLER_LOCAL__HUB_IDS", '["Qwen/Qwen2.5-0.5B-Instruct"]')
    get_settings.cache_clear()

    def setenv(**values):
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
    return setenv


def test_locally_the_app_binds_loopback_and_is_not_public(env):
    assert access.bind_address() == ("127.0.0.1", 7860)
    assert not access.is_public()


def test_a_space_binds_what_spaces_expect_and_is_public(env):
    env(SPACE_ID="family/storyteller")
    assert access.bind_address() == ("0.0.0.0", 7860) and access.is_public()
    env(GRADIO_SERVER_NAME="::", GRADIO_SERVER_PORT="7861")
    assert access.bind_address() == ("::", 7861)


def test_gradio_s_variables_win_over_defaults_and_ours_over_theirs(env):
    env(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT="8000")
    assert access.bind_address() == ("0.0.0.0", 8000) and access.is_public()  # not loopback: public
    env(STORYTELLER_UI__HOST="127.0.0.1", STORYTELLER_UI__PORT="9000")
    assert access.bind_address() == ("127.0.0.1", 9000) and not access.is_public()
    assert access.bind_address("localhost", 9100) == ("localhost", 9100)


def test_the_setting_decides_when_set(env):
    env(STORYTELLER_PUBLIC__ENABLED="true")
    assert access.bind_address()[0] == "0.0.0.0" and access.is_public("127.0.0.1")
    env(STORYTELLER_PUBLIC__ENABLED="false", SPACE_ID="x/y")
    assert not access.is_public("0.0.0.0")


def test_a_bad_port_variable_is_a_friendly_error(env):
    from storyteller.errors import InputError

    env(GRADIO_SERVER_PORT="eighty")
    with pytest.raises(InputError, match="GRADIO_SERVER_PORT"):
        access.bind_address()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
                                            ("localhost", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.5", False), ("myhost", False), ("", False)])
def test_loopback(host, loopback):
    assert access.is_loopback(host) == loopback


def test_the_client_address_trusts_only_what_the_proxies_wrote(env):
    assert access.client_address("10.0.0.1", "6.6.6.6") == "10.0.0.1"  # no proxy: the header is the client's own
    env(SPACE_ID="a/b")  # one proxy in front: its entry is the last
    assert access.client_address("10.0.0.1", "6.6.6.6, 203.0.113.9") == "203.0.113.9"
    assert access.client_address("10.0.0.1", None) == "10.0.0.1"
    env(STORYTELLER_PUBLIC__PROXY_HOPS="2")
    assert access.client_address("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.1.1") == "203.0.113.9"


def test_owner_tokens_and_keys():
    token = access.new_owner()
    assert access.valid_owner(token) == token and len(access.owner_key(token)) == 32
    assert access.owner_key(token) != token and access.owner_key(token) == access.owner_key(token)
    for bad in (None, "", "../x", "A" * 32, token + "0", 42, {"a": 1}):
        assert access.valid_owner(bad) is None


def test_the_parent_password_is_compared_and_never_default(env):
    assert not access.parent_gate_set() and not access.check_parent_password("")
    env(STORYTELLER_PUBLIC__PARENT_PASSWORD="open sesame")
    assert access.check_parent_password("open sesame")
    for wrong in ("open sesame ", "OPEN SESAME", "", None, 1, "open"):
        assert not access.check_parent_password(wrong)
    assert "open sesame" not in repr(get_settings()) and "open sesame" not in str(get_settings().public)


# --- one resolver, two policies ---------------------------------------------------------------
def test_the_cli_keeps_paths_and_the_web_takes_only_the_list(env, tmp_path):
    from storyteller.engines.ids import route

    elsewhere = str(tmp_path / "elsewhere")
    assert route(elsewhere).kind == "local" and route(elsewhere, "web") is None
    assert route("tiny", "web").source == route("tiny").source
    assert route("Qwen/Qwen2.5-0.5B-Instruct", "web").kind == "hub"
    assert route("Qwen/Qwen3-8B").kind == "hub" and route("Qwen/Qwen3-8B", "web") is None
    assert route("gpt-4o-mini").kind == "openai" and route("gpt-4o-mini", "web") is None  # no key: not offered
    env(OPENAI_API_KEY="sk-test")
    assert route("gpt-4o-mini", "web").kind == "openai" and route("openai:gpt-4o-mini", "web").kind == "openai"
    assert route("gpt-4o", "web") is None and route("ft:gpt-4o-mini-2024-07-18:acme::x", "web").kind == "openai"


def test_the_engine_cache_keeps_only_the_last_few(env, monkeypatch):
    from storyteller.engines import registry

    registry.clear_engines()
    monkeypatch.setattr(registry, "MAX_ENGINES", 3)
    env(OPENAI_API_KEY="sk-test")
    ids = [f"openai:model-{i}" for i in range(6)]
    engines = [registry.get_engine(i) for i in ids]
    assert len(registry._engines) == 3 and list(registry._engines) == ids[3:]
    assert registry.get_engine(ids[5]) is engines[5]
    registry.clear_engines()


def test_an_engine_the_cli_built_from_a_path_is_not_handed_to_the_web(env, tmp_path):
    from storyteller.engines import registry
    from storyteller.errors import ModelNotFoundError

    registry.clear_engines()
    elsewhere = str(tmp_path / "elsewhere")
    registry.get_engine(elsewhere)
    with pytest.raises(ModelNotFoundError, match="choose a model from the list"):
        registry.get_engine(elsewhere, policy="web")
    registry.clear_engines()


# --- the limiter ------------------------------------------------------------------------------
def test_a_sliding_minute_per_key_with_a_clock_we_move():
    clock = ratelimit.FakeClock()
    limiter = ratelimit.RateLimiter(3, 60, clock=clock)
    assert [limiter.allow("s1", "a1") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("s2", "a2") and not limiter.allow("s3", "a1")  # the address is spent, whatever the session
    assert limiter.retry_after("s1") == 60
    clock.advance(30)
    assert not limiter.allow("s1") and limiter.retry_after("s1") == 30
    clock.advance(30)
    assert limiter.allow("s1", "a1")


def test_the_limiter_forgets_old_keys():
    clock = ratelimit.FakeClock()
    limiter = ratelimit.RateLimiter(1, 60, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.allow(f"k{i}")
    assert len(limiter._hits) == 100
    clock.advance(61)
    limiter.allow("k999")
    assert len(limiter._hits) <= 100


# --- the training worker's environment --------------------------------------------------------
def test_the_training_worker_gets_no_secret():
    from storyteller.finetune.worker import worker_env

    env = worker_env({"PATH": "/bin", "HOME": "/root", "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://x",
                      "STORYTELLER_OPENAI__API_KEY": "sk-y", "STORYTELLER_PUBLIC__PARENT_PASSWORD": "pw",
                      "STORYTELLER_DATA_DIR": "/data", "HF_TOKEN": "hf_x", "HF_HOME": "/hf", "AWS_SECRET_ACCESS_KEY": "a",
                      "GITHUB_TOKEN": "g", "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": "0", "LC_ALL": "C.UTF-8"})
    assert set(env) == {"PATH", "HOME", "STORYTELLER_DATA_DIR", "HF_HOME", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
                        "LC_ALL", "PYTHONUNBUFFERED", "PYTHONPATH"}


# --- each family's folder ---------------------------------------------------------------------
def test_each_family_has_its_own_folder_and_the_local_app_sees_all(env):
    from storyteller.data import workspace

    a, b = access.owner_key(access.new_owner()), access.owner_key(access.new_owner())
    workspace.output_path("stories", "csv", a).write_text("x")
    workspace.output_path("mine", "csv", b).write_text("y")
    assert workspace.list_datasets(a) == ["stories.csv"] and workspace.list_datasets(b) == ["mine.csv"]
    assert sorted(workspace.list_datasets(None)) == sorted([f"families/{a}/stories.csv", f"families/{b}/mine.csv"])
    with pytest.raises(Exception, match="Choose a dataset"):
        workspace.resolve(f"../{b}/mine.csv", a)
    with pytest.raises(Exception, match="not valid"):
        workspace.datasets_dir("../../etc")

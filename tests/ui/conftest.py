"""Fixtures for the story studio: a replaying engine for handler tests, a tiny local model, and
the web app running in a subprocess on a free loopback port (shared by the browser and client tests).

The app runs in its own process so its settings (models dir, database) never leak into other tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from storyteller.engines.base import Engine, Prompt
from storyteller.errors import ServiceError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "storyteller-tiny"
# Characters the random models write. No Latin letters and no 打/人: random letters spell rude
# English words and pinyin, and 打+人 is "hit someone", so the safety guard would (rightly) replace
# sentences and end a long story early, which is not what these tests are about.
CHARS = "唐宋汉秦明清隐形飞行喷火轻松搞笑温馨奥特曼怪兽英雄朋友今天来到城市败勇敢帮助一起的了是在我们他她小大天地心光。，！"


class ReplayEngine(Engine):
    """Replays queued text one character per chunk (like a real model, honouring `cancel`);
    optionally fails after `fail_after` chunks, the way a server can cut a stream."""

    def __init__(self, text: str = "从前有一位勇敢的英雄。" * 20, delay_s: float = 0.0, fail_after: int | None = None,
                 model_id: str = "replay"):
        super().__init__(model_id)
        self.text, self.delay_s, self.fail_after = text, delay_s, fail_after
        self.prompts: list[Prompt] = []
        self.started = threading.Event()

    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        self.prompts.append(prompt)
        self.started.set()
        for i, ch in enumerate(self.text):
            if cancel is not None and cancel.is_set():
                return
            if self.fail_after is not None and i == self.fail_after:
                raise ServiceError("The story server stopped answering.", "Try again in a minute.")
            if self.delay_s:
                time.sleep(self.delay_s)
            yield ch


def build_random_model(path: Path, n_embd: int = 32, n_layer: int = 2, n_head: int = 2) -> None:
    """A GPT-2 (2 small layers by default) with random weights and a character tokenizer, built offline
    in ~1 s. It has no end-of-text token, so it always streams up to max_new_tokens (gibberish, which
    is fine)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{c: i + 1 for i, c in enumerate(dict.fromkeys(CHARS))}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(path)
    import torch

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=4096, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                        bos_token_id=None, eos_token_id=None, pad_token_id=0)
    GPT2LMHeadModel(config).save_pretrained(path)
    (path / "README.md").write_text("Random tiny GPT-2 for UI tests.\n", encoding="utf-8")


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> tuple[Path, str]:
    """(models dir, model id) of a random tiny GPT-2 that never ends a story early."""
    models_dir = tmp_path_factory.mktemp("models")
    build_random_model(models_dir / "tiny-random")
    return models_dir, "tiny-random"


@pytest.fixture(scope="session")
def story_model(request) -> tuple[Path, str]:
    """(models dir, model id): the shipped model when it exists, else a random tiny GPT-2."""
    if (SHIPPED / "config.json").exists():
        return SHIPPED.parent, SHIPPED.name
    return request.getfixturevalue("random_model")


@pytest.fixture
def model_env(story_model, settings_env, monkeypatch) -> str:
    """Settings pointing at the test model (and a temp database); returns the model id."""
    from storyteller.config import get_settings

    models_dir, model_id = story_model
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models_dir))
    monkeypatch.setenv("STORYTELLER_LOCAL__DEFAULT_MODEL", model_id)
    get_settings.cache_clear()
    return model_id


@pytest.fixture
def listed_replay(tmp_path, monkeypatch) -> str:
    """A model folder called "replay", so the web app's picker rule accepts the id the replaying
    engine stands in for (the web app tells only with ids its picker offers)."""
    from storyteller.config import get_settings

    (tmp_path / "listed-models" / "replay").mkdir(parents=True)
    (tmp_path / "listed-models" / "replay" / "config.json").write_text("{}")
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "listed-models"))
    get_settings.cache_clear()
    return "replay"


CHECK_SETTINGS = ("STORYTELLER_TRAINING__STORY_CHECK_STORIES", "STORYTELLER_TRAINING__STORY_CHECK_TOKENS")


def app_env(models_dir: Path, model_id: str, data_dir: Path) -> dict[str, str]:
    """Environment for a subprocess of the app or CLI: only these settings, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORYTELLER_", "OPENAI_"))}
    env |= {k: os.environ[k] for k in CHECK_SETTINGS if k in os.environ}  # the tests' short story check
    return env | {"STORYTELLER_LOCAL__MODELS_DIR": str(models_dir), "STORYTELLER_LOCAL__DEFAULT_MODEL": model_id,
                  "STORYTELLER_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False",
                  "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost",
                  "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


CLI = [sys.executable, "-c", "from storyteller.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(env: dict[str, str], var: Path) -> Iterator[str]:
    """Run `storyteller ui` in a subprocess on a free loopback port until the block ends; yields its URL.
    Its output goes to var/app.log, shown if it exits early."""
    port = free_port()
    log = open(var / "app.log", "wb")
    proc = subprocess.Popen(CLI + ["ui", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited early:\n{(var / 'app.log').read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the app did not start within 90 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app(story_model, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The web app served by `storyteller ui` in a subprocess: `.url`, `.db` (its database)."""
    models_dir, model_id = story_model
    var = tmp_path_factory.mktemp("app-var")
    with serve_app(app_env(models_dir, model_id, var), var) as url:
        yield SimpleNamespace(url=url, db=var / "storyteller.db", model=model_id)

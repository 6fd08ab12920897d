"""`storyteller tell`: streams a story to the terminal, friendly errors, Ctrl-C keeps the text."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import wave

import pytest
from typer.testing import CliRunner

from storyteller.cli import app
from storyteller.cli import commands  # noqa: F401  (registers the commands)
from storyteller.store import Store
from tests.ui.conftest import CLI, ROOT, app_env

runner = CliRunner()


def test_tell_streams_a_story_and_saves_it(model_env):
    result = runner.invoke(app, ["tell", "--dynasty", "唐", "--power", "隐形", "--style", "轻松", "--model", model_env,
                                 "--length", "50", "--seed", "7", "--max-tokens", "40"])
    assert result.exit_code == 0, result.output
    [saved] = Store().stories()
    assert saved["status"] == "done" and saved["model"] == model_env and saved["text"].strip()
    assert saved["text"] in result.stdout and "tokens/s" in result.output


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_tell_can_read_the_story_aloud_into_a_wav(random_model, settings_env, monkeypatch, tmp_path):
    from storyteller.config import get_settings

    models_dir, model_id = random_model
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    out = tmp_path / "story.wav"
    result = runner.invoke(app, ["tell", "--model", model_id, "--max-tokens", "120", "--seed", "3", "--speak", str(out)])
    assert result.exit_code == 0, result.output
    with wave.open(str(out), "rb") as w:
        assert w.getnframes() / w.getframerate() > 1.0
    assert "Audio saved" in result.output


def test_unknown_model_is_a_friendly_error(model_env):
    result = runner.invoke(app, ["tell", "--model", "no-such-model-xyz"])
    assert result.exit_code == 1
    assert "no-such-model-xyz" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_typed_unsafe_power_is_refused_kindly_before_any_model(settings_env, monkeypatch):
    from storyteller import studio
    from tests.ui.conftest import ReplayEngine

    engine = ReplayEngine()
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    result = runner.invoke(app, ["tell", "--dynasty", "唐", "--power", "杀人", "--style", "轻松"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "英雄不伤害任何人" in result.output and "治愈之光" in result.output and "杀人" not in result.output
    assert not engine.prompts and not Store().stories()
    result = runner.invoke(app, ["tell", "--lang", "en", "--power", "a big g-u-n"])
    assert result.exit_code == 1 and "weapons" in result.output and "gun" not in result.output
    assert not engine.prompts


def test_empty_choice_is_a_friendly_error(model_env):
    result = runner.invoke(app, ["tell", "--dynasty", "  "])
    assert result.exit_code == 1 and "朝代" in result.output and "Traceback" not in result.output


def _default_sigint() -> None:
    """The CLI as a terminal starts it: SIGINT at its default and not blocked (a child inherits an
    ignored or blocked SIGINT from the test process, whatever ran in it before)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.slow
def test_ctrl_c_stops_and_keeps_the_text(tmp_path):
    from tests.ui.conftest import build_random_model

    # Four layers (a few hundred tokens/s) and the oldest band's length: 4,096 tokens take many
    # seconds, so Ctrl-C comes while the story is still being written, even on a busy machine.
    models_dir, model_id = tmp_path / "models", "slow-random"
    build_random_model(models_dir / model_id, n_embd=128, n_layer=4, n_head=4)
    proc = subprocess.Popen(CLI + ["tell", "--model", model_id, "--max-tokens", "4096", "--length", "1500",
                                   "--age", "9-12"],
                            cwd=ROOT, env=app_env(models_dir, model_id, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_default_sigint)
    shown = b""
    deadline = time.monotonic() + 60
    while len(shown) < 60 and time.monotonic() < deadline:
        shown += proc.stdout.read1(256)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    shown += out
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    [saved] = Store(tmp_path / "storyteller.db").stories()
    assert saved["status"] == "stopped"
    assert saved["text"].encode() in shown and len(saved["text"]) >= 20


def test_age_band_sets_the_story_and_is_saved(settings_env, monkeypatch):
    from storyteller import studio
    from tests.fakes.scripted_engine import ScriptedEngine

    engine = ScriptedEngine("林则徐来到了今天。大家都很开心。")
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    result = runner.invoke(app, ["tell", "--dynasty", "清", "--age", "9-12"])
    assert result.exit_code == 0, result.output
    req = engine.prompts[0].request
    assert req.age_band == "9-12" and req.length == 500 and "鸦片" in req.hero_fact()
    assert "9–12岁" in result.output and Store().stories()[0]["request"]["age_band"] == "9-12"
    runner.invoke(app, ["tell", "--dynasty", "清", "-a", "3-5", "--length", "1000"])
    younger = engine.prompts[1].request
    assert younger.age_band == "3-5" and younger.length == 400 and younger.hero_fact() is None


def test_an_unknown_age_band_is_a_friendly_error(settings_env):
    result = runner.invoke(app, ["tell", "--age", "15"])
    assert result.exit_code == 1 and "3-5, 6-8 or 9-12" in result.output and "Traceback" not in result.output
    assert not Store().stories()

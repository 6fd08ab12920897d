"""`launch()` serves once the default model is warm, so the first story does not wait for loading;
a model that loads too slowly does not keep the page away for ever. It binds, caps uploads and
builds the tabs as public mode says (a Space: 0.0.0.0, parent tabs gated or not built at all)."""

from __future__ import annotations

import threading
import time

import pytest

from storyteller import studio
from storyteller.ui import app


class FakeDemo:
    def __init__(self, events: list[str]):
        self.events = events

    def launch(self, **kwargs):
        self.events.append("serve")


def test_serves_after_the_warm_up(settings_env, monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(studio, "warm_up", lambda: (time.sleep(0.2), events.append("warm")))
    monkeypatch.setattr(app, "build_ui", lambda public: (events.append("built"), FakeDemo(events))[1])
    app.launch(port=7999)
    assert events == ["built", "warm", "serve"]


def test_a_slow_warm_up_does_not_hold_the_page_back(settings_env, monkeypatch):
    events: list[str] = []
    loaded = threading.Event()
    monkeypatch.setattr(studio, "warm_up", lambda: (loaded.wait(5), events.append("warm")))
    monkeypatch.setattr(app, "build_ui", lambda public: FakeDemo(events))
    monkeypatch.setattr(app, "WARM_UP_WAIT_S", 0.1)
    app.launch(port=7999)
    loaded.set()
    assert events[0] == "serve"


class RecordingDemo(FakeDemo):
    def launch(self, **kwargs):
        self.events.append(kwargs)


@pytest.mark.parametrize("space, host, public, upload_kb", [(None, "127.0.0.1", False, 50 * 1024),
                                                           ("families/storyteller", "0.0.0.0", True, 10 * 1024)])
def test_launch_binds_and_caps_uploads_as_public_mode_says(settings_env, monkeypatch, space, host, public, upload_kb):
    for name in ("SPACE_ID", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    if space:
        monkeypatch.setenv("SPACE_ID", space)
    events: list = []
    monkeypatch.setattr(studio, "warm_up", lambda: None)
    monkeypatch.setattr(app, "build_ui", lambda public: (events.append(public), RecordingDemo(events))[1])
    app.launch()
    assert events[0] is public
    assert (events[1]["server_name"], events[1]["server_port"]) == (host, 7860)
    assert events[1]["max_file_size"] == f"{upload_kb}kb" and events[1]["share"] is False


def _built(demo) -> set:
    return {getattr(b, "elem_id", None) for b in demo.blocks.values()}


def test_public_mode_without_a_parent_password_builds_no_parent_tab(settings_env):
    demo = app.build_ui(public=True)
    ids = _built(demo)
    assert not {"ft-launch", "ft-data", "data-generate", "data-upload", "parents"} & ids
    assert {"training-off", "training-duplicate", "data-off"} <= ids
    assert {f.api_name for f in demo.fns.values() if f.api_visibility == "public"} == {"tell", "regenerate"}
    assert demo._queue.max_size == 32


def test_public_mode_with_a_parent_password_hides_the_parent_tabs_until_unlocked(settings_env, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_PUBLIC__PARENT_PASSWORD", "pw")
    get_settings.cache_clear()
    demo = app.build_ui(public=True)
    bodies = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) in ("data-body", "training-body")]
    assert len(bodies) == 2 and not any(b.visible for b in bodies) and "parents" in _built(demo)
    assert {f.api_name for f in demo.fns.values() if f.api_visibility == "public"} == {"tell", "regenerate"}


def test_locally_everything_stays_open(settings_env):
    demo = app.build_ui(public=False)
    assert {"ft-launch", "data-generate"} <= _built(demo) and "parents" not in _built(demo)
    public = {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}
    assert public == {"tell", "regenerate", "generate_dataset", "check_dataset", "prepare_dataset"}
    assert demo._queue.max_size is None

"""`launch()` serves once the default model is warm, so the first story does not wait for loading;
a model that loads too slowly does not keep the page away for ever."""

from __future__ import annotations

import threading
import time

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
    monkeypatch.setattr(app, "build_ui", lambda: (events.append("built"), FakeDemo(events))[1])
    app.launch(port=7999)
    assert events == ["built", "warm", "serve"]


def test_a_slow_warm_up_does_not_hold_the_page_back(settings_env, monkeypatch):
    events: list[str] = []
    loaded = threading.Event()
    monkeypatch.setattr(studio, "warm_up", lambda: (loaded.wait(5), events.append("warm")))
    monkeypatch.setattr(app, "build_ui", lambda: FakeDemo(events))
    monkeypatch.setattr(app, "WARM_UP_WAIT_S", 0.1)
    app.launch(port=7999)
    loaded.set()
    assert events[0] == "serve"

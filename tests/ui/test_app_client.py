"""The running app's API, as any program sees it: /tell streams, Stop is not part of the API."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


def test_tell_endpoint_streams_updates(client, app):
    job = client.submit("唐", "隐形", "轻松", "zh", 300, app.model, 0.8, api_name="/tell")
    updates = [story for story, *_ in job]
    grown = [u for u in updates if u]
    assert len(grown) >= 10, f"only {len(grown)} streamed updates"
    assert all(len(a) <= len(b) for a, b in zip(grown, grown[1:]))
    final_story, final_stats, *_ = job.outputs()[-1]
    assert app.model in final_stats and "tokens/s" in final_stats
    with sqlite3.connect(app.db) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM stories")]
    assert final_story in texts


def test_api_offers_tell_and_regenerate_only(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/tell", "/regenerate"} <= names
    assert not any("stop" in n or "switch" in n for n in names)

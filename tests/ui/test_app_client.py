"""The running app's API, as any program sees it: /tell streams, Stop is not part of the API."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.slow
DATA_TOOLS = {"/generate_dataset", "/check_dataset", "/prepare_dataset"}


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
    assert app.model in final_stats and "每秒" in final_stats  # in the fold for parents
    with sqlite3.connect(app.db) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM stories")]
    assert final_story in texts


def test_api_offers_tell_and_regenerate_only(client):
    """Of the story tab only Tell and Regenerate are public (Stop, the language switch and read-aloud
    stay private); the data tab's three tools are the only other endpoints."""
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names - DATA_TOOLS == {"/tell", "/regenerate"}
    assert DATA_TOOLS <= names


def test_story_without_read_aloud_opens_no_media_stream(app):
    """Read like a browser (join the queue, one event stream): no frame carries the player's stream
    playlist, which browsers would fetch on the way to the first word."""
    import json
    import uuid

    import httpx

    config = httpx.get(app.url + "/config").json()
    dep = next(d for d in config["dependencies"] if d.get("api_name") == "tell")
    defaults = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    data = ["唐", "隐形", "轻松", "zh", 100, app.model, 0.8]
    data += [defaults[i] for i in dep["inputs"][len(data):]]
    session, messages = uuid.uuid4().hex, []
    with httpx.Client(timeout=120) as http:
        http.post(app.url + "/gradio_api/queue/join",
                  json={"data": data, "fn_index": dep["id"], "session_hash": session}).raise_for_status()
        with http.stream("GET", app.url + "/gradio_api/queue/data", params={"session_hash": session}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1]["msg"] == "process_completed":
                        break
    assert messages[-1]["success"] and messages[-1]["output"]["data"][0]
    assert sum(m["msg"] == "process_generating" for m in messages) >= 3
    assert not any("playlist" in json.dumps(m) or '"is_stream": true' in json.dumps(m) for m in messages)


def test_tell_endpoint_takes_the_age_band_and_saves_it(client, app):
    import json

    job = client.submit("唐", "隐形", "轻松", "zh", 100, app.model, 0.8, False, "auto", 150, "3-5", api_name="/tell")
    final_stats = job.result()[1]
    assert "3–5岁" in final_stats and "词汇 HSK" in final_stats
    with sqlite3.connect(app.db) as db:
        band, request = db.execute("SELECT age_band, request FROM stories ORDER BY id DESC LIMIT 1").fetchone()
    assert band == "3-5" and json.loads(request)["age_band"] == "3-5"

"""A Hugging Face Space, simulated: `python app.py` with SPACE_ID and GRADIO_SERVER_NAME=0.0.0.0 on a
free port, a fake OpenAI key and a parent password, and a loopback OpenAI server whose "paid"
model writes remote images and links. Then, as visitors would, over HTTP (gradio_client and the
queue's own protocol) and in Chromium:

- it listens on 0.0.0.0, and its API offers only the story endpoints;
- Data and Training are behind the parent password, and the Duplicate hint shows;
- the story past the per-minute limit from one session gets the rate-limit message (the limit is set
  to LIMIT here, so the test holds however slowly a loaded machine tells the stories before it);
- typed model ids, paths and markup over the API get friendly answers;
- a paid model's remote images and links show as text; a family sees only its own datasets;
- and afterwards the key and the password appear in no log, database file, page or event.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.ui.conftest import ROOT, app_env, free_port

pytestmark = pytest.mark.slow
FAKE_KEY = "sk-FAKE-space-simulation-4f9c2e"
PASSWORD = "grown-ups-only-31"
HOSTILE = ('从前有一位英雄。![x](http://evil.example/x.png) 他笑了。<img src="http://evil.example/y.png"> '
           '他们一起玩。<a href="http://evil.example/a">点我</a> 好的。[link](http://evil.example/z) 结束了。')
LIMIT = 3  # stories a minute per session and address (the Space's setting; 10 by default)
ADDRESSES = (f"198.51.100.{n}" for n in range(1, 255))  # a fresh visitor address for each call that must not be limited
SEEN: list[str] = []  # every page, config and event the tests received, scanned for secrets at the end


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode("utf-8", "replace")
    SEEN.append(text)
    return text


@pytest.fixture(scope="module")
def space(story_model, tmp_path_factory):
    models_dir, model_id = story_model
    base = tmp_path_factory.mktemp("space")
    fake = FakeOpenAI().start()
    fake.responder = lambda body: HOSTILE
    port = free_port()
    env = app_env(models_dir, model_id, base / "var") | {
        "SPACE_ID": "families/storyteller", "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port),
        "STORYTELLER_PUBLIC__STORIES_PER_MINUTE": str(LIMIT),
        "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": fake.base_url, "STORYTELLER_PUBLIC__PARENT_PASSWORD": PASSWORD,
        "STORYTELLER_TRAINING__RUNS_DIR": str(base / "runs")}
    log = open(base / "app.log", "wb")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited early:\n{(base / 'app.log').read_text(errors='replace')[-3000:]}")
            try:
                get(url + "/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the app did not start within 120 s")
                time.sleep(0.3)
        yield SimpleNamespace(url=url, port=port, base=base, fake=fake, model=model_id, models_dir=models_dir,
                              config=json.loads(get(url + "/config")))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        fake.stop()


def client(space, address: str):
    """A gradio_client session coming, as far as the app can tell, from `address` (the Space's proxy
    writes the visitor's address into X-Forwarded-For)."""
    from gradio_client import Client

    return Client(space.url, verbose=False, headers={"X-Forwarded-For": address})


def listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def test_it_listens_on_every_address(space):
    addresses = listening_addresses(space.port)
    assert "00000000" in addresses, addresses  # 0.0.0.0, what Spaces expect


def test_only_the_story_endpoints_are_in_the_api(space):
    names = set(client(space, "203.0.113.1").view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/tell", "/regenerate"}
    public = {d.get("api_name") for d in space.config["dependencies"] if d.get("api_visibility") == "public"}
    assert public == {"tell", "regenerate"}


def component(space, elem_id: str) -> dict:
    return next(c for c in space.config["components"] if c.get("props", {}).get("elem_id") == elem_id)


def call(space, elem_id: str, event: str, values: dict | None = None) -> list[dict]:
    """Fire `event` of the component `elem_id` as a browser would (queue/join, then its event
    stream), with each input's default value unless `values` says otherwise; the messages."""
    import httpx

    target = component(space, elem_id)["id"]
    dep = next(d for d in space.config["dependencies"] if [target, event] in d["targets"])
    props = {c["id"]: c.get("props", {}) for c in space.config["components"]}
    by_elem = {p.get("elem_id"): i for i, p in props.items() if p.get("elem_id")}
    data = [(values or {}).get(next((e for e, j in by_elem.items() if j == i), None), props[i].get("value"))
            for i in dep["inputs"]]
    session, messages = uuid.uuid4().hex, []
    with httpx.Client(timeout=60) as http:
        http.post(space.url + "/gradio_api/queue/join",
                  json={"data": data, "fn_index": dep["id"], "session_hash": session}).raise_for_status()
        with http.stream("GET", space.url + "/gradio_api/queue/data", params={"session_hash": session}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    SEEN.append(line)
                    messages.append(json.loads(line[5:]))
                    if messages[-1]["msg"] == "process_completed":
                        break
    return messages


def test_data_and_training_are_behind_the_parent_password_with_the_duplicate_hint(space):
    assert component(space, "training-body")["props"]["visible"] is False
    assert component(space, "data-body")["props"]["visible"] is False
    hint = component(space, "training-off")["props"]["value"]
    assert "复制（Duplicate）这个 Space" in hint and component(space, "training-duplicate")  # zh until the page says
    page = get(space.url + "/")
    assert PASSWORD not in page and FAKE_KEY not in page
    for elem_id, event, values in [("ft-launch", "click", {"ft-base": component(space, "ft-base")["props"]["value"]}),
                                   ("data-generate", "click", {}), ("ft-cancel", "click", {})]:
        done = call(space, elem_id, event, values)[-1]
        assert done["success"] is False and "这里需要家长密码" in json.dumps(done, ensure_ascii=False)
    assert not list((space.base / "var" / "datasets").rglob("*.csv"))


def test_an_upload_over_the_cap_is_refused_before_it_is_stored(space, tmp_path):
    import httpx

    big = tmp_path / "big.csv"
    big.write_bytes(b"index,dynasty,super_power,story_type,story\n" + b"x" * (11 * 2**20))
    with open(big, "rb") as f:
        r = httpx.post(space.url + "/gradio_api/upload", files={"files": ("big.csv", f, "text/csv")}, timeout=60)
    assert r.status_code == 413, r.text[:200]
    small = httpx.post(space.url + "/gradio_api/upload", files={"files": ("s.csv", b"a,b\n1,2\n", "text/csv")})
    assert small.status_code == 200  # the cap, not uploads as such


@pytest.mark.parametrize("path", ["/etc/passwd", "{base}/var/storyteller.db", "../../../../etc/passwd"])
def test_a_file_path_the_browser_did_not_upload_is_never_read(space, path):
    payload = {"path": path.format(base=space.base), "meta": {"_type": "gradio.FileData"}, "orig_name": "x.csv"}
    done = call(space, "data-upload", "change", {"data-upload": payload})[-1]
    text = json.dumps(done, ensure_ascii=False)
    assert done["success"] is False and "root:x:0:0" not in text and "SQLite format" not in text


def test_the_story_past_the_limit_in_a_minute_gets_the_rate_limit_message(space):
    c = client(space, "203.0.113.10")
    told = [c.predict("唐", "隐形", "轻松", "zh", 50, space.model, 0.8, api_name="/tell") for _ in range(LIMIT + 1)]
    SEEN.extend(json.dumps(t, ensure_ascii=False) for t in told)
    assert all(story for story, *_ in told[:LIMIT]), [t[1] for t in told]
    story, status, *_ = told[LIMIT]
    assert "一分钟" in status and "minute" not in status  # a Chinese story, a Chinese answer
    again = client(space, "203.0.113.10").predict("唐", "隐形", "轻松", "zh", 50, space.model, 0.8, api_name="/tell")
    assert "一分钟里" in again[1]  # a new session from the same address: its minute is spent too
    other = client(space, "203.0.113.11").predict("唐", "隐形", "轻松", "zh", 50, space.model, 0.8, api_name="/tell")
    assert other[0] and "一分钟里" not in other[1]


@pytest.mark.parametrize("model_id, expect", [
    ("{models_dir}/{model}", "请从列表里选一个模型"), ("../models/{model}", "请从列表里选一个模型"),
    ("/etc/passwd", "请从列表里选一个模型"), ("~/.ssh", "请从列表里选一个模型"),
    (".env", "请从列表里选一个模型"), ("Qwen/Qwen2.5-0.5B-Instruct", "请从列表里选一个模型"),
    ("openai:gpt-4o", "请从列表里选一个模型"), ("gpt-4o-mini", "要花钱"),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", "要花钱"), ("x" * 10_000, "请从列表里选一个模型"),
    ('<img src="http://evil.example/x.png">', "请从列表里选一个模型"),
])
def test_typed_model_ids_over_the_api_get_friendly_answers(space, model_id, expect):
    model_id = model_id.format(models_dir=space.models_dir, model=space.model)
    story, status, *_ = client(space, next(ADDRESSES)).predict("唐", "隐形", "轻松", "zh", 50, model_id, 0.8,
                                                               api_name="/tell")
    SEEN.append(status)
    assert expect in status and story in ("", None, {"__type__": "update"}) and "Traceback" not in status
    assert not space.fake.requests_to("/v1/chat/completions")  # no paid call was made for a stranger


@pytest.mark.parametrize("field", ["x" * 10_000, "![x](http://evil.example/x.png)", "<script>alert(1)</script>",
                                   "唐\x00\x1b[2J", "{length:>999999999}"])
def test_hostile_story_fields_over_the_api_are_answered(space, field):
    story, status, *_ = client(space, next(ADDRESSES)).predict(field, field, field, "zh", 50, space.model, 0.8,
                                                               api_name="/tell")
    SEEN.append(status)
    assert status and "Traceback" not in status and "<script>" not in status and "![x](" not in status


@pytest.mark.browser
def test_in_a_browser_the_paid_model_s_images_and_links_show_as_text_and_families_stay_apart(space, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests.test_data_prepare import stories_csv
    from tests.ui.test_browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        family = browser.new_context(viewport={"width": 1280, "height": 1200}, locale="en-US")
        page = family.new_page()
        page.goto(space.url)
        page.get_by_role("tab", name="Training", exact=True).click()
        expect(page.locator("#training-off")).to_contain_text("Duplicate this Space")
        expect(page.locator("#training-body")).to_be_hidden()
        page.get_by_role("tab", name="Story", exact=True).click()

        def tell_with(model: str) -> None:
            page.locator("#model input").fill(model)
            page.locator("#model input").press("Enter")
            page.click("#tell")

        tell_with("gpt-4o-mini")
        expect(page.locator("#story-stats")).to_contain_text("costs money", timeout=20_000)
        page.get_by_text("👪 Parents").click()
        page.locator("#parent-password input").fill("wrong")
        page.click("#parent-unlock")
        expect(page.locator("#parent-said")).to_contain_text("Wrong password")
        page.locator("#parent-password input").fill(PASSWORD)
        page.click("#parent-unlock")
        expect(page.locator("#parent-said")).to_contain_text("Unlocked")
        assert page.locator("#parent-password input").input_value() == ""  # the password is not sent back

        tell_with("gpt-4o-mini")
        box = page.locator("#story-text textarea")
        expect(box).to_have_value(re.compile(re.escape("![x](http://evil.example/x.png)")), timeout=30_000)  # as text
        assert page.locator("img[src*='evil.example']").count() == 0
        assert page.locator("a[href*='evil.example']").count() == 0
        SEEN.append(page.content())

        page.get_by_role("tab", name="Data", exact=True).click()
        expect(page.locator("#data-body")).to_be_visible()
        page.locator("#data-upload input[type=file]").set_input_files(str(stories_csv(tmp_path / "ours.csv")))
        expect(page.locator("#data-report")).to_contain_text("Ready to train", timeout=60_000)
        page.get_by_role("tab", name="Training", exact=True).click()
        page.locator("#ft-data input").click()
        expect(page.get_by_role("option", name="uploads/ours.csv")).to_be_visible(timeout=10_000)
        SEEN.append(page.content())

        stranger = browser.new_context(viewport={"width": 1280, "height": 1200}).new_page()
        stranger.goto(space.url)
        stranger.get_by_text("👪 Parents").click()
        stranger.locator("#parent-password input").fill(PASSWORD)
        stranger.click("#parent-unlock")
        expect(stranger.locator("#parent-said")).to_contain_text("Unlocked")
        stranger.get_by_role("tab", name="Training", exact=True).click()
        stranger.locator("#ft-data input").click()
        stranger.wait_for_timeout(1500)
        assert stranger.get_by_role("option", name="uploads/ours.csv").count() == 0  # another family's file
        SEEN.append(stranger.content())

        again = family.new_page()  # the same browser later: its family token is in local storage
        again.goto(space.url)
        again.get_by_text("👪 Parents").click()
        again.locator("#parent-password input").fill(PASSWORD)
        again.click("#parent-unlock")
        expect(again.locator("#parent-said")).to_contain_text("Unlocked")
        again.get_by_role("tab", name="Training", exact=True).click()
        again.locator("#ft-data input").click()
        expect(again.get_by_role("option", name="uploads/ours.csv")).to_be_visible(timeout=10_000)
        browser.close()


def test_afterwards_the_key_and_the_password_are_nowhere(space):
    """Run last: the app's log, every file it wrote, its pages and API description, and every event
    the tests saw. The key was in use (the loopback server received it), so its absence means something."""
    assert any(FAKE_KEY in r.headers.get("authorization", "") for r in space.fake.requests)
    for path in ("/", "/config", "/gradio_api/info", "/gradio_api/openapi.json"):
        try:
            get(space.url + path)
        except OSError:
            pass
    files = [p for p in space.base.rglob("*") if p.is_file()]
    assert any(p.name == "storyteller.db" for p in files)
    for p in files:
        data = p.read_bytes()
        assert FAKE_KEY.encode() not in data and PASSWORD.encode() not in data, p
    for text in SEEN:
        assert FAKE_KEY not in text and PASSWORD not in text
    assert len(SEEN) > 10

"""Dataset generation against the loopback fake OpenAI server: concurrency, retries, Stop,
a crash midway and a torn last record; resuming proves nothing is lost and nothing doubled."""

from __future__ import annotations

import csv
import itertools
import json
import threading
from collections import Counter

import pytest

import openai

from storyteller.data.generate import GenerateSpec, check_template, generate, plan
from storyteller.engines.base import Engine
from storyteller.errors import AuthError, InputError, QuotaError, ServiceError

SPEC = dict(model_id="gpt-4o-mini", dynasties=["唐", "宋"], powers=["隐形", "飞行"], styles=["轻松", "努力"],
            repeats=2, concurrency=4, max_attempts=3, backoff_s=0.0)  # 16 stories


class LoopbackChat(Engine):
    """The OpenAI SDK streaming from the loopback server, with no retries of its own, so these
    tests exercise the generator's retries. Errors map to the app's friendly ones."""

    def __init__(self, base_url: str, key: str):
        super().__init__("gpt-4o-mini")
        self.client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=10)

    def stream(self, prompt, cancel=None):
        try:
            for chunk in self.client.chat.completions.create(model=self.model_id, messages=prompt.messages,
                                                             stream=True):
                if cancel is not None and cancel.is_set():
                    return
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.AuthenticationError as e:
            raise AuthError("The API key was refused.") from e
        except openai.RateLimitError as e:
            raise QuotaError("Rate limited.") from e
        except (openai.APIStatusError, openai.APIConnectionError) as e:
            raise ServiceError(f"Server error: {e}") from e


def loopback_engine(fake, key: str = "sk-test") -> Engine:
    return LoopbackChat(fake.base_url, key)


@pytest.fixture
def server(fake_openai):
    """Each request gets a unique story that names its request, like a model would."""
    counter = itertools.count()

    def respond(body: dict) -> str:
        user = body["messages"][-1]["content"]
        return f"故事{next(counter)}：奥特曼和英雄一起打败了怪兽。{user[:30]}"

    fake_openai.responder = respond
    fake_openai.latency_s = 0.01
    return fake_openai


def rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def assert_complete(path, spec: GenerateSpec):
    """Exactly `repeats` stories per combination, no duplicate stories, sequential indices."""
    got = rows(path)
    keys = Counter((r["dynasty"], r["super_power"], r["story_type"]) for r in got)
    assert len(got) == len(plan(spec))
    assert set(keys.values()) == {spec.repeats}
    assert len({r["story"] for r in got}) == len(got)
    assert [int(r["index"]) for r in got] == list(range(len(got)))


def test_generate_writes_every_story_concurrently(server, tmp_path):
    spec = GenerateSpec(**SPEC)
    seen = []
    res = generate(spec, tmp_path / "s.csv", engine=loopback_engine(server), on_progress=seen.append)
    assert (res.written, res.skipped, res.failed) == (16, 0, [])
    assert_complete(tmp_path / "s.csv", spec)
    assert seen[-1].done == 16 and seen[-1].eta_s == 0
    assert res.prompt_tokens > 0 and res.completion_tokens > 0 and res.cost_usd > 0
    # The template reached the server with the catalog hero filled in.
    assert any("李白" in json.dumps(r.json, ensure_ascii=False) for r in server.requests_to("/v1/chat/completions"))
    # Run again: everything is there, nothing is requested.
    before = len(server.requests)
    again = generate(spec, tmp_path / "s.csv", engine=loopback_engine(server))
    assert (again.written, again.skipped) == (0, 16) and len(server.requests) == before


def test_crash_midway_and_torn_record_resume_without_loss_or_duplicates(server, tmp_path):
    spec, out = GenerateSpec(**SPEC), tmp_path / "s.csv"

    def crash(p):
        if p.done == 5:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        generate(spec, out, engine=loopback_engine(server), on_progress=crash)
    kept = rows(out)
    assert 5 <= len(kept) < 16
    good = out.read_bytes()
    with open(out, "ab") as f:  # the crash tore the next record in half
        f.write('"99","唐","隐形","轻松","故事写到一半'.encode())

    res = generate(spec, out, engine=loopback_engine(server))
    assert res.repaired_tail is not None and "故事写到一半" in res.repaired_tail.read_text(encoding="utf-8")
    assert out.read_bytes().startswith(good)  # valid rows untouched
    assert res.written == 16 - len(kept) and res.skipped == len(kept)
    assert_complete(out, spec)


def test_jsonl_output_resumes_after_torn_line(server, tmp_path):
    spec, out = GenerateSpec(**SPEC | {"repeats": 1}), tmp_path / "s.jsonl"
    cancel = threading.Event()
    generate(spec, out, engine=loopback_engine(server), cancel=cancel,
             on_progress=lambda p: p.done >= 3 and cancel.set())
    n = len(out.read_text(encoding="utf-8").splitlines())
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"index": 7, "dynasty": "宋", "sto')
    generate(spec, out, engine=loopback_engine(server))
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 8 and n >= 3
    assert len({(r["dynasty"], r["power"], r["style"]) for r in recs}) == 8
    assert all(r["lang"] == "zh" and r["model"] == "gpt-4o-mini" and r["story"] for r in recs)


def test_stop_keeps_written_stories_and_resume_finishes(server, tmp_path):
    spec, out = GenerateSpec(**SPEC | {"concurrency": 2}), tmp_path / "s.csv"
    server.latency_s = 0.03
    cancel = threading.Event()
    res = generate(spec, out, engine=loopback_engine(server), cancel=cancel,
                   on_progress=lambda p: p.done >= 4 and cancel.set())
    assert res.stopped and 4 <= res.written < 16 and len(rows(out)) == res.written
    generate(spec, out, engine=loopback_engine(server))
    assert_complete(out, spec)


def test_rate_limits_and_broken_streams_are_retried(server, tmp_path):
    # 5 faults in all: enough tries that even one unlucky story hitting all of them succeeds.
    spec, out = GenerateSpec(**SPEC | {"concurrency": 2, "max_attempts": 6}), tmp_path / "s.csv"
    server.fail(429, times=3)
    server.fail(cut_after=2, times=2)  # the connection drops mid-story: never written half
    res = generate(spec, out, engine=loopback_engine(server))
    assert res.failed == [] and res.written == 16
    assert_complete(out, spec)
    assert all("奥特曼" in r["story"] for r in rows(out))


def test_persistent_failures_are_reported_then_retried_by_the_next_run(server, tmp_path):
    spec, out = GenerateSpec(**SPEC | {"concurrency": 1, "max_attempts": 2}), tmp_path / "s.csv"
    server.fail(500, times=4)  # the first two stories fail both tries
    res = generate(spec, out, engine=loopback_engine(server))
    assert len(res.failed) == 2 and res.written == 14
    assert all(f.error for f in res.failed)
    res2 = generate(spec, out, engine=loopback_engine(server))
    assert res2.written == 2 and res2.failed == []
    assert_complete(out, spec)


def test_unsafe_stories_are_regenerated_and_never_written(server, tmp_path):
    """A story that fails the child-safety check is asked for again; one that stays unsafe is
    reported as failed (by category, without its text) and not written."""
    calls = Counter()

    def respond(body: dict) -> str:
        user = body["messages"][-1]["content"]
        calls[user] += 1
        if "宋" in user and "飞行" in user:
            return "他们一起喝酒，喝醉了。"  # unsafe every time
        if calls[user] == 1:
            return "李白拿起手槍，殺死了一個人。"  # unsafe on the first try only
        return f"故事{sum(calls.values())}：奥特曼和英雄一起打败了怪兽。{user[:30]}"

    server.responder = respond
    out = tmp_path / "s.csv"
    res = generate(GenerateSpec(**SPEC), out, engine=loopback_engine(server))
    assert res.written == 12 and len(res.failed) == 4
    assert {(f.dynasty, f.power) for f in res.failed} == {("宋", "飞行")}
    assert all("drugs" in f.error and "喝" not in f.error for f in res.failed)
    text = out.read_text(encoding="utf-8")
    assert "奥特曼" in text and "殺" not in text and "喝醉" not in text
    assert sum(calls.values()) == 6 * 3 + 4 * 3  # 6 prompts: 1 unsafe + 2 repeats; 4 unsafe stories x 3 tries


def test_wrong_key_stops_the_run_with_a_friendly_error(server, tmp_path):
    server.api_key = "sk-right"
    with pytest.raises(AuthError):
        generate(GenerateSpec(**SPEC), tmp_path / "s.csv", engine=loopback_engine(server, key="sk-wrong"))
    assert rows(tmp_path / "s.csv") == []  # header only, nothing half-written


def test_template_placeholders_are_checked():
    assert check_template("{dynasty}的{hero}有{power}，{style}")
    with pytest.raises(InputError, match="villain"):
        check_template("{villain} attacks")
    with pytest.raises(InputError):
        check_template("unclosed {dynasty")
    with pytest.raises(InputError):
        plan(GenerateSpec(**SPEC | {"dynasties": ["  ", "\x00"]}))


def test_plan_dedups_and_cleans():
    spec = GenerateSpec(**SPEC | {"dynasties": ["唐", " 唐 ", "宋"], "repeats": 1})
    assert len(plan(spec)) == 2 * 2 * 2


def test_refuses_to_append_to_a_foreign_file(server, tmp_path):
    out = tmp_path / "notes.csv"
    out.write_text("name,age\nbob,3\n", encoding="utf-8")
    from storyteller.errors import DataError
    with pytest.raises(DataError, match="not a story CSV"):
        generate(GenerateSpec(**SPEC), out, engine=loopback_engine(server))
    assert out.read_text(encoding="utf-8") == "name,age\nbob,3\n"


def test_world_source_makes_a_dataset_offline_the_same_every_time(tmp_path, settings_env):
    """`data generate --source world`: no model, no key; seeded per combination, so two runs agree."""
    from typer.testing import CliRunner

    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401

    runner = CliRunner()
    args = ["data", "generate", "--source", "world", "-d", "唐", "-d", "魏", "-p", "隐形", "-p", "喷火", "-s", "轻松",
            "--repeats", "2"]
    for name in ("a.csv", "b.csv"):
        r = runner.invoke(app, [*args, "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        assert "8 written" in r.output and "cost" in r.output
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    other = list(csv.DictReader((tmp_path / "b.csv").open(encoding="utf-8")))
    key = lambda r: (r["dynasty"], r["super_power"], r["story"])  # noqa: E731  (rows land in any order)
    assert sorted(map(key, rows)) == sorted(map(key, other))
    assert len({r["story"] for r in rows}) == 8
    for r in rows:
        assert r["super_power"] in r["story"] and "奥特曼" in r["story"] and "{" not in r["story"]
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "a.csv")])
    assert "0 written, 8 already there" in again.output
    r = runner.invoke(app, [*args[:2], "--source", "nowhere", "--out", str(tmp_path / "c.csv")])
    assert r.exit_code == 1 and "--source must be model or world" in r.output


def test_a_hero_whose_fact_is_for_older_children_gets_no_empty_fact_sentence(monkeypatch):
    from storyteller.catalog import get_catalog
    from storyteller.data.generate import Item, build_prompt

    spec = GenerateSpec(model_id="world", dynasties=["清"], powers=["隐形"], styles=["轻松"], lang="zh")
    lin = get_catalog().hero("清", "林则徐")
    user = build_prompt(spec, Item("清", "隐形", "轻松", 0)).messages[-1]["content"]
    assert f"小知识：{lin.young_zh}" in user and "鸦片" not in user  # the fact for younger children at 6-8
    monkeypatch.setattr(lin, "young_zh", None)  # a hero with only a 9-12 fact
    user = build_prompt(spec, Item("清", "隐形", "轻松", 0)).messages[-1]["content"]
    assert "小知识" not in user and "{fact}" not in user and "林则徐" in user  # the 9-12 fact is not told at 6-8
    tang = build_prompt(spec.model_copy(update={"dynasties": ["唐"]}), Item("唐", "隐形", "轻松", 0)).messages[-1]["content"]
    assert "小知识：" in tang and "李白" in tang

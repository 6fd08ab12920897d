"""/v1/files through the `openai` SDK: the three OpenAI formats (and our story records) are kept,
everything else is refused with the line to fix, huge files are refused, files outlive a restart."""

from __future__ import annotations

import json

import openai
import pytest

from tests.api.conftest import Server, checked_client

SYSTEM = {"role": "system", "content": "You tell stories."}
CHAT = [{"messages": [SYSTEM, {"role": "user", "content": f"唐,隐形,轻松 {i}"},
                      {"role": "assistant", "content": f"从前有一位英雄。{i}"}]} for i in range(3)]
LEGACY = [{"prompt": "唐,隐形,轻松 ->\n", "completion": f" 从前有一位英雄。{i}\n###"} for i in range(3)]
DPO = [{"input": {"messages": [{"role": "user", "content": "唐,隐形,轻松"}]},
        "preferred_output": [{"role": "assistant", "content": "大家一起打败了怪兽。"}],
        "non_preferred_output": [{"role": "assistant", "content": "怪兽跑了。"}]} for _ in range(3)]
STORIES = [{"dynasty": "唐", "power": "隐形", "style": "轻松", "story": "从前有一位英雄。"}]


def jsonl(records: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def test_upload_list_retrieve_download_delete(client):
    made = {}
    for name, records in (("chat", CHAT), ("legacy", LEGACY), ("dpo", DPO), ("stories", STORIES)):
        f = client.files.create(file=(f"{name}.jsonl", jsonl(records)), purpose="fine-tune")
        assert (f.object, f.purpose, f.filename, f.bytes) == ("file", "fine-tune", f"{name}.jsonl", len(jsonl(records)))
        assert f.id.startswith("file-") and f.status == "processed"
        made[name] = f
    assert client.files.retrieve(made["dpo"].id).filename == "dpo.jsonl"
    assert client.files.content(made["legacy"].id).content == jsonl(LEGACY)
    listed = [f.id for f in client.files.list()]
    assert listed == [f.id for f in reversed(made.values())]  # newest first
    page1 = client.files.list(limit=3)
    assert len(page1.data) == 3 and page1.has_more
    page2 = client.files.list(limit=3, after=page1.data[-1].id)
    assert [f.id for f in page2.data] == [made["chat"].id] and not page2.has_more
    assert [f.id for f in client.files.list(limit=3)] == listed  # iterating pages on, and the paging ends
    gone = client.files.delete(made["chat"].id)
    assert gone.deleted and gone.id == made["chat"].id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made["chat"].id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(made["chat"].id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(made["chat"].id)


@pytest.mark.parametrize("body, words", [
    (b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n', "line 2: not valid JSON"),
    (jsonl([CHAT[0], {"messages": [{"role": "user", "content": "hi"}]}]), "line 2: no assistant message"),
    (jsonl([CHAT[0], LEGACY[0]]), "line 2: no \"messages\" list"),
    (jsonl([LEGACY[0], {"prompt": "x", "completion": ""}]), "line 2: no prompt or no completion"),
    (jsonl([DPO[0], {"input": {"messages": []}}]), "line 2: no \"input\""),
    (jsonl([DPO[0] | {"preferred_output": "yes"}]), "\"preferred_output\" is not one assistant message"),
    (b"dynasty,super_power,story_type,story\n\xe5\x94\x90,a,b,c\n", "expected JSON Lines"),
    (b'[{"prompt": "a", "completion": "b"}]', "expected JSON Lines"),
    (b"\xff\xfe{\x00", "binary file"),
    ('{"prompt": "唐,隐形,轻松 ->", "completion": " 故事"}'.encode("gbk"), "not UTF-8"),
    (b"", "is empty"),
])
def test_broken_files_are_refused_with_the_line(client, body, words):
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("data.jsonl", body), purpose="fine-tune")
    assert words in e.value.body["message"] and e.value.body["param"] == "file"
    assert e.value.body["code"] == "invalid_file_format"
    assert client.files.list().data == []  # nothing kept


def test_purpose_content_type_and_size_are_checked(api_env, spec, raw, client, monkeypatch):
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("chat.jsonl", jsonl(CHAT)), purpose="assistants")
    assert e.value.body["param"] == "purpose"
    r = raw.post("/files", json={"file": "x", "purpose": "fine-tune"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_content_type"
    spec.check_error(r.json())
    r = raw.post("/files", data={"purpose": "fine-tune"}, files={"other": ("a.jsonl", b"{}")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"

    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_API__MAX_FILE_MB", "0.01")  # about 10 KB
    get_settings.cache_clear()
    big = jsonl(CHAT * 40_000)  # about 20 MB
    assert len(big) > 0.01 * 2**20 + 64 * 1024  # refused from its Content-Length, body drained
    small_but_over = jsonl(CHAT * 30)
    assert 0.01 * 2**20 < len(small_but_over) < 0.01 * 2**20 + 64 * 1024  # refused after reading
    for body in (big, small_but_over):
        with pytest.raises(openai.APIStatusError) as e:
            client.files.create(file=("big.jsonl", body), purpose="fine-tune")
        assert e.value.status_code == 413 and e.value.body["code"] == "file_too_large"
        assert "MB limit" in e.value.body["message"]
    assert client.files.list().data == []


def test_files_outlive_a_restart(api_env, spec):
    with Server() as first, checked_client(first, spec) as c:
        kept = c.files.create(file=("legacy.jsonl", jsonl(LEGACY)), purpose="fine-tune")
    with Server() as second, checked_client(second, spec) as c:
        assert c.files.retrieve(kept.id).bytes == kept.bytes
        assert c.files.content(kept.id).content == jsonl(LEGACY)


def test_the_spec_check_reads_boolean_exclusive_bounds_as_the_spec_means_them(spec):
    """DPO's beta is a number in (0, 2] or "auto": the checker must accept 0.2 and refuse 0 and 3."""
    import jsonschema

    hp = spec.schema("FineTuneDPOHyperparameters")
    for ok in (0.2, 2, "auto"):
        hp.validate({"beta": ok})
    for bad in (0, 3):
        with pytest.raises(jsonschema.ValidationError):
            hp.validate({"beta": bad})

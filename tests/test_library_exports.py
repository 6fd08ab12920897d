"""Preference data from ratings and picks: the three formats (OpenAI's DPO lines validated against
OpenAI's own spec), which records each rating and pick makes, and the dataset and safety checks
that leave records out (counted, never quoted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyteller.errors import InputError
from storyteller.library import Library, collect, export, records
from storyteller.prompts import StoryRequest, build_messages

REQ = {"dynasty": "唐", "power": "隐形", "style": "轻松", "lang": "zh", "length": 300, "age_band": "6-8"}
SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "openai-spec" / "openapi.transformed.yml"


@pytest.fixture
def lib(settings_env) -> Library:
    return Library()


def save(lib: Library, text: str, **req) -> int:
    return lib.save_story("m", REQ | req, text, "done")


def test_a_pick_makes_a_pair_in_every_paired_format(lib, tmp_path):
    a, b = save(lib, "李白喷火，帮奥特曼赢了。"), save(lib, "李白隐身，和奥特曼一起回家。")
    lib.pick(lib.new_pair(a, b).id, "right")
    prompt = build_messages(StoryRequest(**REQ))
    trl, _ = records(lib, "trl")
    assert trl == [{"prompt": prompt, "chosen": [{"role": "assistant", "content": "李白隐身，和奥特曼一起回家。"}],
                    "rejected": [{"role": "assistant", "content": "李白喷火，帮奥特曼赢了。"}]}]
    dpo, report = records(lib, "openai-dpo")
    assert dpo == [{"input": {"messages": prompt}, "preferred_output": trl[0]["chosen"],
                    "non_preferred_output": trl[0]["rejected"]}]
    assert report.written == 1 and any("at least 10" in w for w in report.warnings)
    kto, _ = records(lib, "kto")
    assert kto == []  # a pick says which is better, not that either is good or bad


def test_thumbs_make_kto_singles_and_pairs_for_the_same_request(lib):
    up1, down1 = save(lib, "好听的故事一。"), save(lib, "不好听的故事一。")
    up2 = save(lib, "别的请求的好故事。", dynasty="宋")
    down2 = save(lib, "英文的故事。", lang="en")  # a different request: no pair with up1
    for sid, v in ((up1, "up"), (down1, "down"), (up2, "up"), (down2, "down")):
        lib.rate(sid, v)
    pairs, singles, _ = collect(lib)
    assert [(p.chosen_id, p.rejected_id, p.source) for p in pairs] == [(up1, down1, "thumbs")]
    assert [(s.story_id, s.label) for s in singles] == [(up1, True), (down1, False), (up2, True), (down2, False)]
    kto, report = records(lib, "kto")
    assert kto[0]["label"] is True and kto[0]["completion"] == [{"role": "assistant", "content": "好听的故事一。"}]
    assert kto[0]["prompt"][0]["role"] == "system" and report.warnings == []


def test_ties_both_bad_and_identical_stories(lib):
    a, b, c, d = (save(lib, t) for t in ("一样的故事。", "一样的故事。", "第三个。", "第四个。"))
    lib.pick(lib.new_pair(a, b).id, "left")  # two identical stories teach nothing
    lib.pick(lib.new_pair(c, d).id, "both_bad")
    lib.pick(lib.new_pair(a, c).id, "tie")
    lib.new_pair(b, d)  # not picked yet
    pairs, singles, report = collect(lib)
    assert pairs == [] and report.dropped == {"identical_pair": 1, "tie": 1}
    assert [(s.story_id, s.label, s.source) for s in singles] == [(c, False, "both_bad"), (d, False, "both_bad")]
    with pytest.raises(InputError, match="no pairs"):
        export(lib, "trl", Path("never-written.jsonl"))
    assert not Path("never-written.jsonl").exists()


def test_unsafe_and_empty_stories_are_left_out_and_counted_not_quoted(lib):
    good, bad = save(lib, "英雄和奥特曼做朋友。"), save(lib, "他拿刀杀了人，到处是血。")
    empty = save(lib, "   ")
    lib.pick(lib.new_pair(good, bad).id, "left")
    lib.rate(bad, "down")
    lib.rate(empty, "up")
    lib.rate(good, "up")
    pairs, singles, report = collect(lib)
    assert pairs == [] and [s.story_id for s in singles] == [good]
    assert report.dropped["unsafe_story"] == 2 and report.dropped["empty_story"] == 1  # the pair and the 👎
    assert report.unsafe and "杀" not in report.text() and "血" not in report.model_dump_json()


def test_export_writes_jsonl_whole_and_refuses_bad_formats_and_folders(lib, tmp_path):
    a, b = save(lib, "甲故事。"), save(lib, "乙故事。")
    lib.pick(lib.new_pair(a, b).id, "left")
    out = tmp_path / "deep" / "prefs.jsonl"
    report = export(lib, "openai-dpo", out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert report.written == len(lines) == 1 and json.loads(lines[0])["preferred_output"][0]["content"] == "甲故事。"
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind
    with pytest.raises(InputError, match="format"):
        export(lib, "csv", tmp_path / "x.jsonl")
    with pytest.raises(InputError, match="folder"):
        export(lib, "trl", tmp_path)


def test_one_family_exports_only_its_own(settings_env):
    mine, theirs = Library(owner="a" * 32), Library(owner="b" * 32)
    for lib, text in ((mine, "我家"), (theirs, "别人家")):
        x, y = save(lib, f"{text}的故事一。"), save(lib, f"{text}的故事二。")
        lib.pick(lib.new_pair(x, y).id, "left")
        lib.rate(x, "up")
    for lib, text in ((mine, "我家"), (theirs, "别人家")):
        dump = json.dumps([records(lib, f)[0] for f in ("trl", "openai-dpo", "kto")], ensure_ascii=False)
        assert f"{text}的故事一" in dump and ("别人家" in dump) == (text == "别人家")


def preference_schema() -> dict:
    """OpenAI's FineTunePreferenceRequestInput (spec 2.3.0: one line of a DPO training file). This copy
    of the spec keeps the message schemas it is made of but not the line's own schema, so the line is
    written here from the API reference, with $refs into the spec for every message, and stricter
    than OpenAI's on our side: all three fields required, nothing else allowed."""
    ref = lambda name: {"$ref": f"urn:openai#/components/schemas/{name}"}  # noqa: E731
    output = {"type": "array", "minItems": 1, "maxItems": 1, "items": ref("ChatCompletionRequestAssistantMessage")}
    return {"type": "object", "additionalProperties": False,
            "required": ["input", "preferred_output", "non_preferred_output"],
            "properties": {
                "input": {"type": "object", "required": ["messages"], "properties": {"messages": {
                    "type": "array", "minItems": 1, "items": {"oneOf": [
                        ref("ChatCompletionRequestSystemMessage"), ref("ChatCompletionRequestUserMessage"),
                        ref("FineTuneChatCompletionRequestAssistantMessage")]}}}},
                "preferred_output": output, "non_preferred_output": output}}


@pytest.fixture(scope="module")
def preference_validator():
    if not SPEC.is_file():
        pytest.skip("the OpenAI spec is not at ../shared/openai-spec")
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from tests.api.conftest import SpecChecker, nullable_aware

    spec = SpecChecker(SPEC).spec
    registry = Registry().with_resource("urn:openai", Resource.from_contents(spec, default_specification=DRAFT202012))
    return nullable_aware(OAS31Validator)(preference_schema(), registry=registry)


def test_openai_dpo_lines_validate_against_openai_s_spec(lib, tmp_path, preference_validator):
    texts = ["李白骑着会飞的扫帚来到公园。", "Li Bai flew to the park to help Ultraman.", "岳飞和奥特曼一起把怪兽送回家。",
             'A "quoted" story with \\ backslashes and\nnew lines.']
    ids = [save(lib, t, lang="en" if t.isascii() else "zh") for t in texts]
    lib.pick(lib.new_pair(ids[0], ids[2]).id, "left")
    lib.pick(lib.new_pair(ids[3], ids[1]).id, "right")
    out = tmp_path / "dpo.jsonl"
    export(lib, "openai-dpo", out)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    for line in lines:
        preference_validator.validate(line)
    bad = dict(lines[0], preferred_output=[{"role": "user", "content": "x"}])
    assert not preference_validator.is_valid(bad)  # the check can fail: a user message is not an output
    assert not preference_validator.is_valid({"input": lines[0]["input"], "preferred_completion": []})

"""The dataset check: cookbook format errors, tokens, epochs, costs, and the story/legacy checks."""

from __future__ import annotations

import json

import pytest

from storyteller.data import pricing, tokens
from storyteller.data.check import check, default_epochs
from storyteller.data.formats import chat_format_errors
from storyteller.errors import DataError


def story_csv(path, n=12, story="唐朝的李白和奥特曼一起打败了怪兽，大家都很开心。{i}", extra_rows=()):
    lines = ["index,dynasty,super_power,story_type,story"]
    lines += [f'{i},唐,隐形,轻松,"{story.format(i=i)}"' for i in range(n)] + list(extra_rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def codes(report):
    return {i.code: i for i in report.issues}


def test_reference_corpus_is_ready_to_train(reference_csv):
    r = check(reference_csv)
    # the old reference stories tell of killings and bombs: trainable only when a parent allows it
    # (the learned check also reads a few of their sentences of people "leaving this world" as harm)
    assert {"violence", "weapons", "horror"} <= set(r.unsafe) and codes(r).keys() == {"unsafe_story"}
    assert r.examples == 464 and r.kind == "stories" and not r.ok
    with pytest.raises(DataError, match="not safe for children: horror x1"):
        r.require_trainable()
    assert 300 < r.tokens.min <= r.tokens.p5 <= r.tokens.mean <= r.tokens.p95 <= r.tokens.max < 2000
    assert r.epochs == 3 and r.billed_tokens == 3 * r.tokens.total
    assert set(r.costs_usd) == set(pricing.FINE_TUNABLE)
    assert r.costs_usd["gpt-4o-mini-2024-07-18"] == pytest.approx(r.billed_tokens * 3.0 / 1e6, rel=1e-3)
    assert len(r.preview) == 5 and r.preview[0]["dynasty"] == "唐"
    assert "Default epochs 3" in r.text()
    r.require_trainable(allow_unsafe=True)


def test_cookbook_format_errors_are_counted_by_type(tmp_path):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "故事"}]}
    bad = [
        {"messages": [{"role": "user", "content": "hi"}]},                            # no assistant
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]},      # missing key
        {"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "x", "mood": 1}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "y"}]},
        {"messages": []},
        {"nope": 1, "messages": None},
    ]
    assert chat_format_errors([1, 2]) == ["data_type"]
    r = check(write_jsonl(tmp_path / "c.jsonl", [good] * 10 + bad))
    assert not r.ok
    assert r.format_errors == {"example_missing_assistant_message": 1, "message_missing_key": 1,
                               "missing_content": 2, "unrecognized_role": 1, "message_unrecognized_key": 1,
                               "missing_messages_list": 2}
    issue = codes(r)["format_error"]
    assert issue.count == 7 and issue.lines[0] == 11
    with pytest.raises(DataError, match="line 11"):
        r.require_trainable()


def test_empty_duplicate_missing_and_too_few(tmp_path):
    path = story_csv(tmp_path / "s.csv", n=3, extra_rows=['3,唐,隐形,轻松,"唐朝的李白和奥特曼一起打败了怪兽，大家都很开心。0"',
                                                          '4,唐,隐形,轻松,""', '5,,隐形,轻松,"没有朝代"'])
    r = check(path)
    c = codes(r)
    assert c["duplicate_story"].lines == [2, 5] and c["duplicate_story"].severity == "warning"
    assert c["empty_story"].lines == [6] and c["missing_field"].lines == [7]
    assert c["too_few_examples"].severity == "error" and not r.ok


def test_encoding_problems_are_flagged(tmp_path):
    path = tmp_path / "s.csv"
    story_csv(path, n=12, extra_rows=['12,唐,隐形,轻松,"å”æœçš„æŽç™½ garbled"', '13,唐,隐形,轻松,"lost \ufffd char"'])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    r = check(path)
    c = codes(r)
    assert c["bom"].severity == "warning" and c["mojibake"].lines == [14] and c["replacement_char"].lines == [15]
    assert r.ok  # warnings only: still trainable


def test_legacy_checks(tmp_path):
    good = {"prompt": "唐,隐形,轻松 ->\n", "completion": " 故事\n###"}
    r = check(write_jsonl(tmp_path / "l.jsonl", [good] * 10 + [
        {"prompt": "唐,隐形,轻松", "completion": "故事"}, {"prompt": "唐"}]))
    c = codes(r)
    assert c["prompt_separator"].lines == [11] and c["completion_stop"].lines == [11]
    assert c["completion_leading_space"].lines == [11] and c["missing_prompt_or_completion"].lines == [12]
    assert set(r.costs_usd) == set(pricing.LEGACY_BASES)


def test_over_token_limit(tmp_path):
    huge = "龙" * 150_000  # over the limit counted either way (exact or estimate)
    r = check(story_csv(tmp_path / "s.csv", n=10, extra_rows=[f'10,唐,隐形,轻松,"{huge}"']))
    assert r.over_limit == 1 and codes(r)["over_token_limit"].lines == [12]


def test_default_epochs_follow_the_cookbook_rule():
    assert default_epochs(10) == 10 and default_epochs(3) == 25 and default_epochs(1) == 25
    assert default_epochs(100) == 3 and default_epochs(20_000) == 1 and default_epochs(0) == 0


def test_token_counts_are_exact_or_a_documented_estimate():
    n = tokens.count("唐朝的李白和奥特曼一起打败了怪兽。")
    assert 10 <= n <= 25
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "name": "x"}]
    assert tokens.count_messages(msgs) == 3 + 2 * 3 + 1 + sum(tokens.count(t) for t in ("user", "hi", "assistant",
                                                                                        "yo", "x"))


def test_price_lookup():
    assert pricing.price_for("gpt-4o-mini-2024-07-18")[0] is pricing.PRICES["gpt-4o-mini"]
    assert pricing.price_for("ft:gpt-4o-mini-2024-07-18:acme::x") == (pricing.PRICES["gpt-4o-mini"], True)
    assert pricing.price_for("storyteller-tiny") is None
    assert pricing.usage_cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert pricing.training_cost("gpt-4o-mini-2024-07-18", 2_000_000) == pytest.approx(6.0)


def test_unsafe_stories_are_reported_by_category_without_their_text(tmp_path):
    bad = ['12,唐,隐形,轻松,"李白拿起手槍，殺死了一個人。"', '13,唐,隐形,轻松,"他们一起喝酒，喝醉了。"',
           '14,唐,杀 人,轻松,"奥特曼用光线打败了怪兽。"', '15,唐,隐形,轻松,"The ghost ate the boy."']
    r = check(story_csv(tmp_path / "s.csv", extra_rows=bad))
    assert r.unsafe == {"violence": [14, 16], "drugs": [15], "horror": [17]}  # killing outranks the gun
    issue = codes(r)["unsafe_story"]
    assert issue.severity == "error" and issue.count == 4 and issue.lines == [14, 15, 16, 17]
    shown = r.text() + r.model_dump_json()
    assert "violence x2 (rows 14, 16)" in shown and "drugs x1 (row 15)" in shown
    from storyteller.ui.data import report_markdown  # the Data tab shows the same report

    shown += report_markdown(r)
    assert "有不适合孩子的故事" in shown and "violence x2" in shown and not any(p.get("story", "").startswith("李白拿")
                                                                     for p in r.preview)
    assert all(word not in shown for word in ("殺", "喝醉", "杀 人", "ghost ate"))
    with pytest.raises(DataError, match="not safe for children"):
        r.require_trainable()
    r.require_trainable(allow_unsafe=True)  # the parent's explicit override

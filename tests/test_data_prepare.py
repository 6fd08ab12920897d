"""Prepare (chat, legacy, local, csv; seeded split), hostile inputs, the CLI and the Data tab's handlers."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from storyteller.data.io import read_dataset
from storyteller.data.prepare import prepare, split
from storyteller.errors import DataError
from storyteller.prompts import LEGACY_STOP, StoryRequest, build_messages


def stories_csv(path, n=20):
    lines = ["index,dynasty,super_power,story_type,story"]
    lines += [f'{i},唐,隐形,轻松,"第{i}个故事：李白和奥特曼一起打败了怪兽,大家都笑了。\n完。"' for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def untouched(path):
    """Bytes and mtime, to prove the user's file is never modified."""
    return path.read_bytes(), os.stat(path).st_mtime_ns


def test_chat_format_matches_inference_prompt(tmp_path):
    src = stories_csv(tmp_path / "s.csv")
    before = untouched(src)
    res = prepare(src, "chat", tmp_path / "out", val=0.1, seed=42)
    assert (res.train_count, res.val_count) == (18, 2)
    ex = read_jsonl(res.train_path)[0]
    expected = build_messages(StoryRequest(dynasty="唐", power="隐形", style="轻松"))
    assert ex["messages"][:2] == expected and ex["messages"][2]["role"] == "assistant"
    assert untouched(src) == before


def test_legacy_and_local_formats(tmp_path):
    src = stories_csv(tmp_path / "s.csv")
    leg = read_jsonl(prepare(src, "legacy", tmp_path / "o", val=0).train_path)
    assert leg[0]["prompt"] == "唐,隐形,轻松 ->\n"
    assert leg[0]["completion"].startswith(" 第") and leg[0]["completion"].endswith(LEGACY_STOP)
    loc = read_jsonl(prepare(src, "local", tmp_path / "o", val=0).train_path)
    assert set(loc[0]) == {"dynasty", "power", "style", "lang", "hero", "story"}
    assert loc[0]["hero"] == "李白" and loc[0]["lang"] == "zh"
    back = prepare(tmp_path / "o" / "s.local.train.jsonl", "csv", tmp_path / "c", val=0)
    assert [r["story"] for r in read_dataset(back.train_path).records] == [r["story"] for r in loc]


def test_split_is_seeded_and_stable(tmp_path):
    src = stories_csv(tmp_path / "s.csv", n=40)
    a = prepare(src, "chat", tmp_path / "a", val=0.2, seed=7)
    b = prepare(src, "chat", tmp_path / "b", val=0.2, seed=7)
    c = prepare(src, "chat", tmp_path / "c", val=0.2, seed=8)
    assert a.val_path.read_bytes() == b.val_path.read_bytes()
    assert a.val_path.read_bytes() != c.val_path.read_bytes()
    exs = [{"i": i} for i in range(100)]
    _, val = split(exs, 0.1, 1)
    _, val_more = split(exs + [{"i": i} for i in range(100, 110)], 0.1, 1)
    assert len(set(map(str, val)) & set(map(str, val_more))) >= 8  # adding rows keeps most of val in place


def test_corpus_jsonl_input(tmp_path):
    rec = {"id": "x", "lang": "en", "dynasty": "Tang", "hero": "Li Bai", "hero_fact": "f", "power": "Flying",
           "style": "Funny", "age_band": "5-7", "story": "Li Bai flew with Ultraman."}
    src = tmp_path / "corpus.jsonl"
    src.write_text("\n".join(json.dumps(rec | {"id": str(i), "story": f"{rec['story']} {i}"}) for i in range(12)),
                   encoding="utf-8")
    ex = read_jsonl(prepare(src, "chat", tmp_path / "o", val=0).train_path)[0]
    assert "Li Bai" in ex["messages"][1]["content"] and "English" in ex["messages"][1]["content"]


def test_reference_corpus_round_trip(reference_csv, tmp_path):
    res = prepare(reference_csv, "chat", tmp_path / "o", val=0.1, seed=42)
    assert res.train_count + res.val_count + res.dropped_duplicates + res.dropped_empty == 464
    assert res.val_count == round(0.1 * (464 - res.dropped_duplicates - res.dropped_empty))


@pytest.mark.parametrize("content, match", [
    ("index,dynasty,super_power,story_type,story\n1,唐,隐形,轻松,故事\n".encode("gbk"), "not UTF-8.*GBK"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("index,dynasty,story\n1,唐,故事\n".encode(), "missing column.*super_power"),
    ('index,dynasty,super_power,story_type,story\n1,唐,隐形,轻松,"unclosed\n2,宋,飞行,努力,x\n'.encode(),
     "line 2"),
    ("index,dynasty,super_power,story_type,story\n1,唐,隐形,轻松,a,extra\n".encode(), "line 2: expected 5"),
    ('{"dynasty": "唐", "power": "隐形", "style": "轻松", "story": "x"}\n{"dynasty": \n'.encode(),
     "line 2: not valid JSON"),
    ('{"dynasty": "唐", "story": "x"}\n'.encode(), "line 1: missing power, style"),
    (b"", "empty"),
])
def test_hostile_inputs_give_clear_errors_and_stay_untouched(tmp_path, content, match):
    src = tmp_path / ("bad.jsonl" if content.startswith(b"{") else "bad.csv")
    src.write_bytes(content)
    before = untouched(src)
    with pytest.raises(DataError, match=match):
        prepare(src, "chat", tmp_path / "out")
    assert untouched(src) == before and not (tmp_path / "out").exists()


def test_huge_upload_is_rejected_before_reading(tmp_path):
    src = tmp_path / "huge.csv"
    with open(src, "wb") as f:  # sparse 200 MB: costs no disk, would cost memory if read
        f.truncate(200 * 1024 * 1024)
    with pytest.raises(DataError, match="200 MB.*limit"):
        read_dataset(src)


def test_too_few_rows_to_fine_tune(tmp_path):
    with pytest.raises(DataError, match="at least 10"):
        prepare(stories_csv(tmp_path / "s.csv", n=3), "chat", tmp_path / "o")


def test_cli_check_and_prepare(tmp_path):
    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401

    src = stories_csv(tmp_path / "s.csv")
    runner = CliRunner()
    r = runner.invoke(app, ["data", "check", str(src), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["examples"] == 20 and json.loads(r.output)["ok"] is True
    r = runner.invoke(app, ["data", "prepare", str(src), "--format", "legacy", "--out", str(tmp_path / "p"),
                            "--val", "0.25"])
    assert r.exit_code == 0 and "train: 15" in r.output
    bad = stories_csv(tmp_path / "few.csv", n=3)
    r = runner.invoke(app, ["data", "check", str(bad)])
    assert r.exit_code == 1 and "NOT ready" in r.output
    r = runner.invoke(app, ["data", "prepare", str(tmp_path / "missing.csv")])
    assert r.exit_code == 1 and "not found" in r.output


def test_data_tab_handlers(tmp_path, settings_env):
    from storyteller.ui import data as tab

    src = stories_csv(tmp_path / "s.csv")
    md, preview, path, info = tab.on_upload(str(src))
    copy = settings_env / "var" / "datasets" / "uploads" / "s.csv"  # uploads are copied into the workspace
    assert "可以训练" in md and path == str(copy) and info["ok"] and copy.read_bytes() == src.read_bytes()
    msg, files, published, info = tab.run_prepare(path, "chat", 0.1, 42, info)
    files = files["value"]
    assert "训练 **18**" in msg and published == files[0] and info["source"] == str(copy)
    assert files[0].startswith(str(settings_env))  # outputs go to the app's data folder, not beside the upload
    msg, files2, _, _ = tab.run_prepare(published, "legacy", 0.1, 42, info)  # prepares from the source again
    files2 = files2["value"]
    assert files2 and files2[0].endswith(".legacy.train.jsonl")
    md, *_ = tab.on_upload(str(stories_csv(tmp_path / "few.csv", n=3)))
    assert "还不能训练" in md

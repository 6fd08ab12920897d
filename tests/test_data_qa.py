"""What a first-time parent (and a child pressing every button) ran into on the Data tab and CLI:
each bad input gets a friendly message naming the line and the fix, and no file is ever changed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from storyteller.data.check import check
from storyteller.data.io import read_dataset
from storyteller.data.prepare import prepare
from storyteller.data.storefile import StoryFile
from storyteller.errors import DataError
from tests.test_data_prepare import stories_csv, untouched


def chat_file(path, n=12, broken_line=5):
    rows = []
    for i in range(n):
        msgs = [{"role": "user", "content": f"讲第{i}个故事"}, {"role": "assistant", "content": f"第{i}个故事。"}]
        rows.append({"messages": msgs[:1] if i + 1 == broken_line else msgs})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_prepare_refuses_a_chat_file_with_a_broken_example(tmp_path):
    src = chat_file(tmp_path / "chat.jsonl")
    before = untouched(src)
    with pytest.raises(DataError) as e:
        prepare(src, "chat", tmp_path / "out")
    assert "line 5" in str(e.value) and "no assistant message" in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert untouched(src) == before
    issue = next(i for i in check(src).issues if i.code == "format_error")
    assert issue.lines == [5] and "no assistant message" in issue.message


def test_reader_names_folders_json_lists_and_reads_chinese_headers(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_dataset(tmp_path)
    arr = tmp_path / "stories.json"
    arr.write_text(json.dumps([{"dynasty": "唐", "power": "隐形", "style": "轻松", "story": "故事"}]), encoding="utf-8")
    with pytest.raises(DataError, match="line 1: this is one JSON list"):
        read_dataset(arr)
    zh = tmp_path / "zh.csv"
    zh.write_text("序号,朝代,超能力,风格,故事\n0,唐,隐形,轻松,李白和奥特曼打败了怪兽。\n", encoding="utf-8")
    ds = read_dataset(zh)
    assert ds.records[0]["dynasty"] == "唐" and ds.records[0]["story"].startswith("李白")


def test_gbk_file_gets_a_chinese_fix(tmp_path):
    src = tmp_path / "excel.csv"
    src.write_bytes("dynasty,super_power,story_type,story\n唐,隐形,轻松,故事\n".encode("gb18030"))
    with pytest.raises(DataError) as e:
        read_dataset(src)
    assert "line 2" in str(e.value) and "GBK" in str(e.value) and "CSV UTF-8" in str(e.value) and "另存为" in str(e.value)


def test_prepare_into_a_file_instead_of_a_folder(tmp_path):
    src = stories_csv(tmp_path / "s.csv")
    before = untouched(src)
    with pytest.raises(DataError, match="is a file, not a folder"):
        prepare(src, "chat", src)
    assert untouched(src) == before


def test_one_writer_per_story_file(tmp_path):
    out = tmp_path / "stories.csv"
    with StoryFile(out) as first:
        first.write(("唐", "隐形", "轻松"), "第一个故事。")
        with pytest.raises(DataError, match="being written by another generation"):
            StoryFile(out)
        first.write(("唐", "隐形", "轻松"), "第二个故事。")
    with StoryFile(out) as again:  # free again once the first run has finished
        assert again.rows == 2
    assert [r["story"] for r in read_dataset(out).records] == ["第一个故事。", "第二个故事。"]
    with pytest.raises(DataError, match="Cannot write"):
        StoryFile(tmp_path)  # a folder


def test_cli_bad_template_file_lang_and_out_are_friendly(tmp_path, settings_env):
    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401  (registers `data`)

    runner = CliRunner()
    base = ["data", "generate", "-d", "唐", "-p", "隐形", "-s", "轻松", "--model", "gpt-4o-mini"]
    cases = [
        (base + ["--out", str(tmp_path / "a.csv"), "--template", f"@{tmp_path / 'nope.txt'}"], "nope.txt"),
        (base + ["--out", str(tmp_path / "a.csv"), "--lang", "fr"], "zh or en"),
        (base + ["--out", str(tmp_path)], "Cannot write"),
        (["data", "prepare", str(stories_csv(tmp_path / "s.csv")), "--out", str(tmp_path / "s.csv")], "not a folder"),
        (["data", "prepare", str(chat_file(tmp_path / "c.jsonl")), "--out", str(tmp_path / "p")], "line 5"),
        (["data", "check", str(tmp_path)], "is a folder"),
    ]
    for args, expected in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 1, (args, r.output)
        assert expected in r.output and "Traceback" not in r.output and r.exception.__class__ is SystemExit


# -- the Data tab's handlers ----------------------------------------------------------------------

def test_tab_buttons_pressed_with_nothing_chosen(settings_env):
    from storyteller.ui import data as tab

    session = tab.DataSession()
    assert tab.stop_generate(session) == {"__type__": "update"}  # idle: keeps the last result on screen
    out = list(tab.run_generate("gpt-4o-mini", [], ["隐形"], ["轻松"], 1, 1, "", "zh", "x", "csv", session))
    assert len(out) == 1 and "至少选一个朝代" in out[0][0] and "List should" not in out[0][0]
    out = list(tab.run_generate(None, ["唐"], ["隐形"], ["轻松"], 1, 1, "", "zh", "x", "csv", session))
    assert "选一个写故事的模型" in out[0][0]
    msg, files, path, _ = tab.run_prepare(None, "chat", 0.1, 42, {})
    assert "先生成或上传" in msg and files["visible"] is False and path is None
    md, preview, path, info = tab.on_upload(None)  # the file was removed: forget it
    assert (md, path, info, preview["visible"]) == ("", None, {}, False)


def test_tab_upload_messages_for_a_parent(tmp_path, settings_env):
    from storyteller.ui import data as tab

    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"dynasty": "唐", "power": "隐形", "style": "轻松", "story": "好"}\n{"dynasty": \n', encoding="utf-8")
    before = untouched(bad)
    md, preview, path, info = tab.on_upload(str(bad))
    assert "这个文件有问题" in md and "line 2" in md and "Traceback" not in md
    assert path is None and info == {} and preview["visible"] is False and untouched(bad) == before
    src = stories_csv(tmp_path / "s.csv", n=3)
    md, preview, path, info = tab.on_upload(str(src))
    assert "还不能训练" in md and "故事太少" in md and "**3** 个故事" in md
    assert preview["headers"][0] == "朝代" and len(preview["value"]) == 3

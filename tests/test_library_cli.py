"""`storyteller stories list|show|rate|favourite|delete|export`, run as a user runs them (typer's
CliRunner over the real command, a temp database): friendly errors for every bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from storyteller.cli import app
from storyteller.cli import commands  # noqa: F401  (registers the commands)
from storyteller.library import Library

REQ = {"dynasty": "唐", "power": "隐形", "style": "轻松", "lang": "zh", "length": 300, "age_band": "6-8"}


@pytest.fixture
def cli(settings_env):
    runner = CliRunner()
    lib = Library()
    ids = [lib.save_story("storyteller-tiny", REQ, f"第{i}个故事。英雄帮助了奥特曼。", "done") for i in range(3)]

    def run(*args: str):
        return runner.invoke(app, ["stories", *args])
    return run, lib, ids


def test_list_show_rate_favourite(cli, tmp_path):
    run, lib, (a, b, c) = cli
    out = run("list")
    assert out.exit_code == 0 and out.stdout.splitlines()[0].split()[0] == str(c) and "第0个故事。" in out.stdout
    assert run("rate", str(a), "up", "--reason", "loved").exit_code == 0
    assert run("rate", str(b), "down", "-r", "scary", "-r", "boring").exit_code == 0
    assert lib.get(b).reasons == ["scary", "boring"] and lib.get(a).rating == 1
    assert "⭐" in run("favourite", str(a)).stdout
    listed = run("list", "--favourites", "--json")
    assert [json.loads(x)["id"] for x in listed.stdout.splitlines()] == [a]
    shown = run("show", str(a), "--html", str(tmp_path / "page.html"))
    assert shown.exit_code == 0 and "英雄帮助了奥特曼" in shown.stdout and "reasons: loved" in shown.stdout
    assert "<ruby>英<rt>yīng</rt></ruby>" in (tmp_path / "page.html").read_text(encoding="utf-8")
    assert run("list", "--search", "%").stdout.startswith("No stories found")


@pytest.mark.parametrize("args, said", [
    (("show", "99999999999999999999999"), "no story number"),
    (("show", "abc"), "no story number"),
    (("show", "--", "-3"), "no story number"),
    (("rate", "1", "sideways"), "up (👍) or down"),
    (("rate", "1", "up", "--reason", "'; DROP TABLE stories"), "Unknown reason"),
    (("rate", "424242", "up"), "no story number"),
    (("export", "--format", "csv", "--out", "x.jsonl"), "Unknown format"),
    (("export", "--format", "trl", "--out", "x.jsonl"), "no pairs to export"),
    (("delete", "1"), "Add --yes"),
    (("delete", "all"), "all 3 stories"),
])
def test_bad_input_is_a_friendly_error(cli, args, said):
    run, lib, _ = cli
    out = run(*args)
    assert out.exit_code == 1 and said in out.stderr and "Traceback" not in out.output
    assert lib.count() == 3  # nothing lost


def test_export_every_format(cli, tmp_path):
    run, lib, (a, b, c) = cli
    lib.pick(lib.new_pair(a, b).id, "left")
    run("rate", str(c), "down")
    for fmt, key in (("trl", "chosen"), ("openai-dpo", "preferred_output"), ("kto", "label")):
        out = tmp_path / f"{fmt}.jsonl"
        result = run("export", "--format", fmt, "--out", str(out), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["written"] == 1
        assert key in json.loads(out.read_text(encoding="utf-8").splitlines()[0])


def test_delete_one_then_all(cli):
    run, lib, (a, b, c) = cli
    assert run("delete", str(a), "--yes").stdout.strip() == f"deleted story {a}"
    assert run("delete", "all", "--yes").stdout.strip() == "deleted 2 stories" and lib.count() == 0
    assert "No stories yet" in run("list").stdout

"""The blind reading: a pack hides who wrote what; scores joined with the key are recorded."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from storyteller import corpus
from storyteller.cli import app
from storyteller.cli import commands  # noqa: F401
from storyteller.errors import DataError
from storyteller.model.reading import pack, score
from tests.fakes.tiny_model import build_tiny_model


@pytest.fixture
def model_dir(tmp_path):
    folder = build_tiny_model(tmp_path / "tiny-st", storyteller=True, n_positions=1024)
    held = [s.id for s in corpus.load()][::9]
    (folder / "training_config.json").write_text(json.dumps({"heldout_ids": held}), encoding="utf-8")
    return folder


def _fill(folder, yes_for: str):
    key = json.loads((folder / "key" / "key.json").read_text(encoding="utf-8"))
    with (folder / "scores.csv").open("a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        for it in key["items"]:
            good = it["source"] == yes_for
            w.writerow([it["number"], *([9] * 5 if good else [2] * 5), "yes" if good else "no", ""])


def test_pack_hides_the_source_and_score_joins_the_key(model_dir, tmp_path):
    out = pack(model_dir, tmp_path / "pack", n_zh=2, n_en=1, seed=3)
    text = (out / "pack.md").read_text(encoding="utf-8")
    assert text.count("\n## ") + text.startswith("## ") == 6
    assert "model" not in text.lower().replace("request", "") or "team" not in text.lower()
    assert not (out / "key.json").exists() and (out / "key" / "key.json").is_file()
    assert (out / "rubric.md").read_text(encoding="utf-8").startswith("# Reading rubric")
    key = json.loads((out / "key" / "key.json").read_text(encoding="utf-8"))
    assert sorted(it["source"] for it in key["items"]) == ["model"] * 3 + ["team"] * 3
    assert [it["number"] for it in key["items"]] == [1, 2, 3, 4, 5, 6]
    _fill(out, yes_for="team")
    result = score(out)
    assert result["team zh"]["grammar"] == 9 and result["team zh"]["read_tonight"] == 1.0
    assert result["model zh"]["read_tonight"] == 0.0 and result["model en"]["n"] == 1


def test_missing_scores_are_a_friendly_error(model_dir, tmp_path):
    out = pack(model_dir, tmp_path / "pack", n_zh=1, n_en=0)
    with pytest.raises(DataError, match="miss 2 stories"):
        score(out)


def test_cli_pack_then_score_records_the_reading_in_the_model_folder(model_dir, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["reading", "pack", "--model", str(model_dir), "--out", str(tmp_path / "p"), "--n-zh", "1",
                            "--n-en", "0"])
    assert r.exit_code == 0, r.output
    _fill(tmp_path / "p", yes_for="model")
    r = runner.invoke(app, ["reading", "score", str(tmp_path / "p"), "--reader", "test reader"])
    assert r.exit_code == 0, r.output
    assert "| model zh (1) |" in r.output and "100%" in r.output
    entry = json.loads((model_dir / "readings.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert entry["reader"] == "test reader" and entry["scores"]["model zh"]["read_tonight"] == 1.0


def test_a_second_model_beside_tells_the_same_requests_in_the_same_pack(model_dir, tmp_path):
    import shutil

    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    out = pack(model_dir, tmp_path / "pack", n_zh=2, n_en=1, seed=5, beside=other)
    key = json.loads((out / "key" / "key.json").read_text(encoding="utf-8"))
    assert sorted(it["source"] for it in key["items"]) == ["beside"] * 3 + ["model"] * 3 + ["team"] * 3
    assert key["beside"] == str(other)
    asked = {src: sorted(it["request"] for it in key["items"] if it["source"] == src) for src in ("model", "beside")}
    assert asked["model"] == asked["beside"]
    text = (out / "pack.md").read_text(encoding="utf-8")
    assert "beside" not in text and str(other) not in text
    _fill(out, yes_for="beside")
    result = score(out)
    assert result["beside zh"]["read_tonight"] == 1.0 and result["beside zh"]["n"] == 2
    assert result["model zh"]["read_tonight"] == 0.0 and result["team en"]["n"] == 1


def test_cli_a_missing_beside_model_is_a_friendly_error(model_dir, tmp_path):
    r = CliRunner().invoke(app, ["reading", "pack", "--model", str(model_dir), "--out", str(tmp_path / "p"),
                                 "--beside", str(tmp_path / "no-such-model"), "--n-zh", "1", "--n-en", "0"])
    assert r.exit_code == 1 and "Error:" in r.output and "Traceback" not in r.output

"""`storyteller finetune ...` in process: plan, start, follow, status, list, cancel, friendly errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storyteller.cli import app
from storyteller.cli import commands  # noqa: F401  (registers the commands)
from tests.fakes.openai_finetune import FineTuning
from tests.fakes.tiny_model import build_tiny_model

runner = CliRunner()


@pytest.fixture
def env(openai_env, story_sample, monkeypatch, tmp_path):
    from storyteller.config import get_settings

    build_tiny_model(tmp_path / "models" / "tiny", storyteller=True)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    return FineTuning(openai_env, steps=3), story_sample


def test_openai_start_follow_status_list(env):
    fake, data = env
    r = runner.invoke(app, ["finetune", "start", "--provider", "openai", "--base", "gpt-4o-mini-2024-07-18",
                            "--data", str(data), "--epochs", "2", "--name", "tang"], input="y\n")
    assert r.exit_code == 0, r.output
    assert "Estimate: about $" in r.output and '"suffix": "tang"' in r.output and "Start this job?" in r.output
    job_id = r.output.strip().splitlines()[-1].split()[1]
    r = runner.invoke(app, ["finetune", "follow", job_id, "--poll", "0"])
    assert r.exit_code == 0, r.output
    assert "Step 3/3" in r.output and r.output.strip().endswith(fake.jobs[next(iter(fake.jobs))]["fine_tuned_model"])
    r = runner.invoke(app, ["finetune", "status", job_id, "--json"])
    st = json.loads(r.output)
    assert st["status"] == "succeeded" and [m["step"] for m in st["metrics"]] == [1, 2, 3]
    r = runner.invoke(app, ["finetune", "list"])
    assert job_id in r.output and "succeeded" in r.output
    r = runner.invoke(app, ["finetune", "cancel", job_id])
    assert r.exit_code == 1 and "already succeeded" in r.output


def test_declining_starts_nothing_and_errors_are_friendly(env, tmp_path):
    fake, data = env
    r = runner.invoke(app, ["finetune", "start", "--provider", "openai", "--base", "gpt-4o-mini-2024-07-18",
                            "--data", str(data)], input="n\n")
    assert r.exit_code == 0 and not fake.jobs and not fake.files
    r = runner.invoke(app, ["finetune", "start", "--data", str(tmp_path / "nope.csv"), "--base", "tiny", "-y"])
    assert r.exit_code == 1 and "Error:" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["finetune", "start", "--data", str(data), "--base", "tiny", "--mix-share", "3", "-y"])
    assert r.exit_code == 1 and "mix_share" in r.output
    r = runner.invoke(app, ["finetune", "status", "job-nope"])
    assert r.exit_code == 1 and "no fine-tuning job" in r.output


def test_local_no_launch_prints_the_worker_command(env):
    _, data = env
    r = runner.invoke(app, ["finetune", "start", "--data", str(data), "--base", "tiny", "--name", "t1", "--max-steps",
                            "3", "-y", "--no-launch"])
    assert r.exit_code == 0, r.output
    assert "torchrun --nproc_per_node <gpus> -m storyteller.finetune.worker --job-dir" in r.output
    job_id = [x for x in r.output.splitlines() if x.startswith("Started")][0].split()[1]
    assert (Path(json.loads(runner.invoke(app, ["finetune", "status", job_id, "--json"]).output)["job_dir"])
            / "job.json").is_file()
    r = runner.invoke(app, ["finetune", "cancel", job_id])
    assert r.exit_code == 0 and "cancelled" in r.output


def test_start_with_yes_and_follow_prints_progress_to_the_end(env):
    """The documented `finetune start --yes --follow` follows the job instead of crashing."""
    fake, data = env
    r = runner.invoke(app, ["finetune", "start", "--provider", "openai", "--base", "gpt-4o-mini-2024-07-18",
                            "--data", str(data), "--yes", "--follow"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "OptionInfo" not in r.output
    assert "Step 3/3" in r.output and r.output.strip().endswith(fake.jobs[next(iter(fake.jobs))]["fine_tuned_model"])


def unsafe_copy(data: Path, tmp_path: Path) -> Path:
    """The sample with two stories made unsafe (a gun on line 2, getting drunk on line 5)."""
    rows = [json.loads(x) for x in data.read_text(encoding="utf-8").splitlines()]
    rows[1]["story"] += "他拿起手枪对准了一个人。"
    rows[4]["story"] += "大家一起喝醉了。"
    bad = tmp_path / "unsafe.jsonl"
    bad.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return bad


def test_unsafe_stories_stop_a_fine_tune_unless_the_parent_allows_them(env, tmp_path):
    fake, data = env
    bad = unsafe_copy(data, tmp_path)
    for extra in (["--provider", "openai", "--base", "gpt-4o-mini-2024-07-18"], ["--base", "tiny", "--no-launch"]):
        r = runner.invoke(app, ["finetune", "start", "--data", str(bad), "-y", *extra])
        assert r.exit_code == 1 and "not safe for children" in r.output and "--allow-unsafe" in r.output
        assert "drugs x1 (row 5)" in r.output and "weapons x1 (row 2)" in r.output
        assert "手枪" not in r.output and "喝醉" not in r.output and "Traceback" not in r.output
    assert not fake.jobs and not fake.files
    r = runner.invoke(app, ["finetune", "start", "--data", str(bad), "--base", "tiny", "--name", "t2",
                            "--max-steps", "3", "-y", "--no-launch", "--allow-unsafe"])
    assert r.exit_code == 0, r.output
    assert '"allow_unsafe": true' in r.output

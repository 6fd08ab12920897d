"""Contract: every request the OpenAI fine-tuning provider makes is valid against OpenAI's spec.

The provider runs for real against the spec mock (tests/test_contract_openai.py's fixture); an
httpx response hook records each answer, and each must carry x-steady-error-count "0".
"""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from storyteller.finetune import JobSpec, get_provider
from tests.test_contract_openai import steady_url  # noqa: F401  (module-scoped spec mock fixture)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def recorded(steady_url, settings_env, monkeypatch, tmp_path):  # noqa: F811
    from storyteller.config import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", steady_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-contract")
    get_settings.cache_clear()
    seen: list[tuple[str, str, int, str | None]] = []

    def hook(r: httpx.Response) -> None:
        seen.append((r.request.method, r.request.url.path, r.status_code, r.headers.get("x-steady-error-count")))

    http = httpx.Client(event_hooks={"response": [hook]}, timeout=30)
    p = get_provider("openai")
    monkeypatch.setattr(p, "client", lambda job=None: openai.OpenAI(base_url=steady_url, api_key="sk-contract",
                                                                   max_retries=0, http_client=http))
    lines = (ROOT / "assets" / "corpus" / "zh_c.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    data = tmp_path / "stories.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    yield p, data, seen
    http.close()


@pytest.mark.slow
@pytest.mark.parametrize("method_form", [True, False], ids=["method", "hyperparameters"])
@pytest.mark.parametrize("base", ["gpt-4o-mini-2024-07-18", "ft:gpt-4o-mini-2024-07-18:acme::abc123", "babbage-002"])
def test_fine_tuning_requests_match_the_spec(recorded, base, method_form):
    p, data, seen = recorded
    spec = JobSpec(provider="openai", base_model=base, train_file=str(data), val_file=str(data), name="tang-1",
                   seed=3, n_epochs=2, batch_size=4, learning_rate_multiplier=0.5, method_form=method_form)
    job = p.start(spec)  # files.create x2, jobs.create
    p.store.update_job(job.id, status="running")  # the mock's placeholder status may read as finished
    p.refresh(p.store.get_job(job.id))  # jobs.retrieve, list_events (paged with after)
    p.checkpoints(job.id)  # jobs.checkpoints.list
    p.store.update_job(job.id, status="running")
    p.cancel(job.id)  # jobs.cancel
    p.list()  # jobs.list
    assert sum(m == "POST" and path.endswith("/files") for m, path, _, _ in seen) == 2  # train + validation
    ends = {path.rstrip("/").rsplit("/", 1)[-1] for _, path, _, _ in seen}
    assert {"files", "jobs", "events", "checkpoints", "cancel"} <= ends, seen
    bad = [s for s in seen if s[2] != 200 or s[3] != "0"]
    assert not bad, bad


@pytest.mark.slow
def test_result_file_download_matches_the_spec(recorded):
    p, data, seen = recorded
    raw = p.client().files.with_raw_response.content("file-abc123")
    assert raw.status_code == 200 and raw.headers.get("x-steady-error-count") == "0"
    assert seen[-1][:2] == ("GET", "/files/file-abc123/content")

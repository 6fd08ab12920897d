"""Preference fine-tuning through the `openai` SDK on loopback: upload OpenAI's DPO lines, create a job
with method dpo, follow it to the end (a real worker, trl's DPOTrainer on a tiny storyteller model),
then tell with the new model. A file of the wrong kind for the method gets OpenAI's error object."""

from __future__ import annotations

import json

import openai
import pytest

from tests.api.test_api_finetune import follow
from tests.test_finetune_preference import pair_lines


def upload(client, tmp, lines, name="prefs.jsonl"):
    path = tmp / name
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    with open(path, "rb") as f:
        return client.files.create(file=f, purpose="fine-tune")


@pytest.mark.slow
def test_method_dpo_trains_locally_and_the_model_tells(api_env, client):
    f = upload(client, api_env, pair_lines(10, "openai-dpo"))
    job = client.fine_tuning.jobs.create(
        training_file=f.id, model="tiny", suffix="liked", seed=3,
        method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "batch_size": 5, "beta": 0.2}}})
    assert job.method.type == "dpo" and job.method.dpo.hyperparameters.beta == 0.2
    done, events = follow(client, job.id)
    assert done.status == "succeeded", done.error
    messages = [e.message for e in events]
    assert any(m.startswith("Data: 10 preference pairs (DPO)") for m in messages)
    assert messages[-1] == "Done: saved as models/liked"
    assert done.fine_tuned_model in [m.id for m in client.models.list()]
    story = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=8, seed=1,
                                           messages=[{"role": "user", "content": "唐,隐形,轻松 ->"}])
    assert story.choices[0].message.content and story.usage.completion_tokens == 8
    card = (api_env / "models" / "liked" / "README.md").read_text(encoding="utf-8")
    assert "DPO-trained from tiny on the family's 10 preference pairs" in card


def test_method_and_file_kind_must_agree(api_env, client):
    chat = upload(client, api_env, [{"messages": [{"role": "user", "content": "唐,隐形,轻松 ->"},
                                                  {"role": "assistant", "content": "从前有一位英雄。"}]}] * 10, "chat.jsonl")
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(training_file=chat.id, model="tiny", method={"type": "dpo"})
    assert e.value.code == "invalid_file_format" and "needs DPO examples" in e.value.message
    dpo = upload(client, api_env, pair_lines(10, "openai-dpo"))
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(training_file=dpo.id, model="tiny", method={"type": "supervised"})
    assert e.value.code == "invalid_file_format"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(training_file=dpo.id, model="tiny", method={"type": "reinforcement"})
    assert e.value.code == "unsupported_method"
    assert client.fine_tuning.jobs.list().data == []

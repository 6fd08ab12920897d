"""The story check of preference fine-tunes (finetune/story_check.py), with the shipped model.

Covers: the starting model's surprise tells a story it could have written from the same tokens out
of order; an epoch that breaks the stories is dropped (the last passing weights come back, training
stops) and one that keeps them is kept; a first epoch that breaks them keeps nothing; a resumed job
rolls back to what an earlier process kept; and a real DPO job whose learning rate wrecks the model
fails kindly, makes no model and leaves the pairs file as it was.
"""

from __future__ import annotations

import copy
import json
import random

import pytest

from storyteller.finetune import story_check
from storyteller.finetune.story_check import StoryCheck, summary, surprise
from storyteller.paths import DEFAULT_MODEL_DIR
from storyteller.prompts import StoryRequest

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").exists(),
                                reason="models/storyteller-tiny not built")
REQS = [StoryRequest(dynasty="唐", power="隐形", style="轻松", lang="zh"),
        StoryRequest(dynasty="Song", power="flying", style="funny", lang="en")]


@pytest.fixture(scope="module")
def shipped():
    from storyteller.model.evaluate import load_model

    return load_model(DEFAULT_MODEL_DIR)


class Log:
    def __init__(self):
        self.events = []

    def event(self, message, level="info", **data):
        self.events.append((level, message, data))


class State:  # the fields of transformers' TrainerState the callback reads
    def __init__(self, step: int, epoch: float):
        self.global_step, self.epoch = step, epoch


class Control:
    should_training_stop = False


def wreck(model, seed: int = 0) -> None:
    """What a far too large learning rate does: every weight pushed well away from where it was."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.5)


def weights(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def same(a: dict, b: dict) -> bool:
    return all(bool((a[n] == b[n]).all()) for n in a)


def test_the_starting_model_is_surprised_by_broken_sentences(shipped):
    from storyteller.model.evaluate import generate

    model, tok = shipped
    gen = generate(model, tok, REQS[0], max_new_tokens=120, seed=3)
    written = gen["ids"][gen["prompt_len"]:]
    assert len(written) > 20
    shuffled = written[:]
    random.Random(0).shuffle(shuffled)
    broken = dict(gen, ids=gen["ids"][:gen["prompt_len"]] + shuffled)
    own = surprise(model, gen)
    assert 0 < own < 1.0 and surprise(model, broken) > 5 * own  # the same tokens, out of order


def test_an_epoch_that_keeps_the_stories_is_kept_and_one_that_breaks_them_is_dropped(shipped, tmp_path):
    ref, tok = shipped
    model = copy.deepcopy(ref).train()
    check = StoryCheck(ref, tok, REQS, max_new_tokens=80)
    log = Log()
    cb = story_check.callback(check, tmp_path, log, lambda: False)
    control = Control()
    cb.on_epoch_end(None, State(10, 1.0), control, model=model)
    assert not control.should_training_stop and cb.record["kept_step"] == 10
    assert cb.record["checks"][0]["ratio"] == pytest.approx(1.0)  # the same weights tell the same stories
    assert model.training  # handed back to training as it came
    good = weights(model)
    cb.on_epoch_end(None, State(15, 1.5), control, model=model)  # not an epoch's end: nothing told
    assert len(cb.record["checks"]) == 1
    wreck(model)
    cb.on_epoch_end(None, State(20, 2.0), control, model=model)
    assert control.should_training_stop and cb.record["rolled_back_to"] == 10 and not cb.kept_nothing
    last = cb.record["checks"][-1]
    assert not last["passed"] and last["ratio"] > story_check.LIMIT
    assert same(weights(model), good)  # the weights of the epoch that passed came back
    assert log.events[-1][0] == "warning" and "Keeping the weights of step 10" in log.events[-1][1]
    cb.on_train_end(None, State(20, 2.0), control, model=model)  # no second check after a roll-back
    assert len(cb.record["checks"]) == 2
    assert "epoch 2 broke sentences" in summary(cb.record) and "epoch 1 (1.00×) were kept" in summary(cb.record)
    saved = json.loads((tmp_path / story_check.RECORD).read_text())
    assert saved["rolled_back_to"] == 10


def test_a_first_epoch_that_breaks_the_stories_keeps_nothing(shipped, tmp_path):
    ref, tok = shipped
    model = copy.deepcopy(ref)
    wreck(model, seed=1)
    cb = story_check.callback(StoryCheck(ref, tok, REQS[:1], max_new_tokens=80), tmp_path, Log(), lambda: False)
    control = Control()
    cb.on_epoch_end(None, State(5, 1.0), control, model=model)
    assert control.should_training_stop and cb.kept_nothing and summary(cb.record) == ""


def test_half_way_through_the_first_epoch_is_checked_so_a_breaking_epoch_still_leaves_a_model(shipped, tmp_path):
    from types import SimpleNamespace

    ref, tok = shipped
    model = copy.deepcopy(ref)
    cb = story_check.callback(StoryCheck(ref, tok, REQS[:1], max_new_tokens=80), tmp_path, Log(), lambda: False)
    state = State(0, 0.0)
    state.max_steps = 30
    cb.on_train_begin(SimpleNamespace(max_steps=-1, num_train_epochs=3), state, Control())
    control = Control()
    for step in (4, 5, 6):
        cb.on_step_end(None, State(step, step / 10), control, model=model)
    assert [c["step"] for c in cb.record["checks"]] == [5] and cb.record["kept_step"] == 5
    good = weights(model)
    wreck(model, seed=3)
    cb.on_epoch_end(None, State(10, 1.0), control, model=model)
    assert control.should_training_stop and not cb.kept_nothing and same(weights(model), good)
    assert "epoch 1 broke sentences" in summary(cb.record) and "epoch 0.5 (1.00×)" in summary(cb.record)


def test_a_resumed_job_rolls_back_to_what_the_earlier_process_kept(shipped, tmp_path):
    ref, tok = shipped
    model = copy.deepcopy(ref)
    check = StoryCheck(ref, tok, REQS[:1], max_new_tokens=80)
    first = story_check.callback(check, tmp_path, Log(), lambda: False)
    first.on_epoch_end(None, State(4, 1.0), Control(), model=model)
    good = weights(model)
    wreck(model, seed=2)  # the process ends (cancel), the job resumes in a new one and goes on
    second = story_check.callback(check, tmp_path, Log(), lambda: False)
    assert second.record["kept_step"] == 4
    control = Control()
    second.on_epoch_end(None, State(8, 2.0), control, model=model)
    assert control.should_training_stop and same(weights(model), good)


def test_a_cancelled_run_is_not_checked(shipped, tmp_path):
    ref, tok = shipped
    cb = story_check.callback(StoryCheck(ref, tok, REQS[:1], max_new_tokens=80), tmp_path, Log(), lambda: True)
    cb.on_epoch_end(None, State(4, 1.0), Control(), model=copy.deepcopy(ref))
    cb.on_train_end(None, State(4, 1.0), Control(), model=copy.deepcopy(ref))
    assert cb.record["checks"] == []


def test_the_family_s_own_requests_are_told(tmp_path):
    from tests.test_finetune_preference import pair_lines, request, corpus, write

    data = write(tmp_path / "p.jsonl", pair_lines(3))
    reqs = story_check.requests(data, "dpo", 5)
    firsts = [request(s) for s in corpus(3)]
    assert len(reqs) == 5 and reqs[:3] == firsts and reqs[3:] == firsts[:2]


@pytest.mark.slow
def test_a_dpo_job_that_wrecks_the_model_fails_kindly_and_makes_no_model(settings_env, monkeypatch):
    from storyteller.config import get_settings
    from storyteller.finetune import JobSpec, JobStore, get_provider
    from tests.test_finetune_preference import finish, pair_lines, write

    models = settings_env / "models"
    models.mkdir()
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    get_settings.cache_clear()
    data = write(settings_env / "prefs.jsonl", pair_lines(6))
    before = data.read_bytes()
    p = get_provider("local")
    spec = JobSpec(base_model=str(DEFAULT_MODEL_DIR), train_file=str(data), objective="dpo", name="wrecked",
                   batch_size=2, max_length=160, threads=1, n_epochs=1, learning_rate=0.5)
    assert "dropped" in p.plan(spec).settings["story_check"]
    done = finish(p, p.start(spec).id)
    assert done.status == "failed" and "no model was made" in done.error and "kept" in done.error
    assert not (models / "wrecked").exists() and data.read_bytes() == before
    events = [e.message for e in JobStore().events(done.id)]
    assert any(m.startswith("Story check after epoch 1") and "No epoch passed" in m for m in events)
    off = p.plan(spec.model_copy(update={"story_check": False}))
    assert off.settings["story_check"] == "off"

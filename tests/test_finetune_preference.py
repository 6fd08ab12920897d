"""DPO and KTO fine-tunes end to end: a real worker process trains tiny models (built from configs).

Covers: DPO and KTO jobs on a storyteller-format model and a chat model finish, report metric rows
and land in the model picker with what they were trained on; cancel and resume keep working; the three
export formats are read; hostile preference files (broken JSON, missing fields, chosen == rejected,
unsafe text, pairs given to KTO as a JSON list) get friendly errors in both languages, no job is
created and the file is left as it was.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from storyteller.errors import DataError, InputError
from storyteller.finetune import JobSpec, JobStore, get_provider
from storyteller.finetune.preference import Example, read_preferences, render, request_of, unpair
from storyteller.prompts import StoryRequest, build_messages
from storyteller.paths import DEFAULT_MODEL_DIR
from tests.fakes.tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parent.parent


def corpus(n: int) -> list[dict]:
    lines = (ROOT / "assets" / "corpus" / "zh_a.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:n]]


def request(s: dict) -> StoryRequest:
    return StoryRequest(dynasty=s["dynasty"], power=s["power"], style=s["style"], hero=s["hero"], lang=s["lang"])


def pair_lines(n: int, fmt: str = "trl") -> list[dict]:
    """n preference lines as the library exports them: the shorter story of two is preferred."""
    stories = corpus(n + 1)
    out = []
    for a, b in zip(stories, stories[1:]):
        good, bad = sorted((a["story"], b["story"]), key=len)
        prompt = build_messages(request(a))
        if fmt == "trl":
            out.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": good}],
                        "rejected": [{"role": "assistant", "content": bad}]})
        elif fmt == "openai-dpo":
            out.append({"input": {"messages": prompt}, "preferred_output": [{"role": "assistant", "content": good}],
                        "non_preferred_output": [{"role": "assistant", "content": bad}]})
        else:
            out += [{"prompt": prompt, "completion": [{"role": "assistant", "content": good}], "label": True},
                    {"prompt": prompt, "completion": [{"role": "assistant", "content": bad}], "label": False}]
    return out


def write(path: Path, lines: list) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


@pytest.fixture
def pref_env(settings_env, monkeypatch, tmp_path):
    from storyteller.config import get_settings

    models = tmp_path / "models"
    build_tiny_model(models / "tiny", storyteller=True, n_positions=512)
    build_tiny_model(models / "chat", chat_template=True, n_positions=1024)
    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models))
    get_settings.cache_clear()
    return models, tmp_path


def spec(data: Path, **kw) -> JobSpec:
    return JobSpec(**{"base_model": "tiny", "train_file": str(data), "batch_size": 2, "max_length": 160,
                      "threads": 1, "learning_rate": 1e-3, "save_steps": 50, "max_steps": 4} | kw)


def finish(provider, job_id, timeout=240):
    return [x for x in provider.follow(job_id, poll_s=0.3, timeout_s=timeout)][-1]


def test_the_three_export_formats_are_read_and_the_request_comes_back(tmp_path):
    for fmt, objective in (("trl", "dpo"), ("openai-dpo", "dpo"), ("kto", "kto"), ("trl", "kto")):
        exs = read_preferences(write(tmp_path / f"{fmt}.jsonl", pair_lines(3, fmt)), objective)
        assert len(exs) == (6 if fmt == "kto" else 3)
        first = corpus(1)[0]
        assert request_of(exs[0]) == request(first)  # the exports' prompt names the request exactly
        assert build_messages(request_of(exs[0])) == exs[0].prompt


def test_storyteller_rows_are_the_header_and_the_story_in_slots(tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "st", storyteller=True))
    exs = read_preferences(write(tmp_path / "p.jsonl", pair_lines(2)), "dpo")
    rows = render(exs, storyteller=True, tok=tok)
    s = corpus(1)[0]
    assert rows[0]["prompt"].startswith("<|zh|>秦|李斯|") and rows[0]["prompt"].endswith("<|story|>")
    assert rows[0]["chosen"].endswith("<|end|>") and "<|hero|>" in rows[0]["chosen"] + rows[0]["rejected"]
    assert s["hero"] not in rows[0]["chosen"]  # the hero's name became its slot
    kto = unpair(rows)
    assert [r["label"] for r in kto] == [True, False, True, False] and kto[0]["completion"] == rows[0]["chosen"]


@pytest.mark.slow
@pytest.mark.parametrize("objective,base", [("dpo", "tiny"), ("kto", "tiny"), ("dpo", "chat"), ("kto", "chat")])
def test_preference_job_runs_end_to_end_and_the_model_is_listed(pref_env, objective, base):
    models, tmp = pref_env
    data = write(tmp / "prefs.jsonl", pair_lines(6, "kto" if objective == "kto" else "trl"))
    before = data.read_bytes()
    p = get_provider("local")
    plan = p.plan(spec(data, objective=objective, base_model=base))
    assert plan.settings["objective"] == objective and plan.settings["reference"] == "the starting weights"
    job = p.start(spec(data, objective=objective, base_model=base, name=f"{base}-{objective}",
                       max_length=160 if base == "tiny" else 700))  # chat: the system prompt is long
    done = finish(p, job.id)
    assert done.status == "succeeded", done.error
    assert done.result_model == f"{base}-{objective}" and done.step == 4
    rows = p.metrics(job.id)
    assert [r.step for r in rows] == [1, 2, 3, 4] and all(r.train_loss is not None for r in rows)
    if objective == "dpo":  # the share of pairs where the preferred story scored higher
        assert all(r.train_accuracy is not None and 0 <= r.train_accuracy <= 1 for r in rows)
    out = models / f"{base}-{objective}"
    cfg = json.loads((out / "training_config.json").read_text(encoding="utf-8"))
    assert cfg["finetune"]["objective"] == objective and Path(cfg["finetune"]["preference_file"]).is_file()
    assert cfg["finetune"]["data_files"] == []  # a later story fine-tune never mixes preference lines in
    from storyteller.engines.registry import list_models

    listed = {m.id: m for m in list_models(include_remote=False)}
    what = "6 preference pairs" if objective == "dpo" else "12 ratings (6 👍)"
    assert f"{objective.upper()}-trained from {base} on the family's {what}" in listed[out.name].description
    if base == "tiny":
        assert json.loads((out / "config.json").read_text())["storyteller_format"] == 1
    assert json.loads((out / "tokenizer_config.json").read_text())["eos_token"] == "<|endoftext|>"  # as it came
    assert data.read_bytes() == before
    msgs = [e.message for e in JobStore().events(job.id)]
    assert any(m.startswith(f"Data: {6 if objective == 'dpo' else 12} preference") for m in msgs) and any("Done: saved as" in m for m in msgs)
    checks = [m for m in msgs if m.startswith("Story check after epoch")]
    if base == "tiny":  # a storyteller model: checked after its epoch and at the end max_steps made
        assert len(checks) == (2 if objective == "dpo" else 1)  # KTO's 12 ratings: 4 steps end mid-epoch
        assert "story check passed" in listed[out.name].description
    else:  # a chat model has no story request to tell from
        assert not checks


def test_sft_weight_adds_the_chosen_stories_own_loss_to_dpo_s(pref_env):
    """At the first step the policy is the reference, so DPO's loss alone (sft_weight 0) is exactly
    ln 2; by default (1.0) the chosen story's own loss (several nats for a random tiny model) is added."""
    _, tmp = pref_env
    data = write(tmp / "prefs.jsonl", pair_lines(4))
    p = get_provider("local")
    assert p.plan(spec(data, objective="dpo")).settings["sft_weight"] == 1.0
    assert p.plan(spec(data, objective="dpo", sft_weight=0)).settings["sft_weight"] == 0
    losses = {}
    for weight in (0, None):
        job = p.start(spec(data, objective="dpo", sft_weight=weight, max_steps=1, name=f"tiny-rpo-{weight}"))
        assert finish(p, job.id).status == "succeeded"
        losses[weight] = p.metrics(job.id)[0].train_loss
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3) and losses[None] > losses[0] + 1


@pytest.mark.slow
def test_a_second_round_continues_from_the_first_round_s_model_with_it_as_reference(pref_env):
    """The family loop goes round: stories from the DPO-trained model are rated and train it again. The
    second job starts from the first one's weights and measures against them (policy == reference at
    its first step, so DPO's loss alone is ln 2); against the original weights it would not be."""
    models, tmp = pref_env
    data = write(tmp / "prefs.jsonl", pair_lines(4))
    p = get_provider("local")
    first = finish(p, p.start(spec(data, objective="dpo", name="tiny-liked")).id)
    assert first.status == "succeeded", first.error
    assert (models / "tiny-liked" / "model.safetensors").read_bytes() != (models / "tiny" / "model.safetensors").read_bytes()
    job = p.start(spec(data, objective="dpo", base_model="tiny-liked", sft_weight=0, max_steps=1, name="tiny-liked-2"))
    second = finish(p, job.id)
    assert second.status == "succeeded", second.error
    assert p.metrics(job.id)[0].train_loss == pytest.approx(math.log(2), abs=1e-3)
    cfg = json.loads((models / "tiny-liked-2" / "training_config.json").read_text(encoding="utf-8"))
    assert cfg["finetune"]["base_model"] == "tiny-liked"
    from storyteller.engines.registry import list_models

    listed = {m.id: m for m in list_models(include_remote=False)}
    assert "DPO-trained from tiny-liked on the family's 4 preference pairs" in listed["tiny-liked-2"].description


@pytest.mark.slow
def test_dpo_lora_cancel_and_resume(pref_env):
    _, tmp = pref_env
    data = write(tmp / "prefs.jsonl", pair_lines(4))
    p = get_provider("local")
    job = p.start(spec(data, objective="dpo", method="lora", max_steps=6, save_steps=100))
    p.cancel(job.id)  # stops after its first step with a checkpoint
    stopped = finish(p, job.id)
    assert stopped.status == "cancelled"
    assert [c.step for c in p.checkpoints(job.id)] == [1]
    p.resume(job.id)
    done = finish(p, job.id)
    assert done.status == "succeeded", done.error
    assert [r.step for r in p.metrics(job.id)] == list(range(1, 7))
    assert "Resuming from checkpoint-1" in [e.message for e in p.events(job.id)]


HOSTILE = {
    "broken_json": ('{"prompt": [', "line 1: not valid JSON", "不是有效的 JSON"),
    "missing_rejected": (json.dumps({"prompt": "唐,隐形,轻松", "chosen": "一个故事。"}), '"rejected" is missing', "缺失"),
    "same_story": (json.dumps({"prompt": "x", "chosen": "同一个故事。", "rejected": "同一个故事。"}), "are the same",
                   "完全一样"),
    "not_preference": (json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "not a preference example",
                       "不是偏好数据"),
    "bad_label": (json.dumps({"prompt": "x", "completion": "故事。", "label": "yes"}), '"label" must be', "label"),
    "a_json_list": ("[" + json.dumps({"prompt": "x", "chosen": "a", "rejected": "b"}) + "]", "one JSON list",
                    "JSON 列表"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_preference_files_get_friendly_errors_and_nothing_starts(pref_env, case):
    _, tmp = pref_env
    text, en, zh = HOSTILE[case]
    good = json.dumps(pair_lines(1)[0], ensure_ascii=False)
    path = tmp / "bad.jsonl"
    path.write_text(text + "\n" + good + "\n", encoding="utf-8")
    before = path.read_bytes()
    p = get_provider("local")
    with pytest.raises(DataError) as e:
        p.start(spec(path, objective="kto" if case == "bad_label" else "dpo"))
    assert en in str(e.value) and zh in e.value.zh and "Traceback" not in str(e.value)
    assert p.store.list_jobs("local") == [] and path.read_bytes() == before


def test_unsafe_preferences_are_refused_unless_the_parent_allows(pref_env):
    _, tmp = pref_env
    lines = pair_lines(3)
    lines[1]["rejected"] = [{"role": "assistant", "content": "怪兽拿起刀杀人，到处都是血。"}]
    data = write(tmp / "prefs.jsonl", lines)
    p = get_provider("local")
    with pytest.raises(DataError, match=r"not safe for children: .*row 2") as e:
        p.plan(spec(data, objective="dpo"))
    assert "杀" not in str(e.value) and "不适合孩子" in e.value.zh
    assert p.plan(spec(data, objective="dpo", allow_unsafe=True)).settings["objective"] == "dpo"


def test_mismatched_files_and_settings_say_what_to_do(pref_env):
    _, tmp = pref_env
    singles = write(tmp / "kto.jsonl", pair_lines(2, "kto"))
    p = get_provider("local")
    with pytest.raises(DataError, match="DPO learns from pairs"):
        p.plan(spec(singles, objective="dpo"))
    with pytest.raises(InputError, match="batch size must be 2"):
        p.plan(spec(singles, objective="kto", batch_size=1))
    free = write(tmp / "free.jsonl", [{"prompt": "Tell me anything", "chosen": "A.", "rejected": "B."}])
    with pytest.raises(DataError, match="line 1: a storyteller model learns from story requests"):
        p.plan(spec(free, objective="dpo"))
    assert p.plan(spec(free, objective="dpo", base_model="chat")).settings["trained_on"] == 1  # chat: any prompt
    stories = ROOT / "assets" / "corpus" / "zh_a.jsonl"
    with pytest.raises(DataError, match="not a preference example"):
        p.plan(spec(stories, objective="dpo"))


def test_old_job_rows_load_as_story_fine_tunes():
    old = json.loads(JobSpec(base_model="tiny", train_file="x.jsonl").model_dump_json(exclude={"objective", "beta"}))
    assert JobSpec.model_validate(old).objective == "sft"
    with pytest.raises(ValueError):
        JobSpec(base_model="tiny", train_file="x.jsonl", objective="ppo")
    assert Example(line=1, prompt=[{"role": "user", "content": "hi"}], chosen="a", rejected="b").lang == "en"


@pytest.mark.slow
def test_cli_method_dpo_trains_and_bad_files_fail_kindly(pref_env):
    from typer.testing import CliRunner

    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401  (registers the commands)

    _, tmp = pref_env
    runner = CliRunner()
    data = write(tmp / "prefs.jsonl", pair_lines(4))
    r = runner.invoke(app, ["finetune", "start", "--data", str(data), "--base", "tiny", "--method", "dpo",
                            "--max-steps", "2", "--batch-size", "2", "--name", "tiny-liked", "-y", "--follow"])
    assert r.exit_code == 0, r.output
    assert '"objective": "dpo"' in r.output and "Done: saved as models/tiny-liked" in r.output
    broken = tmp / "broken.jsonl"
    broken.write_text('{"prompt": "x", "chosen": "a"}\n', encoding="utf-8")
    r = runner.invoke(app, ["finetune", "start", "--data", str(broken), "--base", "tiny", "--objective", "kto", "-y"])
    assert r.exit_code == 1 and "line 1" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["finetune", "start", "--data", str(data), "--method", "dpo", "--objective", "kto", "-y"])
    assert r.exit_code == 1 and "disagree" in r.output


def test_openai_provider_sends_method_dpo_with_the_cut_off_note(openai_env, tmp_path):
    from tests.fakes.openai_finetune import FineTuning

    fake = FineTuning(openai_env, steps=2)
    data = write(tmp_path / "prefs.jsonl", pair_lines(10))  # trl lines: sent as OpenAI's DPO lines
    p = get_provider("openai")
    s = JobSpec(provider="openai", base_model="gpt-4o-mini-2024-07-18", train_file=str(data), objective="dpo",
                beta=0.3, n_epochs=2)
    plan = p.plan(s)
    assert plan.settings["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.3}}}
    assert plan.report.startswith("Trains at") and plan.cost_usd > 0  # where_it_trains: the cut-off at OpenAI
    job = p.start(s)
    assert fake.created[-1]["method"]["type"] == "dpo"
    sent = fake.files[fake.created[-1]["training_file"]]["data"].decode().splitlines()
    assert len(sent) == 10 and set(json.loads(sent[0])) == {"input", "preferred_output", "non_preferred_output"}
    assert job.remote_id in fake.jobs
    with pytest.raises(InputError, match="not on single"):
        p.plan(s.model_copy(update={"objective": "kto"}))


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").exists(), reason="models/storyteller-tiny not built")
def test_two_tellings_of_one_cast_share_the_setup_and_train_on_one_prompt(settings_env):
    """The two-story path tells one setup two ways. Told with two casts (as it first was), the pair's
    rejected story named another monster and place than the header the trainer gave both stories."""
    from transformers import AutoTokenizer

    from storyteller import studio
    from storyteller.story_cast import pick_cast

    req = StoryRequest(dynasty="唐", power="隐形", style="轻松")
    runs = [studio.tell(req, str(DEFAULT_MODEL_DIR), seed=70 + i, cast_seed=70, save=False, max_new_tokens=120)
            for i in (0, 1)]
    for r in runs:
        for _ in r:
            pass
    a, b = (r.text for r in runs)
    cast = pick_cast(req, 70)
    assert a != b and all(cast["monster"] in t or cast["place"] in t for t in (a, b))
    first = a.split("\n")[0] + "\n"
    assert b.startswith(first)  # the world's first paragraph, the same for both
    tok = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    row = render([Example(line=1, prompt=build_messages(req), chosen=a, rejected=b)], storyteller=True, tok=tok)[0]
    told = row["prompt"].split("<|story|>", 1)[1]
    assert told.endswith("\n") and told.count("\n") >= 1  # the shared first paragraph: prompt, as when told
    assert not row["chosen"].startswith(told) and row["chosen"] != row["rejected"]
    assert cast["monster"] not in row["chosen"] + row["rejected"]  # both stories' monster became its slot


def test_an_older_pair_with_two_casts_gets_each_story_s_own_cast_as_slots(tmp_path):
    from transformers import AutoTokenizer

    from storyteller.story_cast import pick_cast
    from storyteller.world.schema import cached_world

    tok = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    req = StoryRequest(dynasty="唐", power="隐形", style="轻松")
    monsters = [m.name for m in cached_world("zh").monsters]
    a = f"李白来到了今天。\n{monsters[0]}出现了，它在捣乱。\n大家都笑了。"
    b = f"李白来到了今天。\n{monsters[1]}出现了，它在闹。\n大家都笑了。"
    row = render([Example(line=1, prompt=build_messages(req), chosen=a, rejected=b)], storyteller=True, tok=tok)[0]
    assert monsters[0] in row["prompt"] and monsters[1] not in row["prompt"]  # the header: the chosen's cast
    assert row["prompt"].endswith("<|story|><|hero|>来到了今天。\n")  # the paragraph both share
    for story in (row["chosen"], row["rejected"]):
        assert story.startswith("<|monster|>出现了，它在") and not any(m in story for m in monsters[:2])
    assert pick_cast(req, 0, a)["monster"] == monsters[0]


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").exists(), reason="models/storyteller-tiny not built")
def test_a_picked_pair_trains_on_exactly_what_the_model_was_given_and_wrote(settings_env, monkeypatch, tmp_path):
    """The story shown is the model's words with the story world's lines in places (the trip, the power
    found, the fix). DPO on the shown story taught the model words it never wrote, and broke its grammar;
    the pair now keeps each story as the model wrote it, and the trainer learns from exactly that."""
    from transformers import AutoTokenizer

    from storyteller import studio
    from storyteller.engines import local_hf
    from storyteller.library import Library
    from storyteller.library.exports import export
    from storyteller.story_format import END, story_in_slots

    seen: list[str] = []
    generate = local_hf.Loaded.generate

    def spy(self, **kw):
        out = generate(self, **kw)
        seen.append(self.tokenizer.decode(out[0], skip_special_tokens=False))  # the input and what it wrote
        return out

    monkeypatch.setattr(local_hf.Loaded, "generate", spy)
    lib = Library(owner=None)
    req = StoryRequest(dynasty="唐", power="隐形", style="轻松")
    runs = [studio.tell(req, "storyteller-tiny", seed=80 + i, cast_seed=80) for i in (0, 1)]
    for r in runs:
        for _ in r:
            pass
    a, b = (lib.get(r.story_id) for r in runs)
    assert a.model_text and b.model_text and "<|hero|>" in a.model_text
    lib.pick(lib.new_pair(a.id, b.id).id, "right")
    out = tmp_path / "pairs.jsonl"
    export(lib, "trl", out)
    line = json.loads(out.read_text(encoding="utf-8"))
    assert line["model_text"] == {"chosen": b.model_text, "rejected": a.model_text}
    tok = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    row = render(read_preferences(out, "dpo"), storyteller=True, tok=tok)[0]
    assert row["prompt"] + row["chosen"] == seen[1] and row["prompt"] + row["rejected"] == seen[0]
    assert row["chosen"].endswith(END) and "\n" in row["prompt"].split("<|story|>", 1)[1]  # the world's opening
    shown = story_in_slots(req, b.text, True, None)
    assert shown.strip() != b.model_text.strip()  # the shown story is not what the model wrote

    lib.rate(a.id, "up")  # a 👍 carries the model's words too
    export(lib, "kto", kto := tmp_path / "kto.jsonl")
    singles = [json.loads(x) for x in kto.read_text(encoding="utf-8").splitlines()]
    assert [s["model_text"] for s in singles] == [a.model_text]


def test_model_text_in_a_file_is_checked_like_the_stories(tmp_path):
    """A hand-made "model_text" is no way around the checks: an unsafe one stops the file like an unsafe
    story; one that is not text, or only one side's, is ignored and the shown stories are learnt."""
    good = pair_lines(1)[0]
    lines = [good | {"model_text": {"chosen": "<|hero|>笑了。", "rejected": 7}},
             good | {"model_text": {"chosen": "<|hero|>笑了。"}},
             good | {"model_text": ["x"]}]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert [e.said for e in read_preferences(f, "dpo")] == [None, None, None]
    bad = good | {"model_text": {"chosen": "他拿起刀杀了怪兽，到处都是血。", "rejected": "<|hero|>笑了。"}}
    f.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="not safe for children"):
        read_preferences(f, "dpo")
    assert read_preferences(f, "dpo", allow_unsafe=True)[0].said["chosen"].startswith("他拿起刀")


def test_dpo_takes_fewer_passes_the_more_pairs_a_family_has(pref_env):
    from storyteller.finetune.pref_train import default_epochs

    _, tmp = pref_env
    p = get_provider("local")
    for n, epochs in ((20, 3), (150, 2), (200, 1)):
        data = write(tmp / f"p{n}.jsonl", (pair_lines(100) * 2)[:n])  # a family rates some requests twice
        plan = p.plan(spec(data, objective="dpo", max_steps=None, batch_size=None))
        assert plan.settings["n_epochs"] == epochs and (epochs == 1 or plan.settings["steps"] <= 40)
    assert default_epochs("kto", 400, 8) == 3  # KTO was not measured this way: it keeps its three
    assert p.plan(spec(data, objective="dpo", n_epochs=3, max_steps=None)).settings["n_epochs"] == 3  # asked for

"""The streaming guard: a story's sentences are checked before they are shown, spoken or saved.

Unsafe sentences are injected by a scripted engine (split across chunks), by the loopback OpenAI
server, and in front of a real tiny local model; they must be caught and replaced while the story
streams, never yielded, never read aloud, and logged and saved by category only.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3

import pytest
import torch

from storyteller import studio
from storyteller.engines.base import Prompt
from storyteller.engines.local_hf import LocalHFEngine
from storyteller.safety import check_text
from storyteller.safety.guard import KIND_ENDING, TRIES, Sentences, StoryGuard
from storyteller.safety.moderation import Moderator
from storyteller.store import Store
from storyteller.tts.sentences import split_sentences
from tests.fakes.openai_moderation import add_moderation
from tests.fakes.scripted_engine import ScriptedEngine

SAFE_1, UNSAFE, SAFE_2 = "从前有一位勇敢的英雄。", "他拿刀杀了一个人。", "后来大家一起打败了怪兽，怪兽变成了好朋友。"
REPLACEMENT = "奥特曼笑着说：“我们一起帮助大家吧！”"


def tell(engine, lang="zh", **kw):
    req = studio.build_request("唐", "隐形", "轻松", lang)
    run = studio.tell(req, engine=engine, **kw)
    return run, list(run)


# -- splitting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("clauses", [False, True])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_sentences_keep_every_character_in_any_chunking(size, clauses):
    text = "他说：“你好！”我们走吧……好的。Pi is 3.14. Mr. Li came!\n\n新的一段？对"
    splitter, pieces = Sentences(clauses), []
    for i in range(0, len(text), size):
        pieces += splitter.feed(text[i:i + size])
    pieces.append(splitter.flush())
    assert "".join(pieces) == text
    assert "3.14" in "".join(p for p in pieces if "3." in p)  # a number is never split at its point
    assert pieces[0].startswith("他说：" if clauses else "他说：“你好！")


def test_a_run_on_sentence_is_cut_at_a_comma_not_held_forever():
    splitter = Sentences()
    out = splitter.feed("怪兽跑来跑去，" * 40)
    assert out and all(len(p) <= 160 and p.endswith("，") for p in out) and splitter.cut_open


# -- scripted engine: caught and replaced while streaming ------------------------------------------
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7])
def test_unsafe_sentence_split_across_chunks_is_replaced_and_never_yielded(settings_env, chunk, caplog):
    engine = ScriptedEngine(SAFE_1 + UNSAFE + SAFE_2, REPLACEMENT + SAFE_2, chunk=chunk)
    caplog.set_level(logging.INFO)
    run, chunks = tell(engine)
    assert run.text == SAFE_1 + REPLACEMENT + SAFE_2 and run.status == "done"
    assert all(check_text(c, "zh") is None for c in chunks) and "杀" not in run.text
    again = engine.prompts[1]  # the continuation: from the text shown, with the blocked word banned
    assert again.prefix == SAFE_1 and "杀" in again.params.banned and engine.prompts[0].prefix == ""
    [event] = run.guard.events
    assert (event.category, event.action, event.at) == ("violence", "retry", len(SAFE_1))
    assert "violence" in caplog.text and UNSAFE not in caplog.text  # logged by category, never the text
    saved = Store().stories()[0]
    assert saved["text"] == run.text and UNSAFE not in json.dumps(saved, ensure_ascii=False)


def test_chunks_are_whole_clauses_shown_as_soon_as_they_end(settings_env):
    """The first text waits for the first clause, not the whole first sentence."""
    seen_at: list[int] = []

    class Watching(ScriptedEngine):
        def stream(self, prompt, cancel=None):
            for piece in super().stream(prompt, cancel):
                seen_at.append(len(piece))
                yield piece

    run = studio.tell(studio.build_request("唐", "隐形", "轻松"), engine=Watching(SAFE_1 + SAFE_2, chunk=1))
    it = iter(run)
    assert next(it) == SAFE_1 and len(seen_at) == len(SAFE_1)  # not one character later
    first_clause = SAFE_2.split("，")[0] + "，"
    assert next(it) == first_clause and len(seen_at) == len(SAFE_1 + first_clause)
    assert list(it) == [SAFE_2[len(first_clause):]]


@pytest.mark.parametrize("lang, shown, unsafe", [
    ("zh", "他走进教室，", "拿着刀对着老师，大家都吓坏了。"),
    ("en", "He walked into the classroom,", " pointed the knife at the teacher, and everyone froze."),
])
@pytest.mark.parametrize("chunk", [1, 3, 8])
def test_a_clause_is_checked_with_the_sentence_before_it_and_only_the_safe_clauses_show(settings_env, lang, shown,
                                                                                       unsafe, chunk):
    """Clause by clause: what went before in the sentence is checked again with each clause, a blocked
    clause never shows, and the story goes on from the last safe clause."""
    ending = "后来大家一起唱歌。" if lang == "zh" else "Then everyone sang a song."
    engine = ScriptedEngine(shown + unsafe, ending, chunk=chunk)
    req = studio.build_request("唐", "隐形", "轻松", lang)
    run = studio.tell(req, engine=engine)
    chunks = list(run)
    assert chunks[0] == shown and run.text.startswith(shown)
    assert all(check_text(c, lang) is None for c in chunks) and check_text(run.text, lang) is None
    assert engine.prompts[1].prefix == shown  # told again from the safe clause on
    assert [e.category for e in run.guard.events] == ["weapons"]


@pytest.mark.parametrize("lang, shown, unsafe", [
    ("zh", "他走进教室，", "拿着刀对着老师，大家都吓坏了。"),
    ("en", "He walked into the classroom,", " pointed the knife at the teacher, and everyone froze."),
])
def test_clauses_that_come_in_one_chunk_are_each_checked_with_the_sentence_before_them(settings_env, lang, shown,
                                                                                      unsafe):
    """A filled slot (the hero's fact) or a fast engine brings several clauses at once; each is still
    judged with its sentence so far, not alone. Judged alone, a clause of 大禹's fact ("三次经过自己家门口都
    没有进去") read as self-harm to the learned check, and every story of 大禹 garbled there; judged
    alone, "pointed the knife at the teacher," could pass without the sentence that says who did it."""
    seen = []
    guard = StoryGuard(lang, check=lambda text: seen.append(text))
    text = shown + unsafe
    assert "".join(guard.run(lambda prefix, banned: [text])) == text
    first = Sentences(clauses=True)
    pieces = [p for p in first.feed(text) + [first.flush()] if p]
    assert len(pieces) == 3 and first.opens[:2] == [True, True]
    assert seen == [pieces[0], pieces[0] + pieces[1], pieces[0] + pieces[1] + pieces[2]]


def test_the_fact_of_yu_the_great_is_told_whole_as_the_slot_filler_brings_it(settings_env):
    from storyteller.prompts import StoryRequest
    from storyteller.safety.guard import Checker

    fact = StoryRequest(dynasty="夏", power="飞行", style="轻松").hero_fact()
    said = "一个小朋友认出了大禹：“我在书上读过！" + fact + "”大家都笑了。"
    guard = StoryGuard("zh", check=Checker("zh"))
    assert "".join(guard.run(lambda prefix, banned: [said[:18], said[18:]])) == said and not guard.events


@pytest.mark.parametrize("text", ["He paid 1,000 coins, then left.", "他带了笔、墨、纸，还有一本书。", "He said: \"Hi,\" and waved."])
def test_clauses_keep_numbers_and_lists_whole(text):
    splitter = Sentences(clauses=True)
    pieces = [p for ch in text for p in splitter.feed(ch)] + [splitter.flush()]
    assert "".join(pieces) == text
    assert not any(p.endswith("1,") or p.endswith("、") for p in pieces)


def test_an_unsafe_last_sentence_without_an_ender_is_caught_too(settings_env):
    run, _ = tell(ScriptedEngine(SAFE_1 + "到处都是血", REPLACEMENT))
    assert run.text == SAFE_1 + REPLACEMENT and "血" not in run.text


def test_an_engine_that_cannot_continue_ends_the_story_kindly(settings_env):
    run, chunks = tell(ScriptedEngine(SAFE_1 + UNSAFE + SAFE_2, can_continue=False))
    assert chunks == [SAFE_1, KIND_ENDING["zh"]] and run.status == "done"
    assert [e.action for e in run.guard.events] == ["kind_ending"]
    assert check_text(KIND_ENDING["zh"], "zh") is None and check_text(KIND_ENDING["en"], "en") is None


def test_a_model_that_keeps_writing_it_gets_a_kind_ending_after_the_tries(settings_env):
    engine = ScriptedEngine(SAFE_1 + UNSAFE, UNSAFE + SAFE_2)
    run, _ = tell(engine)
    assert run.text == SAFE_1 + KIND_ENDING["zh"]
    assert len(engine.prompts) == 1 + TRIES and all(p.prefix == SAFE_1 for p in engine.prompts[1:])
    assert [e.action for e in run.guard.events] == ["retry"] * TRIES + ["kind_ending"]


def test_english_continuation_gets_its_space_and_banned_words(settings_env):
    engine = ScriptedEngine("Li Bai came to town. He wanted to kill the man. ", "Then they all played.", chunk=4)
    run, _ = tell(engine, lang="en")
    assert run.text == "Li Bai came to town. Then they all played." and "kill" in engine.prompts[1].params.banned


def test_blocked_events_are_saved_with_the_story_and_its_band(settings_env):
    from storyteller.finetune.base import JobStore

    JobStore()  # the web app opens the jobs store at start: every migration runs (the band column is step 6)
    run, _ = tell(ScriptedEngine(SAFE_1 + UNSAFE + SAFE_2, REPLACEMENT))
    saved = Store().stories()[0]
    assert saved["age_band"] == "6-8" and [e["category"] for e in saved["safety"]] == ["violence"]
    with sqlite3.connect(settings_env / "var" / "storyteller.db") as db:
        raw = db.execute("SELECT age_band, safety FROM stories").fetchone()
    assert raw[0] == "6-8" and "violence" in raw[1] and "杀" not in raw[1] and "reason" not in raw[1]
    assert "安全检查替换了1句" in run.stats_line("zh") and "1 sentence(s) replaced" in run.stats_line("en")


def test_engine_failure_keeps_only_checked_text(settings_env):
    class Failing(ScriptedEngine):
        def stream(self, prompt, cancel=None):
            yield from super().stream(prompt, cancel)
            raise RuntimeError("boom")

    run, _ = tell(Failing(SAFE_1 + "他想杀"))
    assert run.text == SAFE_1 and run.status == "error" and "kept" in run.error


# -- read-aloud speaks only what was shown -------------------------------------------------------
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_read_aloud_never_speaks_a_blocked_sentence(settings_env):
    from storyteller.ui import readaloud

    run = studio.tell(studio.build_request("唐", "隐形", "轻松"),
                      engine=ScriptedEngine(SAFE_1 + UNSAFE, REPLACEMENT, chunk=2))
    audio = readaloud.AudioFrames("zh", None, 200)  # what the story tab feeds as the text grows
    try:
        for text, _ in studio_frames(run):
            audio.feed(text)
        list(audio.finish())
        spoken = [c.text for c in audio.reader.clips]
    finally:
        audio.reader.close()
    assert spoken == split_sentences(SAFE_1 + REPLACEMENT) and all("杀" not in s for s in spoken)
    assert all(c.path is not None for c in audio.reader.clips)


def studio_frames(run):
    """The story tab's frames without gradio's per-frame pacing: the text after each chunk."""
    for _ in run:
        yield run.text, ""


# -- the local resample path: banned ids reach generation ----------------------------------------
@pytest.fixture(scope="module")
def tiny_storyteller(tmp_path_factory):
    from tests.fakes.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny-st", storyteller=True)


class FirstScripted(LocalHFEngine):
    """A real local engine whose first answer is scripted (an unsafe sentence); every continuation
    is generated by the model, and the arguments each generation got are kept."""

    def __init__(self, path, first: str):
        super().__init__("tiny-st", source=str(path))
        self.first, self.prompts, self.kwargs = first, [], []

    def stream(self, prompt, cancel=None):
        self.prompts.append(prompt)
        if len(self.prompts) == 1:
            yield self.first
            return
        yield from super().stream(prompt, cancel)

    def generate_kwargs(self, loaded, prompt, text):
        kw = super().generate_kwargs(loaded, prompt, text)
        self.kwargs.append((text, kw))
        return kw


def test_local_resample_bans_the_blocked_words_in_generation(settings_env, tiny_storyteller):
    from transformers import NoBadWordsLogitsProcessor

    engine = FirstScripted(tiny_storyteller, "Li Bai came. He wanted to kill the man.")
    req = studio.build_request("唐", "隐形", "轻松", "en")
    run = studio.tell(req, engine=engine, max_new_tokens=24, seed=1)
    list(run)
    assert "kill" not in run.text and run.text.startswith("Li Bai came.")
    assert engine.prompts[1].params.banned == ["kill"] and engine.prompts[1].prefix == "Li Bai came."
    text, kw = engine.kwargs[0]
    tok = engine.load().tokenizer
    assert text.endswith("<|hero|> came.")  # the story so far, back in the model's slot form, continued
    [bad] = [p for p in kw["logits_processor"] if isinstance(p, NoBadWordsLogitsProcessor)]
    assert tok("kill", add_special_tokens=False).input_ids in [list(s) for s in bad.bad_word_ids]
    # after "kil" the banned word's last token is impossible; elsewhere it stays allowed
    kil = torch.tensor([tok("he kil", add_special_tokens=False).input_ids])
    ell = tok.convert_tokens_to_ids("l")
    scores = torch.zeros(1, len(tok))
    assert bad(kil, scores.clone())[0, ell] == float("-inf")
    assert bad(torch.tensor([tok("he wa", add_special_tokens=False).input_ids]), scores.clone())[0, ell] == 0


def test_continuation_story_end_counts_slots_in_the_story_so_far(settings_env, tiny_storyteller):
    """A continued storyteller story already named its dynasty and power in the text so far: the
    ending rule must see them there (it would otherwise push the model to name them again)."""
    from storyteller.engines.sampling import StoryEnd

    engine = LocalHFEngine("tiny-st", source=str(tiny_storyteller))
    loaded = engine.load()
    req = studio.build_request("唐", "隐形", "轻松")
    told = "唐朝的李白学会了隐形。"
    prompt = Prompt.for_story(req, max_new_tokens=8).model_copy(update={"prefix": told})
    text, _ = engine.build_input(loaded, prompt)
    kw = engine.generate_kwargs(loaded, prompt, text)
    [end] = [p for p in kw["logits_processor"] if isinstance(p, StoryEnd)]
    header = len(loaded.tokenizer(text[: len(text) - len(engine.prefix_text(loaded, prompt))],
                                  add_special_tokens=False).input_ids)
    assert end.start == header and "<|dynasty|>" in text and "<|power|>" in text


# -- OpenAI: continuation, kind ending, moderation ---------------------------------------------
@pytest.fixture
def openai_story(openai_env):
    from storyteller.engines.openai import OpenAIChatEngine

    return openai_env, OpenAIChatEngine("gpt-4o-mini")


def test_openai_is_asked_for_the_rest_of_the_story(openai_story):
    fake, engine = openai_story
    seen = add_moderation(fake, lambda text: {})
    fake.queue(SAFE_1 + UNSAFE + SAFE_2, REPLACEMENT + SAFE_2)
    run, _ = tell(engine)
    assert run.text == SAFE_1 + REPLACEMENT + SAFE_2
    chats = fake.requests_to("/v1/chat/completions")
    assert len(chats) == 2
    messages = chats[1].json["messages"]
    assert messages[-2] == {"role": "assistant", "content": SAFE_1}
    assert "接着讲" in messages[-1]["content"] and "杀" in messages[-1]["content"]
    assert UNSAFE not in seen  # the local policy blocked it before moderation was asked
    assert {r.json["model"] for r in fake.requests_to("/v1/moderations")} == {"omni-moderation-latest"}


def test_openai_that_keeps_writing_it_ends_kindly(openai_story):
    fake, engine = openai_story
    add_moderation(fake, lambda text: {})
    fake.queue(SAFE_1 + UNSAFE, *[UNSAFE] * TRIES)
    run, _ = tell(engine)
    assert run.text == SAFE_1 + KIND_ENDING["zh"] and len(fake.requests_to("/v1/chat/completions")) == 1 + TRIES


def test_moderation_blocks_what_the_word_lists_miss_and_lets_cartoon_battles_through(openai_story):
    fake, engine = openai_story
    battle, sly = "奥特曼用光线打败了怪兽。", "他们说了一个秘密。"  # the fake moderator flags any 秘密
    seen = add_moderation(fake, lambda t: {"violence": 0.85} if "打败" in t else
                          {"sexual": 0.3} if "秘密" in t else {})
    fake.queue(battle + sly, REPLACEMENT)
    run, _ = tell(engine)
    assert run.text == battle + REPLACEMENT and check_text(sly, "zh") is None
    assert [(e.category, e.action) for e in run.guard.events] == [("sexual", "retry")]
    assert "moderation sexual 0.30" in run.guard.events[0].reason and battle in seen


def test_a_moderation_failure_falls_back_to_the_local_policy(openai_story, caplog):
    fake, engine = openai_story
    add_moderation(fake, lambda t: {"sexual": 0.9})  # would block everything, if it answered
    fake.fail(500, path="/v1/moderations", times=5)
    fake.queue(SAFE_1 + UNSAFE + SAFE_2, REPLACEMENT + SAFE_2)
    run, _ = tell(engine)
    assert run.text == SAFE_1 + REPLACEMENT + SAFE_2 and run.status == "done"
    assert len(fake.requests_to("/v1/moderations")) == 1  # not asked again for the rest of the story
    assert "moderation unavailable" in caplog.text


def test_no_key_no_moderation(settings_env):
    assert Moderator.from_settings() is None


def test_guard_check_cost_is_counted():
    guard = StoryGuard("zh")
    assert "".join(guard.run(lambda told, banned: iter([SAFE_1, SAFE_2]))) == SAFE_1 + SAFE_2
    assert guard.checked == 3 and guard.check_s > 0 and guard.counts() == {}  # a sentence, then two clauses

"""The processors that shape a story from the embedded model: no loops, one script, a good ending."""

from __future__ import annotations

import math
import re

import pytest
import torch
from transformers import AutoTokenizer

from storyteller.engines.sampling import KeepScript, NoLoops, StoryEnd, other_script, token_shapes
from storyteller.story_format import DYNASTY, END, POWER, power_tokens
from storyteller.paths import DEFAULT_MODEL_DIR
from tests.fakes.tiny_model import build_tiny_model

INF = float("-inf")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("s") / "t", storyteller=True))


def ids_of(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def test_no_loops_bans_a_third_repeat_of_short_patterns_only(tok):
    def banned(text):
        out = NoLoops()(torch.tensor([ids_of(tok, text)]), torch.zeros(1, len(tok)))
        return {tok.convert_ids_to_tokens(i) for i in torch.nonzero(out[0] == INF).flatten().tolist()}

    assert banned("从前有有") == {"有"}
    assert banned("从帮助帮助帮") == {"助"}
    assert banned("大家都很开心大家都很开") == set()  # period 5: longer than a loop
    assert banned("英雄来到今天他获得了超能力帮助奥特曼打败怪兽大家都很开心小朋友们勇敢善良的故") == set()
    assert banned("帮助帮") == set()  # two in a row is fine


def test_english_keeps_three_in_a_row_and_no_fourth(tok):
    """"Tick... tock..." and "boing, boing, boing!" (banning the third garbled both), never a fourth."""
    def banned(text, times):
        out = NoLoops(times=times)(torch.tensor([ids_of(tok, text)]), torch.zeros(1, len(tok)))
        return {tok.convert_ids_to_tokens(i) for i in torch.nonzero(out[0] == INF).flatten().tolist()}

    assert banned("tick..", 4) == set() and banned("tick...", 4) == {"."}
    assert banned("tick..", 3) == {"."}  # as Chinese keeps it
    assert banned("ab,ab,ab,a", 4) == set() and banned("ab,ab,ab,ab", 4) == {","}  # a fourth "ab," never ends


def test_keep_script_bans_the_other_language(tok):
    zh, en = other_script(tok, "zh"), other_script(tok, "en")
    names = tok.convert_ids_to_tokens(list(range(len(tok))))
    assert zh[names.index("a")] and not zh[names.index("英")] and not zh[names.index("。")]
    assert en[names.index("英")] and en[names.index("。")] and not en[names.index("a")]
    assert not zh[names.index(DYNASTY)] and not en[names.index(END)]
    out = KeepScript(zh)(torch.tensor([[5]]), torch.zeros(1, len(tok)))
    assert out[0, names.index("a")] == INF and out[0, names.index("英")] == 0
    padded = KeepScript(zh)(torch.tensor([[5]]), torch.zeros(1, len(tok) + 3))  # vocabulary padded past the tokenizer
    assert padded.shape[-1] == len(tok) + 3 and padded[0, names.index("a")] == INF and padded[0, -1] == 0


def story_end(tok, **kw):
    return StoryEnd(tok.convert_tokens_to_ids([DYNASTY, POWER]), tok.convert_tokens_to_ids(END), *token_shapes(tok),
                    **kw)


def test_story_ends_after_a_finished_sentence_that_named_dynasty_and_power(tok):
    end, prompt = tok.convert_tokens_to_ids(END), ids_of(tok, "从前")

    def scores_after(text, proc=None):
        proc = proc or story_end(tok)
        proc(torch.tensor([prompt]), torch.zeros(1, len(tok)))  # the first call notes the prompt length
        return proc(torch.tensor([prompt + ids_of(tok, text)]), torch.zeros(1, len(tok)))[0]

    assert scores_after(f"{DYNASTY}的英雄有了{POWER}。")[end] == 0
    assert scores_after(f"{DYNASTY}的英雄有了{POWER}。\n")[end] == 0  # a line break after the full stop
    assert scores_after(f"{DYNASTY}的英雄有了{POWER}的")[end] == INF  # mid-sentence
    assert scores_after(f"{DYNASTY}的英雄有了超能力。")[end] == INF  # the power never named
    late = scores_after(f"{DYNASTY}的英雄" + "大家都很开心，" * 30, story_end(tok, nudge_after=50, step=0.1))
    assert late[tok.convert_tokens_to_ids(POWER)] > 5 and late[tok.convert_tokens_to_ids(DYNASTY)] == 0
    long = scores_after(f"{DYNASTY}的英雄有了{POWER}" + "大家都很开心。" * 30, story_end(tok, long_after=100))
    assert long[end] > 3


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="no shipped model")
def test_shipped_model_stories_name_their_dynasty_and_power_and_end_cleanly():
    from storyteller.model.evaluate import Row, generate, load_model, story_checks

    model, tok = load_model(DEFAULT_MODEL_DIR)
    rows = [Row("zh", "秦", "时间暂停", "轻松", None, ""), Row("zh", "西夏", "读心术", "艰难", None, ""),
            Row("en", "唐", "冰冻", "轻松", None, ""), Row("zh", "南北朝", "喷火", "搞笑", None, "")]
    for i, row in enumerate(rows):
        g = generate(model, tok, row.request(), 700, seed=i)
        assert story_checks(row, g["story"])["adherent"] and g["ended"] and g["story"][-1] in "。！？.!?”\"", g
        other_script = re.compile("[A-Za-z]" if row.lang == "zh" else "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
        assert not other_script.search(g["story"]), g  # a zh story has no Latin letters, an en one no hanzi


@pytest.fixture(scope="module")
def power_tok(tmp_path_factory):
    """A storyteller tokenizer with the catalog's power tokens, as `storyteller.model.build` makes."""
    from storyteller.catalog import get_catalog
    from storyteller.model.tokenizer import build_tokenizer

    names = [n for p in get_catalog().powers for n in (p.zh, p.name("en"))]
    text = "<|zh|>唐|<|hero|>|冰冻|轻松<|story|>他会冰冻，也会飞行。<|end|>"
    tok = build_tokenizer([text], ["He has the power of freezing. the the he he has has"], 50, min_frequency=1,
                          names=names)
    out = tmp_path_factory.mktemp("p")
    tok.save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


def test_only_the_requested_catalog_power_may_be_named(power_tok):
    from storyteller.engines.sampling import story_processors

    tok = power_tok
    ice, fly, slot = tok.convert_tokens_to_ids(["冰冻", "飞行", POWER])
    en_ice = tok.convert_tokens_to_ids("freezing")
    ids = torch.tensor([ids_of(tok, "<|zh|>唐|李白|冰冻|轻松<|story|>李白他会飞他会飞他会飞他会")])  # the header's 冰冻 not recent
    scores = story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="zh", power="冰冻")(ids, torch.zeros(1, len(tok)))
    assert scores[0, fly] == INF and scores[0, en_ice] == INF
    assert scores[0, slot] == INF  # the power has its own token: no generic slot
    others = len(power_tokens(tok))  # the other power tokens and the slot, all banned
    # Where the model would name a power, it names this one: every banned power's chance goes to it.
    assert scores[0, ice] == pytest.approx(math.log(others + 1)) and scores[0, 0] == 0
    typed = story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="zh", power="喷火")(ids, torch.zeros(1, len(tok)))
    assert typed[0, ice] == INF and typed[0, fly] == INF  # a typed power: the slot only, with their chance
    assert typed[0, slot] == pytest.approx(math.log(others + 1))
    just_named = torch.tensor([ids[0].tolist() + [ice]])
    again = story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="zh", power="冰冻")(just_named,
                                                                                        torch.zeros(1, len(tok)))
    assert again[0, ice] == 0 and again[0, fly] == INF  # just written: nothing added, so no "冰冻冰冻"


def test_a_power_that_is_a_plain_word_here_is_left_to_the_model(power_tok):
    """Ultraman "came flying" in a story about freezing stays "came flying": readers found the power
    rule had made it "came invisibility"; elsewhere another power's word is still never written."""
    from storyteller.engines.sampling import story_processors

    tok = power_tok
    ice, fly = tok.convert_tokens_to_ids(["freezing", "flying"])
    others = len(power_tokens(tok))

    def scores(story):
        ids = torch.tensor([ids_of(tok, "<|en|>Tang|Li Bai|freezing|light-hearted<|story|>" + story)])
        return story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="en", power="freezing")(ids, torch.zeros(1, len(tok)))

    came = scores("The monster laughed. Ultraman came ")
    assert came[0, fly] == 0 and came[0, ice] == pytest.approx(math.log(others))  # its chance stays its own
    power = scores("He had the power of ")
    assert power[0, fly] == INF and power[0, ice] == pytest.approx(math.log(others + 1))
    zh = torch.tensor([ids_of(tok, "<|zh|>唐|李白|冰冻|轻松<|story|>李白来了")])
    assert story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="zh", power="冰冻")(zh, torch.zeros(1, len(tok)))[0, fly] == INF


def test_a_story_may_end_only_once_its_own_power_token_was_written(power_tok):
    from storyteller.engines.sampling import story_processors

    tok = power_tok
    end = tok.convert_tokens_to_ids(END)
    head = ids_of(tok, "<|zh|>唐|李白|冰冻|轻松<|story|>")

    def may_end(story):
        ids = torch.tensor([head + ids_of(tok, story)])
        procs = story_processors(True, 0.0, 1.0, 0, tokenizer=tok, lang="zh", story_start=len(head), power="冰冻")
        return bool(procs(ids, torch.zeros(1, len(tok)))[0, end] != INF)

    assert may_end(f"{DYNASTY}的一天，他学会了冰冻。")
    assert not may_end(f"{DYNASTY}的一天，他学会了本领。")


def test_power_tokens_are_whole_english_words(power_tok):
    from storyteller.engines.sampling import word_masks

    pieces = word_masks(power_tok)[0]
    assert not pieces[power_tok.convert_tokens_to_ids("freezing")]
    assert power_tok.decode(ids_of(power_tok, "He has the power of freezing.")) == "He has the power of freezing."


def test_older_models_keep_the_power_slot(tok):
    from storyteller.engines.sampling import power_rule

    assert power_rule(tok, "冰冻") == ([], None)

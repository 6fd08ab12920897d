"""The learned check beside the lists (storyteller/safety/learned.py, train.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyteller import corpus
from storyteller.safety import CATEGORIES, check_field, check_text, learned
from storyteller.safety.normalise import fold
from storyteller.safety.train import main as train

FIXTURES = Path(__file__).parent / "fixtures"


def rows(name: str) -> list[dict]:
    return [json.loads(x) for x in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def lists_alone(monkeypatch, row: dict):
    with monkeypatch.context() as m:
        m.setattr(learned, "judge", lambda *a, **k: None)
        return check_text(row["text"]) if row["kind"] == "sentence" else check_field(row["kind"], row["text"])


def gate(row: dict):
    return check_text(row["text"]) if row["kind"] == "sentence" else check_field(row["kind"], row["text"])


def test_the_shipped_model_loads_with_every_category():
    model = learned.load()
    assert model is not None, "assets/safety/learned.json.gz is missing: python -m storyteller.safety.train"
    assert sorted(model.categories) == sorted(CATEGORIES)
    assert 0.0 < model.threshold < 1.0 and len(model.weights) > 1000


def test_it_catches_phrasings_the_lists_miss_on_a_set_it_never_saw(monkeypatch):
    """Set 4 was written after the lists were last fixed and is never learnt from: the learned check
    must add blocks there without refusing many more innocent rows than the lists do."""
    held = rows("safety_heldout4.jsonl")
    unsafe = [r for r in held if r["expect"] == "block"]
    innocent = [r for r in held if r["expect"] == "allow"]
    alone = sum(bool(lists_alone(monkeypatch, r)) for r in unsafe)
    both = sum(bool(gate(r)) for r in unsafe)
    assert both >= alone + 10, (alone, both)
    refused_alone = sum(bool(lists_alone(monkeypatch, r)) for r in innocent)
    refused = sum(bool(gate(r)) for r in innocent)
    assert refused <= refused_alone + 3, (refused_alone, refused)


def test_a_learned_block_carries_a_category_and_a_reason_but_not_the_text():
    v = check_field("power", "让人永远睡着不再醒来")
    assert v is not None and v.category in CATEGORIES
    assert "learned check" in v.reason or v.term
    assert "醒来" not in v.reason


def test_team_stories_pass_whole_and_a_bad_sentence_inside_one_is_found():
    stories = corpus.load()
    for lang in ("zh", "en"):
        assert all(check_text(s.story, s.lang) is None for s in [s for s in stories if s.lang == lang][:25])
    story = next(s.story for s in stories if s.lang == "zh")
    middle = story.index("。") + 1
    spoiled = story[:middle] + "床底下伸出一只冰冷发白的手，慢慢抓住了妈妈的脚踝，妈妈再也没出现过。" + story[middle:]
    assert learned.judge(fold(spoiled).text, field=False) is not None


def test_without_a_model_the_lists_decide_alone(tmp_path):
    assert learned.load(tmp_path / "none.json.gz") is None
    assert learned.judge("让人永远睡着不再醒来", True, model=None) is not None  # the shipped one
    empty = learned.LearnedModel(threshold=0.5, bias=-5.0, weights={}, categories=["violence"],
                                 category_bias=[0.0], category_weights={})
    assert learned.judge("让人永远睡着不再醒来", True, model=empty) is None


def test_training_writes_a_model_that_learns_its_rows(tmp_path):
    lines = [{"text": f"把人{w}", "lang": "zh", "kind": "power", "expect": "block", "category": "violence"}
             for w in ("永远睡着", "再也醒不来", "变成一动不动", "推下悬崖", "埋进土里")]
    lines += [{"text": f"让人{w}", "lang": "zh", "kind": "power", "expect": "block", "category": "drugs"}
              for w in ("吃小药丸飘起来", "抽叶子", "喝醉酒")]
    lines += [{"text": f"把怪兽{w}", "lang": "zh", "kind": "power", "expect": "allow"}
              for w in ("变成小猫", "送回家", "关进泡泡", "变小", "逗笑")]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    out = tmp_path / "model.json.gz"
    assert train(["--rows", str(src), "--no-team", "--world-stories", "3", "--folds", "0",
                  "--threshold", "0.5", "--out", str(out)]) == 0
    model = learned.load(out)
    assert model.categories == ["drugs", "violence"] and model.trained_on["labelled"] == 13
    block = [model.probability(fold(r["text"]).text, True) for r in lines if r["expect"] == "block"]
    allow = [model.probability(fold(r["text"]).text, True) for r in lines if r["expect"] == "allow"]
    assert min(block) > max(allow)


@pytest.mark.parametrize("text", ["一起打败怪兽", "奶奶给我倒了一杯牛奶", "the monster fell asleep and Ultraman cheered"])
def test_the_genre_passes(text):
    assert check_text(text) is None

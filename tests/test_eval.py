"""Evaluation metrics on hand-made examples with known answers, and the data loaders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from storyteller.errors import DataError
from storyteller.model.evaluate import Row, copied_share, distinct, load_rows, perplexity, story_checks, windows
from storyteller.model.tokenizer import build_tokenizer


def test_distinct_per_story_and_pooled():
    per, pooled = distinct([("abab", "zh")], 2)  # ab ba ab -> 2 unique of 3
    assert per == pytest.approx(2 / 3) and pooled == pytest.approx(2 / 3)
    per, pooled = distinct([("abcd", "zh"), ("abcd", "zh")], 2)  # each story all distinct; pooled half
    assert per == 1.0 and pooled == pytest.approx(0.5)
    per, _ = distinct([("the cat saw the cat", "en")], 2)  # words: the-cat twice of 4 bigrams
    assert per == pytest.approx(3 / 4)


def test_copied_share_counts_verbatim_20_char_windows():
    train = ["一二三四五六七八九十甲乙丙丁戊己庚辛壬癸子丑寅卯"]
    assert copied_share([train[0]], train) == 1.0
    fresh = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏"
    assert copied_share([fresh], train) == 0.0
    half = train[0][:20] + fresh[:20]  # 41 windows, only the first is copied
    assert copied_share([half], train) == pytest.approx(1 / 21)
    assert len(windows("a" * 25)) == 6


def test_copied_share_of_own_words_skips_what_the_request_supplied():
    train = ["Li Bai of the Tang dynasty flew over the river and the moon smiled at him."]
    story = "Li Bai of the Tang dynasty could fly. He waved at a cloud and it waved back, so warm."
    assert copied_share([story], train) > 0.1  # "Li Bai of the Tang dynasty" is in the training story
    assert copied_share([story], train, [["Li Bai", "Tang"]]) == 0.0
    assert copied_share([train[0]], train, [["Li Bai"]]) == 1.0  # copied own words still count


def test_story_checks_adherence_and_hero():
    row = Row("zh", "唐", "隐形", "轻松", None, "")
    ok = story_checks(row, "唐朝的李白学会了隐形，帮助奥特曼。")
    assert ok == {"adherent": True, "hero_ok": True}
    assert story_checks(row, "唐朝的李白学会了隐形。")["adherent"] is False  # no Ultraman
    assert story_checks(row, "唐朝的李白和苏轼学会了隐形，帮助奥特曼。")["hero_ok"] is False  # a drifting hero
    unseen = Row("zh", "夏", "喷火", "轻松", "大禹", "")
    assert not unseen.seen() and story_checks(unseen, "夏朝的大禹会喷火，奥特曼笑了。")["adherent"]
    other_name = Row("zh", "魏", "飞行", "轻松", None, "")  # told as the catalog's 三国 and its hero of 魏
    assert other_name.seen() and story_checks(other_name, "三国时期的曹冲学会了飞行，帮助奥特曼。")["adherent"]
    en = Row("en", "宋", "冰冻", "幽默", "Su Shi", "")
    assert story_checks(en, "In the Song dynasty Su Shi learned Freezing and met Ultraman.")["adherent"]


def test_perplexity_of_a_uniform_model_is_known(tmp_path):
    """Zero weights give uniform next-token odds: ppl/char = vocab ** (tokens / characters)."""
    tok = build_tokenizer(["唐朝李白奥特曼"], [], n_merges=0, extra_chars=False)
    cfg = GPT2Config(vocab_size=len(tok), n_embd=8, n_layer=1, n_head=1, n_positions=64, storyteller_format=1,
                     bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    row = Row("zh", "唐", "隐形", "轻松", "小明", "奥特曼奥特曼")  # no slot values inside: 6 chars + end token
    got = perplexity(model.eval(), tok, [row])
    assert got == pytest.approx(math.exp(math.log(len(tok)) * 7 / 6), rel=1e-4)
    cfg.storyteller_format = None  # any other model: legacy prompt, story + "\n###" (4 more tokens)
    assert perplexity(model, tok, [row]) == pytest.approx(math.exp(math.log(len(tok)) * 10 / 6), rel=1e-4)


def test_load_rows_reads_reference_style_csv_and_rejects_bad_files(tmp_path):
    csv_path = tmp_path / "ref.csv"
    csv_path.write_text(',dynasty,super_power,story_type,story\n0,魏,喷火,轻松,"\n\n从前……"\n', encoding="utf-8")
    rows = load_rows(csv_path)
    assert rows == [Row("zh", "魏", "喷火", "轻松", None, "从前……")]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="columns"):
        load_rows(bad)
    with pytest.raises(DataError, match="No data file"):
        load_rows(tmp_path / "missing.jsonl")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match="junk.jsonl"):
        load_rows(junk)


def test_reference_corpus_loads(reference_csv):
    rows = load_rows(reference_csv)
    assert len(rows) == 464 and {r.dynasty for r in rows} >= {"魏", "唐"}
    assert sum(not r.seen() for r in rows) > 100  # 读心术/不死之身/喷火 are not in our catalog


def test_eval_cli_reports_the_measures_and_variety(tmp_path):
    """`storyteller eval` on a tiny storyteller model: every measure present, variety over tellings."""
    import json as _json

    from typer.testing import CliRunner

    from storyteller.cli import app
    from storyteller.cli import commands  # noqa: F401
    from tests.fakes.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny-st", storyteller=True, n_positions=512)
    data = Path(__file__).resolve().parents[1] / "assets" / "corpus" / "en_b.jsonl"
    r = CliRunner().invoke(app, ["eval", "--model", str(model), "--data", str(data), "--n", "2", "--max-new-tokens",
                                 "40", "--tellings", "3"])
    assert r.exit_code == 0, r.output
    out = _json.loads(r.output)
    assert out["n"] == 2 and 0.0 <= out["nonword_share"] <= 1.0 and out["zh_fluency"] is None
    assert out["variety"]["tellings"] == 3 and 0.0 <= out["variety"]["same_request_shared"] <= 1.0

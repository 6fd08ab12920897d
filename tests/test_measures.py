"""Measures that must tell a story from noise: checked on the old model's stories and the team's."""

from __future__ import annotations

import json
from pathlib import Path

from storyteller import corpus
from storyteller.model.measures import mean_pairwise_shared, nonword_share, nonwords, sentences, shared_sentences

OLD = json.loads((Path(__file__).parent / "fixtures" / "old_model_stories.json").read_text(encoding="utf-8"))


def test_nonwords_flags_made_up_words_but_not_names_or_catalog_words():
    bad, n = nonwords("Li Bai of the Tang dynasty was not grined his stone. He saw a bupple poliet.")
    assert set(bad) == {"grined", "bupple", "poliet"} and n >= 10
    ok, _ = nonwords('A monster called Scribblump bounced in. Scribblump giggled. "Whoosh!" said Mia. '
                     "Zhuge Liang had the power of teleportation and the children's kite flew.")
    assert ok == []


def test_the_english_measure_separates_old_model_stories_from_team_stories():
    team = [s.story for s in corpus.load() if s.lang == "en"][:40]
    old = [nonword_share([t]) for t in OLD["en"]]
    ours = [nonword_share([t]) for t in team]
    assert min(old) > 0.05 and max(ours) < 0.04 and min(old) > max(ours)


def test_sentences_split_chinese_and_english():
    assert sentences("他笑了。“真好！”她说。\n第二天") == ["他笑了。", "“真好！”", "她说。", "第二天"]
    assert sentences('He ran. "Stop!" she said.') == ["He ran.", '"Stop!"', "she said."]


def test_shared_sentence_share():
    a, b, c = "一。二。三。四。", "一。二。五。六。", "七。八。九。十。"
    assert shared_sentences(a, b) == 0.5 and shared_sentences(a, c) == 0.0
    assert abs(mean_pairwise_shared([a, b, c]) - 0.5 / 3) < 1e-9
    assert mean_pairwise_shared([a]) == 0.0


def test_the_chinese_fluency_measure_ranks_old_model_stories_below_team_stories():
    from storyteller.model import fluency

    if not fluency.available():
        import pytest

        pytest.skip(fluency.why_not())
    team = [s.story for s in corpus.load() if s.lang == "zh"][:20]
    old = [fluency.zh_fluency(t) for t in OLD["zh"]]
    ours = [fluency.zh_fluency(t) for t in team]
    pairs = [(o < t) for o in old for t in ours]
    assert sum(pairs) / len(pairs) >= 0.85  # AUC: an old story ranks below a team story
    assert sum(ours) / len(ours) - sum(old) / len(old) >= 0.08
    assert fluency.zh_fluency("他笑了。") > fluency.zh_fluency("了笑他。")

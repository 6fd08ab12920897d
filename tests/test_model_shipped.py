"""The shipped model tells the story that was asked, for a seen and for an unseen power."""

from __future__ import annotations

import pytest

from storyteller.model.evaluate import Row, generate, load_model, story_checks
from storyteller.paths import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(),
                                reason="models/storyteller-tiny not built")


@pytest.fixture(scope="module")
def shipped():
    return load_model(DEFAULT_MODEL_DIR, threads=1)


@pytest.mark.parametrize("row", [
    Row("zh", "唐", "隐形", "轻松", None, ""),  # seen in training
    Row("zh", "西夏", "喷火", "努力", None, ""),  # dynasty and power the catalog does not know
    Row("en", "宋", "冰冻", "幽默", None, ""),
], ids=["zh-seen", "zh-unseen", "en-seen"])
@pytest.mark.slow
def test_story_names_dynasty_power_and_ultraman(shipped, row):
    model, tok = shipped
    stories = []
    for seed in range(3):  # sampling: one of three fixed seeds must do it (usually the first)
        stories.append(generate(model, tok, row.request(), max_new_tokens=640, seed=seed)["story"])
        if story_checks(row, stories[-1])["adherent"]:
            break
    assert story_checks(row, stories[-1])["adherent"], stories
    assert all("<|" not in s for s in stories)
    assert len(stories[-1]) > 100


def test_the_shipped_model_may_write_the_words_of_the_stories_it_learnt_from(shipped):
    """Every English word its training text uses twice (first pieces, paragraph starts, words in
    pieces) is on its list: a word missing there is one the app bans, and the sentence breaks."""
    from storyteller import corpus
    from storyteller.model.build import english_texts
    from storyteller.model.tokenizer import english_words

    _, tok = shipped
    texts = english_texts(DEFAULT_MODEL_DIR, corpus.load(), n_world=300)
    used = set(english_words(tok, texts, min_count=2))
    assert {"▁yet", "▁discover", "\nThen"} <= used  # the power's announcement, a paragraph's start
    missing = used - set(tok.init_kwargs["story_words"])
    assert not missing, (f"the story world uses words the shipped model may not write: {sorted(missing)}; "
                         "write them with words it knows, or retrain (a new build lists its text's words)")

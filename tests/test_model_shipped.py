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
    Row("zh", "魏", "喷火", "努力", None, ""),  # dynasty and power never trained on
    Row("en", "宋", "冰冻", "幽默", None, ""),
], ids=["zh-seen", "zh-unseen", "en-seen"])
def test_story_names_dynasty_power_and_ultraman(shipped, row):
    model, tok = shipped
    stories = [generate(model, tok, row.request(), max_new_tokens=640, seed=s)["story"] for s in range(3)]
    good = [s for s in stories if story_checks(row, s)["adherent"]]
    assert good, stories  # sampling: at least one of three fixed seeds
    assert all("<|" not in s for s in stories)
    assert len(good[0]) > 100

"""The model card: blind readings first, measures next to the team's, guaranteed figures labelled."""

from __future__ import annotations

import json

from storyteller import corpus
from storyteller.model import card
from tests.fakes.tiny_model import build_tiny_model


def test_card_tables_from_a_tiny_model(tmp_path, monkeypatch):
    folder = build_tiny_model(tmp_path / "tiny-st", storyteller=True, n_positions=1024)
    held = [s.id for s in corpus.load()][::10]
    (folder / "training_config.json").write_text(json.dumps({
        "heldout_ids": held, "steps": 3, "batch_size": 2, "n_embd": 32, "n_layer": 2, "n_head": 2,
        "n_positions": 1024, "langs": ["zh", "en"], "threads": 1, "world": {"zh": 5},
        "result": {"params": 100000, "vocab": 120, "train_stories": 5, "composed_stories": 5,
                   "train_chars": 500000, "heldout_stories": len(held), "train_seconds": 60, "final_loss": 1.0}}),
        encoding="utf-8")
    (folder / "readings.jsonl").write_text(json.dumps({
        "date": "2026-11-30", "model": "tiny-st", "reader": "r", "pack": "p",
        "scores": {"model zh": {"grammar": 8, "consistency": 7.5, "plot": 7, "request_fit": 8, "age_fit": 9,
                                "read_tonight": 0.9, "n": 30}}}) + "\n", encoding="utf-8")
    monkeypatch.setattr(card, "REFERENCE", tmp_path / "absent.csv")
    monkeypatch.setattr(card, "VARIETY_REQUESTS", {"zh": [("唐", "隐形", "轻松")], "en": [("Ming", "flying", "funny")]})
    m = card.measure(folder, n_heldout=2, tellings=2)
    assert set(m["columns"]) == {"held-out zh", "held-out en"}
    assert m["team"]["en"]["nonword_share"] < 0.05 and m["team"]["zh"]["n"] == 2
    assert 0.0 <= m["variety"]["zh"]["same_request_shared"] <= 1.0
    text = card.write_card(folder, m).read_text(encoding="utf-8")
    assert "| 2026-11-30 | r | model zh (30) | 8.0 | 7.5 |" in text and "90% |" in text
    assert "English non-words" in text and "Guaranteed by the format" in text
    assert "2×" in text  # 500,000 characters against the first model's 250,000
    assert text.index("## Blind readings") < text.index("## Measures that can fail") < text.index("## Guaranteed")

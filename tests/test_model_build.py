"""Building a storyteller model end to end, on a tiny slice with a tiny config."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from storyteller.corpus import Story
from storyteller.corpus import is_heldout, split
from storyteller.model.build import TrainConfig, train
from storyteller.story_format import training_text
from storyteller.model.evaluate import generate, load_model
from storyteller.story_format import DYNASTY, END, FACT, HERO, POWER, is_storyteller_model
from storyteller.prompts import StoryRequest

FACT_LI_BAI = "李白写了很多诗，被人们称为“诗仙”。"


def story(i: int, lang: str = "zh") -> Story:
    if lang == "en":
        text = ("In the Tang dynasty, Li Bai found he could fly. Flying over the city, he met Ultraman. "
                "Together they helped a sleepy monster get home. Everyone cheered.")
        return Story(id=f"en-t{i}", lang="en", dynasty="唐", hero="Li Bai", hero_fact="x", power="飞行",
                     style="轻松", age_band="5-7", story=text)
    text = f"唐朝的李白学会了飞行。大家都知道，{FACT_LI_BAI}李白和奥特曼一起，把怪兽送回了家。第{i}天。"
    return Story(id=f"zh-t{i}", lang="zh", dynasty="唐", hero="李白", hero_fact=FACT_LI_BAI, power="飞行",
                 style="轻松", age_band="5-7", story=text)


def test_split_is_fixed_by_id_and_about_ten_percent():
    ids = [f"zh-{i:03d}" for i in range(1000)]
    held = [i for i in ids if is_heldout(i)]
    assert 60 <= len(held) <= 140
    assert held == [i for i in ids if is_heldout(i)]  # same answer every time
    train_set, held_set = split([story(i) for i in range(50)])
    assert len(train_set) + len(held_set) == 50 and not {s.id for s in train_set} & {s.id for s in held_set}


def test_training_text_uses_slots_and_keeps_values_in_header():
    head, body = training_text(story(1))
    assert head == "<|zh|>唐|李白|飞行|轻松<|story|>"
    assert body == f"{DYNASTY}朝的{HERO}学会了{POWER}。{FACT}{HERO}和奥特曼一起，把怪兽送回了家。第1天。{END}"
    en_head, en_body = training_text(story(1, "en"))
    assert en_head == "<|en|>Tang|Li Bai|flying|light-hearted<|story|>"
    assert f"the {DYNASTY} dynasty, {HERO} found" in en_body and f"{POWER} over" in en_body


def test_a_build_trains_on_stories_of_a_made_up_dynasty_with_the_apps_stand_in_hero():
    """What the app sends for a dynasty the catalog does not know (the stand-in hero, no fact) is in
    the training text: a made-up dynasty in the header, the stand-in's name there, slots in the story."""
    from storyteller.catalog import STAND_IN_HERO
    from storyteller.model.build import world_stories

    cfg = TrainConfig(world={"zh": 120, "en": 120}, typed_dynasty_share=0.2)
    stand_in = [s for s in world_stories(cfg) if s.hero == STAND_IN_HERO[s.lang]]
    assert {s.lang for s in stand_in} == {"zh", "en"} and len(stand_in) >= 20
    for s in stand_in:
        head, body = training_text(s, keep_power=True)
        assert f"|{s.hero}|" in head and s.hero not in body and HERO in body and DYNASTY in body
        assert not s.hero_fact and FACT not in body
    assert not [s for s in world_stories(TrainConfig(world={"zh": 60}, typed_dynasty_share=0.0))
                if s.hero == STAND_IN_HERO["zh"]]


@pytest.mark.slow
def test_tiny_build_writes_a_loadable_model_folder(tmp_path):
    cfg = TrainConfig(n_embd=32, n_layer=1, n_head=2, n_positions=256, steps=3, batch_size=2, n_merges=20,
                      warmup=1, threads=1, world={"zh": 30, "en": 30})  # composed stories too, but few
    stories = [story(i) for i in range(12)] + [story(i, "en") for i in range(4)]
    info = train(cfg, tmp_path, stories, log=lambda *_: None)
    assert info["train_stories"] + info["heldout_stories"] == 16
    names = {p.name for p in tmp_path.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
            "training_config.json"} <= names
    saved = json.loads((tmp_path / "training_config.json").read_text())
    assert saved["seed"] == 1234 and len(saved["train_ids"]) == info["train_stories"]
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert str(model.dtype) == "torch.float16"  # shipped small
    assert is_storyteller_model(model.config)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.eos_token == END and tok.decode(tok("李白😀")["input_ids"]) == "李白😀"
    model, tok = load_model(tmp_path)
    out = generate(model, tok, StoryRequest(dynasty="唐", power="飞行", style="轻松"), max_new_tokens=8)
    assert out["tokens"] <= 8 and isinstance(out["story"], str) and "<|" not in out["story"]


def test_continuing_an_older_build_adds_power_tokens_spelt_as_their_characters(tmp_path):
    """`--init-from`: an earlier model's tokenizer gains one token per catalog power, and each new
    embedding starts where the characters it replaces were (their mean), so nothing is forgotten."""
    from storyteller.model.build import _continue_from
    from tests.fakes.tiny_model import build_tiny_model

    folder = build_tiny_model(tmp_path / "old", storyteller=True)
    old_tok = AutoTokenizer.from_pretrained(folder)
    old = AutoModelForCausalLM.from_pretrained(folder).get_input_embeddings().weight.detach()
    spelt = old_tok("冰冻", add_special_tokens=False)["input_ids"]
    model, tok = _continue_from(folder, ["冰冻", "freezing", "冰冻"])
    assert len(tok) == len(old_tok) + 2 and tok.tokenize("冰冻") == ["冰冻"]
    emb = model.get_input_embeddings().weight.detach()
    assert emb.shape[0] == len(tok)
    assert emb[tok.convert_tokens_to_ids("冰冻")].allclose(old[spelt].float().mean(0), atol=1e-3)
    assert emb[: len(old_tok)].allclose(old.float(), atol=1e-3)  # the rest is untouched


def test_a_build_lists_the_words_of_its_text_written_in_pieces_and_an_older_model_gets_them(tmp_path):
    """A word the merges did not make one token ("▁y" + "et", in the composed stories' "… did not know
    it yet") is still a word the app may write: without it on the list, the sentence broke there."""
    from storyteller.model.build import relist_words

    cfg = TrainConfig(n_embd=32, n_layer=1, n_head=2, n_positions=256, steps=1, batch_size=2, n_merges=20,
                      warmup=1, threads=1, world={"zh": 0, "en": 20})
    stories = [story(i) for i in range(12)] + [story(i, "en") for i in range(4)]
    train(cfg, tmp_path, stories, log=lambda *_: None)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    words = set(tok.init_kwargs["story_words"])
    assert len(tok.tokenize(" yet")) > 1 and {"▁yet", "▁discover"} & words

    path = tmp_path / "tokenizer_config.json"  # as an older build saved it: one-token words only
    config = json.loads(path.read_text())
    config["story_words"] = [w for w in config["story_words"] if w in tok.get_vocab()]
    path.write_text(json.dumps(config))
    assert "▁yet" not in set(AutoTokenizer.from_pretrained(tmp_path).init_kwargs["story_words"])
    n = relist_words(tmp_path, stories)
    relisted = set(AutoTokenizer.from_pretrained(tmp_path).init_kwargs["story_words"])
    assert n == len(relisted) and relisted == words

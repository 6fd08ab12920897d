"""The storyteller tokenizer: lossless round trips, byte fallback, slots kept, English pieces."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from storyteller.story_format import END, HERO, POWER
from storyteller.model.tokenizer import BYTES, build_tokenizer, gb2312_level1

EN = ["Li Bai flew over the park and waved at Ultraman. The children cheered and waved back."] * 5
ZH = ["李白来到公园，和奥特曼一起打败了泡泡怪。"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tok = build_tokenizer(ZH + EN, EN, n_merges=50)
    path = tmp_path_factory.mktemp("tok")
    tok.save_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


def test_gb2312_level1_is_the_3755_common_hanzi():
    chars = gb2312_level1()
    assert len(chars) == 3755 and chars[0] == "啊" and "李" in chars and "曼" in chars


@pytest.mark.parametrize("text", [
    "李白会隐形。\n奥特曼说：“谢谢！”",
    "Li Bai flew over the park, and Ultraman waved.",
    "  double  spaces\tand tabs ",
    "生僻字𠀋鱻 and emoji 😀🦖 stay",
])
def test_round_trip(saved, text):
    ids = saved(text, add_special_tokens=False)["input_ids"]
    assert saved.decode(ids) == text


def test_rare_characters_fall_back_to_bytes(saved):
    tokens = saved.convert_ids_to_tokens(saved("😀", add_special_tokens=False)["input_ids"])
    assert tokens == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]
    assert set(BYTES) <= set(saved.get_vocab())


def test_hanzi_are_single_tokens_and_english_gets_word_pieces(saved):
    assert saved.tokenize("奥特曼") == ["奥", "特", "曼"]
    en = saved("Ultraman waved at the children", add_special_tokens=False)["input_ids"]
    assert len(en) < len("Ultraman waved at the children") / 2


def test_slots_survive_skip_special_tokens_but_end_does_not(saved):
    ids = saved(f"{HERO}会{POWER}。{END}", add_special_tokens=False)["input_ids"]
    assert len(ids) == 5
    assert saved.decode(ids, skip_special_tokens=True) == f"{HERO}会{POWER}。"
    assert saved.eos_token == END


def test_english_words_used_often_enough_are_whole_tokens_and_listed(tmp_path):
    en = ["The brave girl waved. The brave dog waved back, and the children cheered."] * 3 + ["A zebra once."]
    tok = build_tokenizer(en, en, n_merges=500, min_frequency=2)
    tok.save_pretrained(tmp_path)
    saved = AutoTokenizer.from_pretrained(tmp_path)
    words = set(saved.init_kwargs["story_words"])
    assert {"▁brave", "▁waved", "▁children", "▁cheered", "The"} <= words
    assert "▁zebra" not in words  # seen once: still encodes, in pieces, but is not a word to write
    assert saved.tokenize("The brave dog waved.") == ["The", "▁brave", "▁dog", "▁waved", "."]
    assert saved.decode(saved("A zebra once.", add_special_tokens=False)["input_ids"]) == "A zebra once."


def test_whole_words_processor_bans_pieces_and_glue(tmp_path):
    import torch

    from storyteller.engines.sampling import WholeWords, word_masks

    en = ["The brave girl waved. The brave dog waved back, and the children cheered. Don't go, it's the dog."] * 3
    tok = build_tokenizer(en, en, n_merges=500, min_frequency=2)
    masks = word_masks(tok)
    pieces = masks[0]
    vocab = tok.get_vocab()
    assert pieces[vocab["▁ze"] if "▁ze" in vocab else vocab["z"]] and not pieces[vocab["▁brave"]]
    proc = WholeWords(*masks)
    scores = torch.zeros(1, len(tok))
    after_word = proc(torch.tensor([[vocab["▁brave"]]]), scores.clone())
    assert after_word[0, vocab["▁dog"]] == 0 and after_word[0, vocab["."]] == 0
    assert after_word[0, vocab["The"]] == float("-inf")  # "braveThe": a word glued onto a word
    after_stop = proc(torch.tensor([[vocab["."]]]), scores.clone())
    assert after_stop[0, vocab["The"]] == 0  # a new sentence may start with a word
    assert (after_stop[0][pieces] == float("-inf")).all()
    after_apostrophe = proc(torch.tensor([[vocab["'"]]]), scores.clone())
    assert after_apostrophe[0, vocab["t"]] == 0 and after_apostrophe[0, vocab["s"]] == 0
    assert after_apostrophe[0, vocab["The"]] == float("-inf")  # "I'The": no word is glued on after "'"


def test_catalog_power_names_are_one_token_each_after_a_save(tmp_path):
    """The header's power is one learnt embedding (the story keys on it), and a typed power that
    merely contains a catalog name still round-trips."""
    tok = build_tokenizer(["<|zh|>唐|李白|隐形|轻松<|story|>他很开心"], ["Li Bai flew"], 20,
                          names=["隐形", "super strength", "隐形"])
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.tokenize("<|zh|>唐|李白|隐形|轻松<|story|>").count("隐形") == 1
    assert "super strength" in loaded.tokenize("<|en|>Tang|Li Bai|super strength|easy<|story|>")
    ids = loaded("隐形人和super strengthy", add_special_tokens=False)["input_ids"]
    assert loaded.decode(ids) == "隐形人和super strengthy"


def test_whole_words_lets_a_listed_word_in_pieces_be_written_piece_by_piece(tmp_path):
    """"zebra" is used often enough to be listed but the merges stopped before it: at a word start its
    first piece may come, then only its next pieces, and once it is whole nothing glues on."""
    import torch

    from storyteller.engines.sampling import WholeWords, word_masks

    en = ["The brave girl waved. The brave dog waved back, and the children cheered."] * 30 + ["A zebra ran. A zebra hid."]
    tok = build_tokenizer(en, en, n_merges=40, min_frequency=2)
    tok.save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    vocab, words = tok.get_vocab(), set(tok.init_kwargs["story_words"])
    zebra = tok.convert_tokens_to_ids(tok.tokenize(" zebra"))
    assert len(zebra) > 1 and "▁zebra" in words and "▁dog" in words
    proc = WholeWords(*word_masks(tok))
    scores = torch.zeros(1, len(tok))
    start = proc(torch.tensor([[vocab["▁brave"]]]), scores.clone())
    assert start[0, zebra[0]] == 0 and start[0, vocab["▁dog"]] == 0
    inside = proc(torch.tensor([[vocab["▁brave"], *zebra[:2]]]), scores.clone())
    assert inside[0, zebra[2]] == 0 and (inside[0] == 0).sum() == 1  # only the word's next piece
    whole = proc(torch.tensor([[vocab["."], *zebra]]), scores.clone())
    assert whole[0, vocab["."]] == 0 and whole[0, vocab["▁dog"]] == 0
    glue = [i for t, i in vocab.items() if t.isascii() and t.isalpha() and t not in words]
    assert all(whole[0, i] == float("-inf") for i in glue)  # "zebra" + a piece is no word
    glued = proc(torch.tensor([[vocab["▁brave"], *zebra[1:2]]]), scores.clone())  # a piece glued onto a word
    assert glued[0, vocab["▁dog"]] == 0 and glued[0, vocab["."]] == 0  # is no listed start: no forcing


def test_a_word_that_starts_a_paragraph_is_a_word_to_write(tmp_path):
    """The merges join a new line to the word after it ("\\nThen"): such a token is a listed word, or
    every paragraph would have to start in a way the model never read."""
    import torch

    from storyteller.engines.sampling import WholeWords, word_masks

    en = ["The dog waved.\nThen the girl waved.\nThen the dog ran."] * 20
    tok = build_tokenizer(en, en, n_merges=200, min_frequency=2)
    vocab, words = tok.get_vocab(), set(tok.init_kwargs["story_words"])
    assert "\nThen" in tok.tokenize("waved.\nThen") and "\nThen" in words
    proc = WholeWords(*word_masks(tok))
    after_stop = proc(torch.tensor([[vocab["."]]]), torch.zeros(1, len(tok)))
    assert after_stop[0, vocab["\nThen"]] == 0


def test_a_bare_space_mark_before_a_word_in_pieces_forces_nothing(tmp_path):
    """A space before a slot is its own token ("the ▁<|dynasty|>"); when a listed word in pieces also
    starts with it ("▁" + "ve" + …), the slot must still be free to follow."""
    import torch

    from storyteller.engines.sampling import WholeWords, word_masks
    from storyteller.story_format import DYNASTY

    en = [f"In the {DYNASTY} a vegetable grew. A vegetable fell."] * 3 + ["The dog waved."] * 30
    tok = build_tokenizer(en, en, n_merges=10, min_frequency=2)
    tok.init_kwargs["story_words"] = [*tok.init_kwargs.get("story_words", []), "▁vegetable"]
    vocab, veg = tok.get_vocab(), tok.tokenize(" vegetable")
    assert veg[:2] == ["▁", "ve"]
    proc = WholeWords(*word_masks(tok))
    space = [vocab["▁"]]
    after_space = proc(torch.tensor([space]), torch.zeros(1, len(tok)))
    assert after_space[0, vocab[DYNASTY]] == 0 and after_space[0, vocab["ve"]] == 0
    inside = proc(torch.tensor([space + [vocab["ve"]]]), torch.zeros(1, len(tok)))
    assert (inside[0] == 0).nonzero().flatten().tolist() == [vocab[veg[2]]]

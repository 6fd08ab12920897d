"""Tiny random-weight GPT-2 models built from a config, saved as a normal model folder (no downloads).

    path = build_tiny_model(tmp_path / "tiny")                       # plain text model
    path = build_tiny_model(tmp_path / "st", storyteller=True)       # storyteller slot format
    path = build_tiny_model(tmp_path / "chat", chat_template=True)   # with a chat template

The tokenizer is character level (ASCII letters, space, punctuation, some hanzi), so random
weights still stream many small chunks. Slot and special tokens of the storyteller format are
added when `storyteller=True`, and config.json gets `storyteller_format`.
"""

from __future__ import annotations

from pathlib import Path

HANZI = "从前有一位英雄来到今天他获得了超能力帮助奥特曼打败怪兽大家都很开心小朋友们勇敢善良的故事结束"
CHARS = list(" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'\n，。！？") + list(dict.fromkeys(HANZI))
CHAT_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"


def build_tiny_model(out: Path, storyteller: bool = False, chat_template: bool = False, seed: int = 0,
                     n_positions: int = 256, n_embd: int = 32, n_layer: int = 2, n_head: int = 2) -> Path:
    import torch
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from storyteller import story_format as fmt

    specials = ["<unk>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(specials + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(t, special=True) for t in specials])
    if storyteller:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in fmt.SLOT_TOKENS])
        tok.add_special_tokens([AddedToken(t, special=True) for t in fmt.SPECIAL_TOKENS])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                                     bos_token="<|endoftext|>", pad_token="<|endoftext|>")
    if chat_template:
        hf_tok.chat_template = CHAT_TEMPLATE
    eos = hf_tok.convert_tokens_to_ids(fmt.END if storyteller else "<|endoftext|>")
    config = GPT2Config(vocab_size=len(hf_tok), n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=hf_tok.pad_token_id)
    if storyteller:
        setattr(config, fmt.FORMAT_KEY, fmt.FORMAT_VERSION)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # never end early: random weights would otherwise hit eos at random
        model.lm_head.weight[eos] = 0.0
        model.transformer.wte.weight[eos] = 0.0
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    hf_tok.save_pretrained(out)
    (out / "README.md").write_text("---\nlicense: mit\n---\n# Tiny test model\n\nA random tiny GPT-2 for tests.\n",
                                   encoding="utf-8")
    return out

"""The lean GPT-2 loop decodes exactly what transformers' generate decodes, only faster."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import AutoModelForCausalLM, StoppingCriteriaList

from storyteller.engines.lean_gpt2 import LeanGPT2
from storyteller.engines.sampling import Cancelled, story_processors
from storyteller.paths import DEFAULT_MODEL_DIR
from tests.fakes.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("lean") / "tiny", storyteller=True, n_embd=48, n_head=4,
                            n_layer=3, seed=3)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    model.generation_config.repetition_penalty = 1.3
    return model


class Tokens:
    """A streamer that keeps what it is given."""

    def __init__(self):
        self.puts, self.ended = [], 0

    def put(self, value):
        self.puts.append(value.tolist())

    def end(self):
        self.ended += 1


def both(model, ids, temperature, seed, n=60, **kw):
    args = dict(input_ids=ids, max_new_tokens=n, do_sample=False, temperature=None, top_p=None, top_k=None,
                eos_token_id=-1 if "eos_token_id" not in kw else kw.pop("eos_token_id"), pad_token_id=0, **kw)
    ref = model.generate(**args, logits_processor=story_processors(True, temperature, 0.9, seed))
    lean = LeanGPT2(model).generate(**args, logits_processor=story_processors(True, temperature, 0.9, seed))
    return ref, lean


@pytest.mark.parametrize("temperature,seed", [(0.0, 0), (0.8, 1), (1.2, 2)])
def test_same_tokens_as_generate(tiny, temperature, seed):
    ids = torch.tensor([[5, 9, 12, 30, 7, 7, 41]])
    assert LeanGPT2.fits(tiny)
    ref, lean = both(tiny, ids, temperature, seed)
    assert ref.shape[1] == ids.shape[1] + 60
    assert torch.equal(ref, lean)


def test_logits_match_forward_with_a_chunk_fed_after_the_prompt(tiny):
    ids = torch.randint(3, 60, (1, 20), generator=torch.Generator().manual_seed(0))
    lean = LeanGPT2(tiny)
    cache = lean.new_cache(40)
    with torch.inference_mode():
        lean.forward(ids[0, :12], cache)
        got = lean.forward(ids[0, 12:], cache)  # several tokens after a filled cache: the masked path
        nxt = lean.forward(torch.tensor([4]), cache)
        want = tiny(ids).logits[0, -1]
        want_next = tiny(torch.cat([ids, torch.tensor([[4]])], 1)).logits[0, -1]
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(nxt, want_next, atol=1e-5)


def test_stops_at_eos_and_on_cancel_and_streams_every_token(tiny):
    ids = torch.tensor([[5, 9, 12]])
    ref, lean = both(tiny, ids, 0.0, 0, n=30)
    eos = int(lean[0, 10])
    ref, lean = both(tiny, ids, 0.0, 0, n=30, eos_token_id=eos)
    assert torch.equal(ref, lean) and int(lean[0, -1]) == eos and lean.shape[1] <= 11

    cancel, tokens = threading.Event(), Tokens()

    class CancelAfterFive(Tokens):
        def put(self, value):
            super().put(value)
            if len(self.puts) == 6:
                cancel.set()

    tokens = CancelAfterFive()
    out = LeanGPT2(tiny).generate(input_ids=ids, max_new_tokens=50, eos_token_id=-1, streamer=tokens,
                                  logits_processor=story_processors(True, 0.8, 0.9, 1),
                                  stopping_criteria=StoppingCriteriaList([Cancelled(cancel)]))
    assert out.shape[1] == ids.shape[1] + 5
    assert tokens.puts[0] == ids.tolist() and [p[0] for p in tokens.puts[1:]] == out[0, 3:].tolist()
    assert tokens.ended == 1


def test_never_runs_past_the_context(tiny):
    ids = torch.randint(3, 60, (1, 250), generator=torch.Generator().manual_seed(1))
    out = LeanGPT2(tiny).generate(input_ids=ids, max_new_tokens=100, eos_token_id=-1)
    assert out.shape[1] == tiny.config.n_positions


def test_only_models_it_models(tiny, tmp_path):
    from peft import LoraConfig, get_peft_model

    assert LeanGPT2.fits(tiny)
    tiny.generation_config.no_repeat_ngram_size = 3  # a setting the loop does not mirror
    try:
        assert not LeanGPT2.fits(tiny)
    finally:
        tiny.generation_config.no_repeat_ngram_size = None
    assert LeanGPT2.fits(tiny)
    half = build_tiny_model(tmp_path / "half", seed=4)
    assert not LeanGPT2.fits(AutoModelForCausalLM.from_pretrained(half, dtype=torch.float16))
    lora = AutoModelForCausalLM.from_pretrained(half, dtype=torch.float32)
    assert not LeanGPT2.fits(get_peft_model(lora, LoraConfig(r=2, target_modules=["c_attn"])))


@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").is_file(), reason="no shipped model")
def test_shipped_model_takes_the_lean_path_and_tells_the_same_story():
    from storyteller.model.evaluate import generate, load_model
    from storyteller.prompts import StoryRequest

    model, tok = load_model(DEFAULT_MODEL_DIR)
    assert LeanGPT2.fits(model)
    req = StoryRequest(dynasty="唐", power="隐形", style="轻松")
    ids = tok("x", return_tensors="pt", add_special_tokens=False)["input_ids"]
    ref, lean = both(model, ids, 0.8, 5, n=80)
    assert torch.equal(ref, lean)
    story = generate(model, tok, req, 200, seed=3)["story"]
    assert story == generate(model, tok, req, 200, seed=3)["story"] and len(story) > 50

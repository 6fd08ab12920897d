"""A lean decoder for small GPT-2 models on CPU.

At a few million parameters transformers' per-step machinery (module calls, mask building, cache
objects) costs more than the arithmetic: one step of the embedded model takes ~4 ms through
`model.forward` and ~2.3 ms here on one thread, from the very same weight tensors (shared, not
copied). `LeanGPT2.generate` takes the keyword arguments the engine gives `model.generate` and
mirrors its greedy loop: the model's repetition penalty, then our logits processors (which do the
seeded sampling), stopping criteria and the streamer, so both paths tell the same story for the
same seed. Anything this loop does not model (other architectures, adapters, GPUs, generation
settings beyond the few below) goes through `model.generate` instead.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import GenerationConfig, LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteriaList
from transformers.pytorch_utils import Conv1D

# generation_config keys the loop honours (or that do not change greedy decoding over our processors);
# any other key set away from its default sends the model through `model.generate`
PLAIN_GENERATION = {"bos_token_id", "eos_token_id", "pad_token_id", "max_new_tokens", "max_length", "do_sample",
                    "temperature", "top_p", "top_k", "repetition_penalty", "storyteller_format",
                    "transformers_version", "_from_model_config", "use_cache", "output_attentions",
                    "output_hidden_states"}
ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


class LeanGPT2:
    """Single-sequence KV-cache decoding over a loaded `GPT2LMHeadModel`'s own parameters."""

    def __init__(self, model: Any):
        cfg, tr = model.config, model.transformer
        self.d, self.heads, self.eps = cfg.n_embd, cfg.n_head, cfg.layer_norm_epsilon
        self.max_positions, self.gelu = cfg.n_positions, ACTIVATIONS[cfg.activation_function]
        self.scale = (cfg.n_embd // cfg.n_head) ** -0.5
        self.wte, self.wpe, self.ln_f = tr.wte.weight, tr.wpe.weight, (tr.ln_f.weight, tr.ln_f.bias)
        self.head = model.lm_head.weight
        self.layers = [((b.ln_1.weight, b.ln_1.bias), (b.attn.c_attn.bias, b.attn.c_attn.weight),
                        (b.attn.c_proj.bias, b.attn.c_proj.weight), (b.ln_2.weight, b.ln_2.bias),
                        (b.mlp.c_fc.bias, b.mlp.c_fc.weight), (b.mlp.c_proj.bias, b.mlp.c_proj.weight))
                       for b in tr.h]
        self.repetition_penalty = getattr(model.generation_config, "repetition_penalty", None) or 1.0

    @staticmethod
    def fits(model: Any) -> bool:
        """A plain fp32 GPT-2 on CPU with no adapters and only the generation settings we mirror."""
        cfg = getattr(model, "config", None)
        if getattr(cfg, "model_type", None) != "gpt2" or getattr(model, "device", None) != torch.device("cpu"):
            return False
        if (model.dtype != torch.float32 or cfg.add_cross_attention or cfg.scale_attn_by_inverse_layer_idx
                or cfg.reorder_and_upcast_attn or not cfg.scale_attn_weights
                or cfg.activation_function not in ACTIVATIONS or getattr(model, "peft_config", None)):
            return False
        blocks = model.transformer.h
        if not all(isinstance(m, Conv1D) for b in blocks for m in (b.attn.c_attn, b.attn.c_proj, b.mlp.c_fc,
                                                                      b.mlp.c_proj)):
            return False
        default = GenerationConfig().to_dict()
        return all(v == default.get(k, v) for k, v in model.generation_config.to_dict().items()
                   if k not in PLAIN_GENERATION)

    def new_cache(self, length: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        shape = (len(self.layers), self.heads, length, self.d // self.heads)
        return torch.empty(shape), torch.empty(shape), [0]

    def forward(self, ids: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor, list[int]]) -> torch.Tensor:
        """Logits of the last of `ids` (1-D), given everything fed before into `cache`."""
        keys, values, at = cache
        p, t, d, h = at[0], ids.shape[0], self.d, self.heads
        x = self.wte[ids] + self.wpe[p : p + t]
        mask = None if t == 1 or p == 0 else torch.ones(t, p + t, dtype=torch.bool).tril(p)
        for i, (ln1, qkv, proj, ln2, fc, out) in enumerate(self.layers):
            y = F.layer_norm(x, (d,), *ln1, self.eps)
            q, k, v = _conv1d(y, *qkv).view(t, 3, h, d // h).permute(1, 2, 0, 3)
            keys[i, :, p : p + t], values[i, :, p : p + t] = k, v
            k, v = keys[i, :, : p + t], values[i, :, : p + t]
            if t == 1:  # one new token: plain matmuls beat sdpa's dispatch at this size
                a = torch.bmm(torch.bmm(q, k.transpose(1, 2)).mul_(self.scale).softmax(-1), v)
            else:
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)
            x = x + _conv1d(a.transpose(0, 1).reshape(t, d), *proj)
            y = F.layer_norm(x, (d,), *ln2, self.eps)
            x = x + _conv1d(F.gelu(_conv1d(y, *fc), approximate=self.gelu), *out)
        at[0] = p + t
        return F.linear(F.layer_norm(x[-1], (d,), *self.ln_f, self.eps), self.head)

    @torch.inference_mode()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, eos_token_id: int | None = None,
                 logits_processor: LogitsProcessorList | None = None,
                 stopping_criteria: StoppingCriteriaList | None = None, streamer: Any = None,
                 **_ignored: Any) -> torch.Tensor:
        """Greedy over the processed scores, as `model.generate(do_sample=False, ...)`: prompt + new ids."""
        n = input_ids.shape[1]
        max_new_tokens = max(0, min(max_new_tokens, self.max_positions - n))
        seq = torch.empty(1, n + max_new_tokens, dtype=torch.long)
        seq[:, :n] = input_ids
        processors = LogitsProcessorList(
            [RepetitionPenaltyLogitsProcessor(self.repetition_penalty)] if self.repetition_penalty != 1.0 else [])
        processors.extend(logits_processor or [])
        if streamer is not None:
            streamer.put(input_ids.cpu())
        cache = self.new_cache(n + max_new_tokens)
        logits = self.forward(input_ids[0], cache) if max_new_tokens else None
        for _ in range(max_new_tokens):
            scores = logits[None]
            for processor in processors:  # LogitsProcessorList's own call inspects signatures every step
                scores = processor(seq[:, :n], scores)
            token = scores.argmax(-1)
            seq[0, n] = token
            n += 1
            if streamer is not None:
                streamer.put(token)
            if int(token) == eos_token_id or (stopping_criteria and bool(stopping_criteria(seq[:, :n], scores).any())):
                break
            logits = self.forward(token, cache)
        if streamer is not None:
            streamer.end()
        return seq[:, :n]


def _conv1d(x: torch.Tensor, bias: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """GPT-2's Conv1D (weight stored in x out), without the module call."""
    return torch.addmm(bias, x, weight)


def decode(model: Any, lean: LeanGPT2 | None = None, **kwargs: Any) -> torch.Tensor:
    """`model.generate(**kwargs)`, or the lean loop (`lean`, else one made here) where the model fits
    it and the `local.lean` setting allows: the one choice the engine and `storyteller eval` share."""
    from storyteller.config import get_settings

    if get_settings().local.lean and (lean is not None or LeanGPT2.fits(model)):
        return (lean or LeanGPT2(model)).generate(**kwargs)
    return model.generate(**kwargs)

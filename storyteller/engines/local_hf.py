"""Local causal LMs with transformers: a folder under models/, any path, or a Hub id.

`model.generate` (or, for small GPT-2 models on CPU, the lean loop of `lean_gpt2`, twice as fast)
runs in a worker thread and streams through `TextIteratorStreamer`. Stop is real: a
`StoppingCriteria` reads the cancel event after every token, so the thread ends within a token or
two. Sampling is seeded per request (see `sampling`). Each generation runs with its own model's torch
thread count (`model_threads`), never one left by another model. Loaded models live in a small
process-wide LRU cache; loading is locked per model so two requests never load it twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (AutoModelForCausalLM, AutoTokenizer, NoBadWordsLogitsProcessor, StoppingCriteriaList,
                          TextIteratorStreamer)

from storyteller.config import get_settings
from storyteller.engines.base import Engine, Prompt
from storyteller.engines.ids import resolve_source
from storyteller.engines.lean_gpt2 import LeanGPT2, decode
from storyteller.engines.sampling import Cancelled, banned_ids, story_processors
from storyteller.errors import ModelNotFoundError, OfflineError, ServiceError, StorytellerError
from storyteller.story_cast import has_cast, pick_cast
from storyteller.story_format import (END, SlotFiller, is_storyteller_model, power_tokens, prompt_text,
                                     slot_values, story_in_slots)
from storyteller.story_opening import opening

log = logging.getLogger(__name__)
STORY_TOKENS = 900  # room a storyteller-format model always gets: cut short, a story loses its ending
TINY_PARAMS = 100_000_000  # below this, one torch thread is fastest
PROCESS_THREADS = torch.get_num_threads()  # torch's count for this machine, before any model set its own


def pick_device(setting: str = "auto") -> str:
    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _hub_reachable(timeout: float = 2.0) -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def check_hub_available(repo_id: str) -> None:
    """Fail fast, with how to fix it, when a Hub model is not cached and cannot be downloaded."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return
    if _offline() or not _hub_reachable():
        raise OfflineError(
            f"The model '{repo_id}' is not on this computer and we are offline.",
            hint=f"On a connected machine run `huggingface-cli download {repo_id}` (then copy the Hugging Face "
            f"cache here), or put the model folder under models/ and choose it by its folder name.",
        )


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    device: str
    storyteller: bool
    n_params: int
    max_positions: int | None
    lean: LeanGPT2 | None = None  # the fast decode loop, where the model fits it

    def generate(self, **kwargs: Any) -> torch.Tensor:
        """`model.generate`, or the lean GPT-2 loop with the same arguments and result."""
        return decode(self.model, self.lean, **kwargs)


class ModelCache:
    """Process-wide LRU of loaded models; one load at a time per model, others load in parallel."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    def get(self, source: str, is_hub: bool, device: str) -> Loaded:
        key = (source, device)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            load_lock = self._loading.setdefault(key, threading.Lock())
        with load_lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            loaded = _load(source, is_hub, device)
            with self._lock:
                self._items[key] = loaded
                size = max(1, get_settings().local.cache_size)
                while len(self._items) > size:
                    old, _ = self._items.popitem(last=False)
                    log.info("unloaded %s to stay within cache_size=%d", old[0], size)
                self._loading.pop(key, None)
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = ModelCache()


def _load(source: str, is_hub: bool, device: str) -> Loaded:
    try:
        if is_hub:
            check_hub_available(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
        dtype = torch.float32 if device == "cpu" else "auto"  # fp16 weights are slow on CPU
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
    except StorytellerError:
        raise
    except (OSError, ValueError) as e:
        where = f"the Hugging Face Hub id '{source}'" if is_hub else f"the folder {source}"
        raise ModelNotFoundError(
            f"Could not load a model from {where}.",
            hint="Check the name, or put a complete model folder (config.json, weights, tokenizer) under models/. "
            f"Details: {str(e).splitlines()[0][:200]}",
        ) from e
    cfg = model.config
    return Loaded(model, tokenizer, device, is_storyteller_model(cfg), sum(p.numel() for p in model.parameters()),
                  getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None),
                  LeanGPT2(model) if LeanGPT2.fits(model) else None)


class LocalHFEngine(Engine):
    """A transformers causal LM; the embedded storyteller model uses its slot format."""

    needs_key = False
    can_continue = True

    def __init__(self, model_id: str, source: str | None = None, is_hub: bool = False):
        """`source`: where to load from as `ids.route` found it; None resolves `model_id` the same way."""
        super().__init__(model_id)
        self.last_new_tokens: int | None = None  # tokens the last finished request generated (benchmarks)
        self.source, self.is_hub = (source, is_hub) if source else resolve_source(model_id)

    def load(self) -> Loaded:
        return CACHE.get(self.source, self.is_hub, pick_device(get_settings().local.device))

    def build_input(self, loaded: Loaded, prompt: Prompt) -> tuple[str, Any]:
        """(prompt text, SlotFiller or None): storyteller format, else a raw `text`, else chat template,
        else plain text; then the story so far (`prompt.prefix`), which the model continues."""
        prefix = self.prefix_text(loaded, prompt)
        if loaded.storyteller and prompt.request is not None:
            cast = self.cast(loaded, prompt)
            told = prompt.prefix or self.opening(loaded, prompt)[0]  # what the reader has before the model's text
            return prompt_text(prompt.request, cast) + prefix, SlotFiller(prompt.request, cast, told)
        if prompt.text is not None:
            return prompt.text + prefix, None
        tok = loaded.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(prompt.messages, add_generation_prompt=True, tokenize=False) + prefix, None
        return "\n\n".join(m["content"] for m in prompt.messages) + "\n\n" + prefix, None

    @staticmethod
    def cast(loaded: Loaded, prompt: Prompt) -> dict[str, str] | None:
        """The telling's monster, place, child … for a model with cast slots (story_cast.py), else None.
        Seeded by the telling, so the header and the slot filler agree; a continued story keeps its own."""
        if not (loaded.storyteller and prompt.request is not None and has_cast(loaded.tokenizer)):
            return None
        return pick_cast(prompt.request, prompt.telling_seed(), prompt.prefix)

    @classmethod
    def prefix_text(cls, loaded: Loaded, prompt: Prompt) -> str:
        """The story so far as the model writes it (a storyteller model: with its slot tokens); a new
        story from a model that learnt from the story world starts from the world's first paragraph."""
        if prompt.prefix and loaded.storyteller and prompt.request is not None:
            return story_in_slots(prompt.request, prompt.prefix, bool(power_tokens(loaded.tokenizer)),
                                  cls.cast(loaded, prompt))
        return cls.opening(loaded, prompt)[1] if not prompt.prefix else prompt.prefix

    @classmethod
    def opening(cls, loaded: Loaded, prompt: Prompt) -> tuple[str, str]:
        """(text, slot form) of the new story's first paragraph (story_opening.py), or ("", "")."""
        cast = cls.cast(loaded, prompt)
        if prompt.prefix or cast is None or not get_settings().local.world_opening:
            return "", ""
        return opening(prompt.request, cast, prompt.telling_seed())

    def generate_kwargs(self, loaded: Loaded, prompt: Prompt, text: str) -> dict[str, Any]:
        """Everything `model.generate` gets, except the streamer and stopping criteria."""
        tok, params = loaded.tokenizer, prompt.params
        inputs = tok(text, return_tensors="pt", add_special_tokens=not getattr(tok, "chat_template", None))
        max_new = params.max_new_tokens
        if loaded.storyteller:  # our models tell a whole story of their own length and end it themselves
            max_new = max(max_new, STORY_TOKENS)
        if loaded.max_positions:  # small context: keep the prompt's end, leave room for the story
            room = loaded.max_positions - min(max_new, loaded.max_positions // 2)
            if inputs["input_ids"].shape[1] > room:
                log.info("prompt cut to its last %d tokens to fit %s", room, self.model_id)
                inputs = {k: v[:, -room:] for k, v in inputs.items()}
            max_new = min(max_new, loaded.max_positions - inputs["input_ids"].shape[1])
        gen = loaded.model.generation_config
        eos = tok.convert_tokens_to_ids(END) if loaded.storyteller else (gen.eos_token_id or tok.eos_token_id)
        prefix = self.prefix_text(loaded, prompt)
        story_start = None  # a continued story: its text so far is part of the input
        if prefix:
            story_start = max(0, inputs["input_ids"].shape[1] - len(tok(prefix, add_special_tokens=False).input_ids))
        power = slot_values(prompt.request)["power"] if loaded.storyteller and prompt.request else None
        processors = story_processors(loaded.storyteller, params.temperature, params.top_p, params.seed, loaded.device,
                                      tok, prompt.request.lang if prompt.request else None, story_start, power)
        if params.banned and (bad := banned_ids(tok, params.banned)):  # before sampling picks a token
            processors.insert(0, NoBadWordsLogitsProcessor(bad, eos_token_id=eos))
        return dict(
            **{k: v.to(loaded.device) for k, v in inputs.items()},
            max_new_tokens=max_new, do_sample=False, temperature=None, top_p=None, top_k=None,
            eos_token_id=eos, pad_token_id=gen.pad_token_id or tok.pad_token_id or eos,
            logits_processor=processors,
        )

    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        loaded = self.load()
        text, filler = self.build_input(loaded, prompt)
        kwargs = self.generate_kwargs(loaded, prompt, text)
        streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True)
        left = threading.Event()  # set when the reader stops early, so the worker stops too
        stopping = StoppingCriteriaList([Cancelled(left, *([cancel] if cancel else []))])
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with model_threads(loaded), torch.inference_mode():
                    out = loaded.generate(**kwargs, streamer=streamer, stopping_criteria=stopping)
                self.last_new_tokens = int(out.shape[1] - kwargs["input_ids"].shape[1])
            except BaseException as e:  # reported to the reader below
                errors.append(e)
            finally:
                streamer.end()

        worker = threading.Thread(target=work, name=f"generate-{self.model_id}", daemon=True)
        worker.start()
        scanner = StopScanner(prompt.params.stop)
        said = [self.prefix_text(loaded, prompt)]  # the model's own words, before the filler shows them
        try:
            if first := scanner.feed(self.opening(loaded, prompt)[0]):
                yield first
            for piece in streamer:
                if filler is not None:
                    said.append(piece)
                    piece = filler.feed(piece)
                piece = scanner.feed(piece)
                if piece:
                    yield piece
                if scanner.hit:
                    return
            rest = scanner.feed(filler.flush() if filler is not None else "")
            rest = rest if scanner.hit else rest + scanner.flush()
            if rest:
                yield rest
        finally:
            left.set()
            worker.join(timeout=30)
        if errors:
            raise ServiceError("The local model stopped with an error.", hint=f"Details: {errors[0]}") from errors[0]
        if filler is not None and not (cancel is not None and cancel.is_set()):  # the whole story, as written
            prompt.record_model_text("".join(said))


class StopScanner:
    """Streams text up to the first stop string. Text that may be the start of a stop string is
    held back until the next piece shows whether it is one ("o" of "oo" is never shown early)."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.held, self.hit = "", False

    def feed(self, piece: str) -> str:
        if self.hit:
            return ""
        if not self.stops:
            return piece
        text = self.held + piece
        hits = [text.find(s) for s in self.stops if s in text]
        if hits:
            self.hit, self.held = True, ""
            return text[: min(hits)]
        keep = max((k for s in self.stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        self.held = text[len(text) - keep:] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back text, once the stream ended without a stop string."""
        out, self.held = ("" if self.hit else self.held), ""
        return out


def threads_for(loaded: Loaded) -> int | None:
    """settings.local.threads, else 1 for tiny models (thread hand-offs cost more than they save),
    else the process's own count; None off the CPU."""
    if loaded.device != "cpu":
        return None
    return get_settings().local.threads or (1 if loaded.n_params < TINY_PARAMS else PROCESS_THREADS)


def set_threads(loaded: Loaded) -> int:
    """Give the calling thread `loaded`'s torch thread count; returns the count it had, to restore."""
    before, n = torch.get_num_threads(), threads_for(loaded)
    if n and n != before:
        torch.set_num_threads(n)
    return before


@contextmanager
def model_threads(loaded: Loaded) -> Iterator[None]:
    """`loaded`'s thread count for one generation, restored after it. Torch keeps a count per thread
    once set, but a new thread starts with the last count set anywhere, so a count left behind by a
    tiny model's warm-up would otherwise hold every later (larger) model to one thread."""
    before = set_threads(loaded)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)

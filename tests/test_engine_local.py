"""Local transformers engine on tiny random GPT-2s built from configs (and the shipped model if present)."""

from __future__ import annotations

from collections import OrderedDict
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from storyteller.engines.base import Prompt
from storyteller.engines.local_hf import CACHE, LocalHFEngine
from storyteller.engines.sampling import SeededSampler
from storyteller.errors import ModelNotFoundError, OfflineError
from storyteller.paths import DEFAULT_MODEL_DIR
from storyteller.prompts import StoryRequest
from tests.fakes.tiny_model import build_tiny_model

REQ = StoryRequest(dynasty="唐", power="隐形", style="轻松")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_tiny_model(root / "tiny", seed=0)
    build_tiny_model(root / "tiny-st", storyteller=True, seed=1)
    build_tiny_model(root / "tiny-chat", chat_template=True, seed=2)
    return root


@pytest.fixture
def local_env(settings_env, models_dir, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_LOCAL__MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    yield models_dir
    get_settings.cache_clear()


def run(engine, seed=1, n=40, cancel=None, **kw):
    return list(engine.stream(Prompt.for_story(kw.pop("req", REQ), max_new_tokens=n, seed=seed, **kw), cancel))


def test_many_chunks_stream_and_same_seed_repeats(local_env):
    engine = LocalHFEngine("tiny")
    chunks = run(engine, seed=7, n=120)
    assert len(chunks) >= 10 and all(chunks)
    assert run(engine, seed=7, n=120) == chunks
    assert run(engine, seed=8, n=120) != chunks


def test_seeds_do_not_touch_global_rng(local_env):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run(LocalHFEngine("tiny"), seed=5, n=20)
    assert torch.equal(torch.rand(3), expected)


def test_stop_cancels_within_a_few_tokens(local_env):
    engine = LocalHFEngine("tiny")
    loaded = engine.load()
    cancel = threading.Event()
    got = []
    for chunk in engine.stream(Prompt.for_story(REQ, max_new_tokens=200, seed=3), cancel):
        got.append(chunk)
        if len(got) == 3:
            cancel.set()
    shown = len(loaded.tokenizer("".join(got), add_special_tokens=False)["input_ids"])
    assert engine.last_new_tokens is not None and engine.last_new_tokens - shown <= 12
    assert engine.last_new_tokens < 200
    assert not [t for t in threading.enumerate() if t.name == "generate-tiny"]  # worker ended


def test_reader_leaving_early_ends_the_worker(local_env):
    stream = LocalHFEngine("tiny").stream(Prompt.for_story(REQ, max_new_tokens=200, seed=3))
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "generate-tiny"]


def test_concurrent_requests_never_mix(local_env):
    engine_a, engine_b = LocalHFEngine("tiny"), LocalHFEngine("tiny-chat")
    jobs = [(engine_a, 11), (engine_a, 12), (engine_b, 13), (engine_a, 11)]
    sequential = ["".join(run(e, seed=s, n=50)) for e, s in jobs]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda j: "".join(run(j[0], seed=j[1], n=50)), jobs))
    assert concurrent == sequential
    assert sequential[0] == sequential[3] and sequential[0] != sequential[1]


def fresh_thread_threads() -> int:
    """The torch thread count a new thread starts with (what any later generation would inherit)."""
    import torch

    got: list[int] = []
    worker = threading.Thread(target=lambda: got.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    return got[0]


def test_each_model_generates_with_its_own_thread_count(local_env, tmp_path, monkeypatch):
    """The app warms a tiny model up on one thread; a larger model told after it must not inherit
    that. The count is read inside each generation (a logits processor runs on its thread)."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    from storyteller import studio
    from storyteller.engines import local_hf, registry

    class Record(LogitsProcessor):
        def __call__(self, input_ids, scores):
            seen[-1].add(torch.get_num_threads())
            return scores

    real = local_hf.story_processors
    monkeypatch.setattr(local_hf, "story_processors", lambda *a, **k: LogitsProcessorList([Record(), *real(*a, **k)]))
    monkeypatch.setattr(local_hf, "PROCESS_THREADS", 3)  # as on a machine where torch picks 3 threads
    larger = LocalHFEngine("larger", source=str(build_tiny_model(tmp_path / "larger", n_embd=64)))
    monkeypatch.setattr(local_hf, "TINY_PARAMS", larger.load().n_params)  # "tiny" stops just below it
    assert LocalHFEngine("tiny").load().n_params < local_hf.TINY_PARAMS
    before = fresh_thread_threads()

    seen: list[set[int]] = [set()]
    monkeypatch.setattr(registry, "_engines", OrderedDict())  # the warm-up finds "tiny" in this test's models folder
    studio.warm_up("tiny")
    for engine in (larger, LocalHFEngine("tiny"), larger):
        seen.append(set())
        run(engine, n=5)
    assert seen == [{1}, {3}, {1}, {3}]
    assert fresh_thread_threads() == before  # nothing a generation set outlives it


def test_storyteller_format_fills_slots(local_env):
    from storyteller.story_format import SLOT_TOKENS

    engine = LocalHFEngine("tiny-st")
    loaded = engine.load()
    assert loaded.storyteller
    text, filler = engine.build_input(loaded, Prompt.for_story(REQ))
    assert filler is not None and text.endswith("<|story|>") and "唐" in text
    out = "".join(run(engine, seed=2, n=120))
    assert out and not any(s in out for s in SLOT_TOKENS)


def test_prompt_choice_chat_template_and_plain(local_env):
    chat = LocalHFEngine("tiny-chat")
    text, filler = chat.build_input(chat.load(), Prompt.for_story(REQ))
    assert text.startswith("[system] ") and text.endswith("[assistant] ") and filler is None
    plain = LocalHFEngine("tiny")
    text, _ = plain.build_input(plain.load(), Prompt.for_story(REQ))
    assert "[system]" not in text and "唐" in text


def test_greedy_ignores_the_seed(local_env):
    engine = LocalHFEngine("tiny")
    assert run(engine, n=60, temperature=0.0) == run(engine, n=60, temperature=0.0, seed=99)


def test_stop_string_across_chunks_is_never_shown(local_env):
    """The stop string starts at the end of one streamed chunk and ends in the next: whatever the
    random weights write on this CPU, the chunks are read first and the stop is built from them."""
    engine = LocalHFEngine("tiny")
    chunks = run(engine, n=60, temperature=0.0, seed=3)
    full = "".join(chunks)
    for i in range(1, len(chunks)):
        at = len("".join(chunks[:i]))
        stop = full[at - 1 : at + 1]
        if full.index(stop) == at - 1:  # its first occurrence straddles the boundary
            break
    else:
        pytest.skip("no chunk boundary starts a new two-character string")
    cut = "".join(run(engine, n=60, temperature=0.0, seed=3, stop=[stop]))
    assert cut == full[: at - 1]


@pytest.mark.parametrize("pieces,stops,shown", [
    (["yyy", "yyo", "ooo"], ["oo"], "yyyyy"),  # the first "o" is held back, then dropped
    (["ab", "c"], ["abd"], "abc"),  # held back, then shown once it is not a stop
    (["x<", "|end"], ["<|end|>"], "x<|end"),  # held to the end of the stream, then shown
    (["hello"], [], "hello"),
    (["a", "stop", "more"], ["st", "stop"], "a"),  # the earliest stop wins
])
def test_stop_scanner(pieces, stops, shown):
    from storyteller.engines.local_hf import StopScanner

    scanner = StopScanner(stops)
    out = "".join(scanner.feed(p) for p in pieces)
    assert out + scanner.flush() == shown


def test_cache_is_lru_and_loads_once(local_env, monkeypatch):
    from storyteller.config import get_settings

    monkeypatch.setenv("STORYTELLER_LOCAL__CACHE_SIZE", "1")
    get_settings.cache_clear()
    CACHE.clear()
    with ThreadPoolExecutor(3) as pool:
        loads = list(pool.map(lambda _: LocalHFEngine("tiny").load(), range(3)))
    assert loads[0] is loads[1] is loads[2]
    LocalHFEngine("tiny-chat").load()
    assert LocalHFEngine("tiny").load() is not loads[0]  # evicted, then loaded again


def test_sampler_top_p_keeps_only_the_nucleus():
    import torch

    scores = torch.tensor([[5.0, 4.9, -10.0, -10.0]])
    picks = {int(SeededSampler(s, 1.0, 0.9, "cpu")(None, scores).argmax()) for s in range(30)}
    assert picks == {0, 1}


def test_offline_hub_id_fails_fast_with_how_to(settings_env):
    start = time.monotonic()
    with pytest.raises(OfflineError) as err:
        LocalHFEngine("no-such-org/no-such-model-xyz").load()
    assert "huggingface-cli download no-such-org/no-such-model-xyz" in str(err.value)
    assert "models/" in str(err.value)
    assert time.monotonic() - start < 30  # generous: offline must not sit in download retries


def test_invalid_hub_id_is_friendly(settings_env):
    with pytest.raises(ModelNotFoundError):
        LocalHFEngine("bad--name/x..y").load()


def test_broken_local_folder_is_friendly(local_env, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelNotFoundError):
        LocalHFEngine("broken", source=str(tmp_path / "broken")).load()


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "config.json").exists(), reason="models/storyteller-tiny not built")
def test_shipped_model_streams_a_story_with_the_hero(settings_env):
    engine = LocalHFEngine(DEFAULT_MODEL_DIR.name, source=str(DEFAULT_MODEL_DIR))
    chunks = run(engine, seed=1, n=200)
    text = "".join(chunks)
    assert len(chunks) > 20 and "<|" not in text
    assert "李白" in text or "唐" in text


def test_lean_loop_and_model_generate_tell_the_same_story(local_env, monkeypatch):
    from storyteller.config import get_settings

    engine = LocalHFEngine("tiny-st")
    assert engine.load().lean is not None
    lean = run(engine, seed=3, n=80, temperature=0.9)
    monkeypatch.setenv("STORYTELLER_LOCAL__LEAN", "false")
    get_settings.cache_clear()
    assert run(engine, seed=3, n=80, temperature=0.9) == lean


def test_a_storyteller_model_always_gets_room_for_its_whole_story(local_env):
    """A short asked length must not cut a storyteller-format story before its ending."""
    from storyteller.engines.local_hf import STORY_TOKENS

    engine = LocalHFEngine("tiny-st")
    loaded = engine.load()
    prompt = Prompt.for_story(REQ, max_new_tokens=10)
    text, _ = engine.build_input(loaded, prompt)
    kwargs = engine.generate_kwargs(loaded, prompt, text)
    assert kwargs["max_new_tokens"] == min(STORY_TOKENS, loaded.max_positions - kwargs["input_ids"].shape[1])
    plain = LocalHFEngine("tiny")
    p2 = Prompt.for_story(REQ, max_new_tokens=10)
    assert plain.generate_kwargs(plain.load(), p2, plain.build_input(plain.load(), p2)[0])["max_new_tokens"] == 10


def test_the_warm_up_reads_the_first_pieces_of_a_story_and_stops_the_engine(settings_env, monkeypatch):
    """A storyteller tells a whole story whatever max_new_tokens says: the app's warm-up must not wait
    for it (it held every start for seconds), only for the model's first steps, then stop the engine."""
    from storyteller import studio

    class Telling:
        read, closed = 0, False

        def load(self):
            return self

        def stream(self, prompt, cancel=None):
            try:
                for _ in range(500):
                    self.read += 1
                    yield "字"
            finally:
                self.closed = True

    engine = Telling()
    monkeypatch.setattr(studio, "_get_engine", lambda model_id: engine)
    studio.warm_up("any")
    assert engine.read == studio.WARM_UP_PIECES and engine.closed

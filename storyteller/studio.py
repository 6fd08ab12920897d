"""Telling one story, for the web app and the CLI alike: raw choices -> request -> streamed chunks,
with timing, and saved to the store when it ends (finished, stopped or failed), so nothing is lost.

    run = tell(build_request("唐", "隐形", "轻松"), "storyteller-tiny")
    for chunk in run: print(chunk, end="")     # read-aloud wraps this same loop
    run.status, run.story_id, run.stats_line()

Each chunk is a whole sentence that passed the safety check (`storyteller.safety.guard`): the
sentence being written is held back until it ends, and a blocked one is told again or the story
ends kindly, so what is shown, read aloud and saved is only what was checked.

No gradio here; the UI handlers only call these functions.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from storyteller.catalog import get_catalog, parse_band
from storyteller.config import get_settings
from storyteller.engines.base import TEMPERATURE, Engine, Prompt, Response
from storyteller.errors import InputError, StorytellerError
from storyteller.prompts import StoryRequest
from storyteller.safety import age
from storyteller.safety.guard import Checker, StoryGuard
from storyteller.safety.moderation import Moderator
from storyteller.safety.inputs import guard_fields, warm_up as warm_up_inputs
from storyteller.store import Store

log = logging.getLogger(__name__)

RAW_MAX = 200  # characters kept from any raw field before cleaning (cleaning caps further)
MODEL_ID_MAX = 300  # a longer id names nothing; shown back at most this long
LENGTH_MIN, LENGTH_MAX, LENGTH_DEFAULT = 50, 1500, 300
TOKENS_PER_UNIT = {"zh": 1.3, "en": 1.8}  # tokens per zh character / en word, roughly
LANG_NAMES = {"中文": "zh", "zh": "zh", "chinese": "zh", "english": "en", "en": "en"}


def parse_lang(value: object) -> str:
    """'中文', 'zh', 'English', 'en' -> 'zh' | 'en'; anything else is a friendly error."""
    lang = LANG_NAMES.get(str(value or "zh").strip().lower())
    if lang is None:
        raise InputError("Language must be 中文 (zh) or English (en). 语言请选择中文或English。")
    return lang


def parse_length(value: object) -> int:
    if value in (None, ""):
        return LENGTH_DEFAULT
    try:
        length = int(float(str(value).strip()))
    except ValueError:
        raise InputError("Length must be a number, like 300. 长度请填一个数字，比如300。") from None
    return max(LENGTH_MIN, min(LENGTH_MAX, length))


def build_request(dynasty: object, power: object, style: object, lang: object = "zh",
                  length: object = None, hero: object = None, age_band: object = None) -> StoryRequest:
    """A StoryRequest from whatever the UI or CLI received: presets in either language or typed
    values, cleaned and capped; presets are named in the story's language. The age band (default
    6-8) holds the length to its range; no length asked: the band's own."""
    lang = parse_lang(lang)
    band = parse_band(age_band)
    if band is None:
        raise InputError("The age band must be 3-5, 6-8 or 9-12. 年龄段请选择3-5岁、6-8岁或9-12岁。")
    length = age.length_for(band, None if length in (None, "") else parse_length(length))
    catalog = get_catalog()
    raws = {kind: "" if raw is None else str(raw)[:RAW_MAX]
            for kind, raw in (("dynasty", dynasty), ("power", power), ("style", style), ("hero", hero))}
    guard_fields(raws, lang)  # typed values a child should not see stop here, before any model
    fields = {}
    for kind in ("dynasty", "power", "style"):
        text = raws[kind]
        fields[kind] = catalog.translate(kind, text, lang) if text.strip() else ""
    try:
        return StoryRequest(**fields, lang=lang, length=length, age_band=band,
                            hero=None if hero is None else str(hero)[:RAW_MAX])
    except ValidationError as e:
        raise InputError(f"Please check your choices: {e.errors()[0].get('msg', 'invalid value')}.") from None


def max_tokens_for(req: StoryRequest) -> int:
    """Enough tokens for the asked length plus an ending, within what engines accept."""
    return max(64, min(4096, int(req.length * TOKENS_PER_UNIT[req.lang]) + 64))


def model_choices(lang: str | None = None) -> list[tuple[str, str]]:
    """(label, model id) pairs for the picker, the default model first (listed even before it is built,
    so choosing it explains how to get it). With `lang`, a model's card may give a friendly name."""
    from storyteller.engines.registry import list_models

    default = get_settings().local.default_model
    pairs = [((m.names.get(lang) if lang else None) or m.label or m.id, m.id) for m in list_models()]
    first = [p for p in pairs if p[1] == default] or [(default, default)]
    return first + [p for p in pairs if p[1] != default]


def model_name(model_id: str, lang: str) -> str:
    """A local model's friendly name in `lang` (its card's `friendly_name`), else its id."""
    from storyteller.engines.registry import card_names

    if not model_id or "/" in model_id or model_id.startswith("."):
        return model_id
    return card_names(Path(get_settings().local.models_dir) / model_id).get(lang) or model_id


WARM_UP_PIECES = 3  # pieces of the warm-up story read: the world's opening, then the model's first tokens


def warm_up(model_id: str | None = None) -> None:
    """Load a local model ahead of the first story (the first child should not wait for imports
    and weights). Remote models are left alone: warming them would cost a request."""
    warm_up_inputs()  # the typed-value vocabulary, so the first typed word does not wait a second
    try:
        engine = _get_engine(model_id or get_settings().local.default_model)
        if callable(getattr(engine, "load", None)):  # local: load weights, run the first (slow) steps
            # A storyteller tells a whole story whatever max_new_tokens says, which would hold the app's
            # start for seconds: stop once the model has written (the first piece may be the opening).
            pieces = engine.stream(Prompt.for_story(build_request("唐", "隐形", "轻松"), max_new_tokens=2))
            for i, _ in enumerate(pieces):
                if i >= WARM_UP_PIECES - 1:
                    break
            if callable(close := getattr(pieces, "close", None)):
                close()  # the engine stops its worker
    except StorytellerError as e:
        log.info("no warm-up: %s", e)


def _get_engine(model_id: str) -> Engine:
    from storyteller.engines.registry import get_engine

    return get_engine(model_id)


class StoryRun:
    """One story being told. Iterate it for text chunks; afterwards `status` is done, stopped or
    error, `story_id` is its row in the store, and timing comes from the engine's Response."""

    def __init__(self, request: StoryRequest, model_id: str, params: dict, cancel: threading.Event | None = None,
                 store: Store | None = None, save: bool = True, engine: Engine | None = None):
        self.request, self.model_id, self.params, self.engine = request, model_id, params, engine
        self.cancel = cancel or threading.Event()
        self.store, self.save = store, save
        self.chunks: list[str] = []
        self.status = "pending"  # running | done | stopped | error
        self.error: str | None = None
        self.story_id: int | None = None
        self.response: Response | None = None  # the engine's first; `responses` has every one
        self.responses: list[Response] = []  # more than one when a blocked sentence was told again
        self.guard: StoryGuard | None = None  # what the safety check saw and blocked
        self._gen: Iterator[str] | None = None
        self.finished = threading.Event()  # set once the story has ended and been saved

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def __iter__(self) -> Iterator[str]:
        if self._gen is None:
            self._gen = self._stream()
        return self._gen

    def close(self) -> None:
        """End the story now (the consumer went away): stop the engine, keep and save the text."""
        self.cancel.set()
        if self._gen is not None:
            self._gen.close()
        elif self.status == "pending":
            self.status = "stopped"
            self.finished.set()

    def _stream(self) -> Iterator[str]:
        self.status = "running"
        pieces: Iterator[str] | None = None
        try:
            engine = self.engine or _get_engine(self.model_id)
            self.model_id = getattr(engine, "model_id", self.model_id)
            lang = self.request.lang
            self.guard = StoryGuard(lang, Checker(lang, Moderator.from_settings()), can_continue=engine.can_continue,
                                    stopped=self.cancel.is_set)
            pieces = self.guard.run(lambda told, banned: self._open(engine, told, banned))
            for chunk in pieces:  # checked sentences only: what is shown is what is read aloud and saved
                self.chunks.append(chunk)
                yield chunk
                if self.cancel.is_set():
                    break
            self.status = "stopped" if self.cancel.is_set() else "done"
        except GeneratorExit:
            self.cancel.set()
            self.status = "stopped"
            raise
        except StorytellerError as e:
            self.status, self.error = "error", str(e)
        except Exception as e:  # an engine bug must not cost the child the story so far
            log.exception("story generation failed")
            self.status = "error"
            self.error = f"Something went wrong while telling the story ({type(e).__name__}). The text so far is kept."
        finally:
            if pieces is not None:
                pieces.close()  # stops the engine when the story ended early
            if self.status == "running":
                self.status = "stopped"
            self._save()
            self.finished.set()

    def _open(self, engine: Engine, told: str, banned: list[str]) -> Response:
        """The story, or after a blocked sentence the rest of it: from `told`, without `banned` words."""
        prompt = Prompt.for_story(self.request, **self.params, banned=banned).model_copy(update={"prefix": told})
        response = engine.prompt(prompt, self.cancel)
        self.responses.append(response)
        self.response = self.response or response
        return response

    def _save(self) -> None:
        if not self.save or (self.status == "error" and not self.chunks):
            return
        r = self.response
        try:
            store = self.store or Store()
            self.story_id = store.save_story(
                self.model_id, self.request.model_dump(), self.text, self.status,
                ttft_s=r.ttft_s if r else None, tokens=self.stats()["tokens"] if r else None,
                tokens_per_s=r.tokens_per_s if r else None, error=self.error,
                safety=[e.model_dump(exclude={"reason"}) for e in self.guard.events] if self.guard else None,
                model_text=self.model_text())
        except (sqlite3.Error, OSError) as e:
            log.error("could not save the story: %s", e)
            self.error = self.error or f"The story could not be saved ({e}); copy it before closing."

    def model_text(self) -> str | None:
        """The story in the model's own words, kept when it was told whole: finished, and nothing in it
        blocked (a blocked sentence's words stay out of everything kept)."""
        if self.status != "done" or not self.responses or (self.guard and self.guard.events):
            return None
        return self.responses[-1].prompt.model_text

    def stats(self) -> dict:
        r = self.response
        return {"model": self.model_id, "status": self.status, "ttft_s": r.ttft_s if r else None,
                "tokens": sum(x.tokens for x in self.responses), "tokens_per_s": r.tokens_per_s if r else None,
                "story_id": self.story_id, "age_band": self.request.age_band,
                "blocked": self.guard.counts() if self.guard else {}}

    def grade(self) -> age.Grade | None:
        """The story's vocabulary grade for its age band (names left out)."""
        req = self.request
        return age.grade(self.text, req.lang, req.age_band, (req.resolved_hero(), req.dynasty, req.power))

    def stats_line(self, lang: str = "zh") -> str:
        s = self.stats()
        ttft = f"{s['ttft_s']:.2f} s" if s["ttft_s"] is not None else "–"
        tps = f"{s['tokens_per_s']:.1f}" if s["tokens_per_s"] is not None else "–"
        if lang == "en":
            state = {"done": "finished", "stopped": "stopped, text kept", "error": "stopped by a problem"}
            return (f"first token {ttft} · {tps} tokens/s · model {s['model']}" + self._story_notes(lang)
                    + (f" · {state[s['status']]}" if s["status"] in state else ""))
        state = {"done": "讲完啦", "stopped": "已停止，故事已保存", "error": "出了点问题"}
        return (f"首字用时 {ttft} · 每秒 {tps} tokens/s · 模型 {s['model']}" + self._story_notes(lang)
                + (f" · {state[s['status']]}" if s["status"] in state else ""))

    def _story_notes(self, lang: str) -> str:
        """ · age band · vocabulary grade · sentences the safety check replaced (if any)."""
        notes = [age.band(self.request.age_band).label(lang)]
        if self.status != "pending" and (g := self.grade()) is not None:
            notes.append(g.line())
        if n := sum(self.stats()["blocked"].values()):
            notes.append(f"{n} sentence(s) replaced by the safety check" if lang == "en" else f"安全检查替换了{n}句")
        return "".join(f" · {x}" for x in notes)


def tell(request: StoryRequest, model_id: str | None = None, *, temperature: float = TEMPERATURE, seed: int | None = None,
         max_new_tokens: int | None = None, cancel: threading.Event | None = None, store: Store | None = None,
         save: bool = True, engine: Engine | None = None, cast_seed: int | None = None) -> StoryRun:
    """Prepare a story run (nothing is generated until it is iterated). `engine` overrides the
    registry's engine for `model_id` (benchmarks, tests); `cast_seed`: see GenerationParams."""
    try:
        temperature = max(0.0, min(2.0, float(temperature)))
    except (TypeError, ValueError):
        raise InputError("Temperature must be a number between 0 and 2. 温度请填0到2之间的数字。") from None
    params = {"temperature": temperature, "max_new_tokens": max_new_tokens or max_tokens_for(request), "seed": seed,
              "cast_seed": cast_seed}
    model = (model_id or "").strip()[:MODEL_ID_MAX] or get_settings().local.default_model
    return StoryRun(request, model, params, cancel=cancel, store=store, save=save, engine=engine)

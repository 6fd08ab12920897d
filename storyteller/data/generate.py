"""Generate a story dataset with any model: concurrent, retried, resumable, costed.

    storyteller data generate --model gpt-4o-mini --dynasty 唐 --dynasty 宋 --repeats 2 --out stories.csv

The plan is every (dynasty, power, style) x repeats. Requests run on a thread pool of
`concurrency` workers (engines are sync iterators). Each story is appended to the output the
moment it is complete (flush + fsync), so Stop, Ctrl-C or a crash loses at most the stories in
flight; the next run with the same output skips what is there (see storefile.py).

Retries: the OpenAI engine already retries 429/5xx before the first chunk, quickly. On top we
retry a whole item, with a longer exponential backoff, when the engine gives up, the stream
breaks midway or the text comes back empty. An item that still fails is reported in
`GenerateResult.failed` (and is retried by the next run), never silently dropped. A wrong key
or unknown model stops the whole run: every other item would fail the same way.
"""

from __future__ import annotations

import hashlib
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from storyteller.catalog import get_catalog
from storyteller.data import pricing
from storyteller.data import tokens as tok
from storyteller.data.storefile import Key, StoryFile
from storyteller.engines.base import Engine, GenerationParams, Prompt
from storyteller.engines.world import WORLD_ID, WorldEngine
from storyteller.errors import (AuthError, GenerationStopped, InputError, ModelNotFoundError, QuotaError,
                                ServiceError, StorytellerError)
from storyteller.prompts import LEGACY_STOP, SYSTEM_PROMPT, Lang, StoryRequest
from storyteller.safety import check_text

PLACEHOLDERS = ("dynasty", "power", "style", "hero", "fact", "length")
DEFAULT_TEMPLATE = {
    "zh": "请给5到10岁的孩子写一个大约{length}字的故事：{dynasty}朝的真实历史人物{hero}穿越到今天，"
          "获得了「{power}」的超能力，和奥特曼一起打败怪兽。故事风格：{style}。"
          "故事里自然地讲出这个真实小知识：{fact}只有卡通式的战斗，不吓人，结尾温暖。",
    "en": "Write a story of about {length} words for children aged 5 to 10: {hero}, a real person from "
          "the {dynasty} dynasty, travels to today, gains the superpower '{power}' and helps Ultraman "
          "defeat a monster. Style: {style}. Weave in this true fact: {fact} Cartoon battles only, nothing "
          "scary, a warm ending.",
}
FACT_SENTENCE = {"zh": "故事里自然地讲出这个真实小知识：{fact}", "en": "Weave in this true fact: {fact} "}
FATAL = (AuthError, ModelNotFoundError, InputError)
MAX_STORIES = 5000  # one run at most (the web app's public mode asks for fewer: settings.public.max_stories)
TEMPLATE_MAX = 4000  # characters


class GenerateSpec(BaseModel):
    """What to generate. Lists hold catalog names or typed values (cleaned like the story form)."""

    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(description="An engine id, or 'world' to compose stories offline from the story world.")
    dynasties: list[str] = Field(min_length=1, max_length=500)
    powers: list[str] = Field(min_length=1, max_length=500)
    styles: list[str] = Field(min_length=1, max_length=500)
    repeats: int = Field(1, ge=1, le=100)
    lang: Lang = "zh"
    template: str | None = Field(None, description="User message with {dynasty} {power} {style} {hero} {fact} "
                                 "{length}; None uses DEFAULT_TEMPLATE.")
    concurrency: int = Field(4, ge=1, le=64)
    max_attempts: int = Field(3, ge=1, le=10, description="Tries per story, on top of the engine's own retries.")
    backoff_s: float = Field(1.0, ge=0, description="First wait between tries; doubles each time (max 30 s).")
    length: int = Field(300, ge=50, le=1500)
    temperature: float = Field(0.9, ge=0, le=2)
    max_new_tokens: int = Field(900, ge=16, le=4096)
    max_stories: int = Field(MAX_STORIES, ge=1, le=MAX_STORIES, description="Refuse a plan with more stories.")


@dataclass(frozen=True)
class Item:
    dynasty: str
    power: str
    style: str
    repeat: int

    @property
    def key(self) -> Key:
        return (self.dynasty, self.power, self.style)


@dataclass
class Progress:
    done: int
    total: int
    failed: int
    skipped: int
    elapsed_s: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    last: str = ""

    @property
    def eta_s(self) -> float | None:
        left = self.total - self.done - self.failed
        return self.elapsed_s / self.done * left if self.done else None

    def line(self) -> str:
        eta = f"{self.eta_s:.0f}s" if self.eta_s is not None else "?"
        cost = f"${self.cost_usd:.4f}" if self.cost_usd is not None else "n/a"
        return (f"{self.done}/{self.total} stories, {self.failed} failed, ETA {eta}, "
                f"tokens {self.prompt_tokens}+{self.completion_tokens}, cost {cost}")


class Failure(BaseModel):
    dynasty: str
    power: str
    style: str
    repeat: int
    error: str


class GenerateResult(BaseModel):
    path: Path
    planned: int
    written: int
    skipped: int
    failed: list[Failure] = Field(default_factory=list)
    stopped: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    elapsed_s: float = 0.0
    repaired_tail: Path | None = None


class EmptyStory(ServiceError):
    """The model answered with no text; worth another try."""


class UnsafeStory(ServiceError):
    """The story is not safe for children (storyteller.safety); asked again at once, never written."""


def _wait(spec: GenerateSpec):
    backoff = wait_exponential(multiplier=spec.backoff_s, max=30)
    return lambda state: 0 if isinstance(state.outcome.exception(), UnsafeStory) else backoff(state)


def check_template(template: str) -> str:
    """The template, or InputError: only bare placeholders, like {dynasty}, are filled. A format spec
    (`{length:>999999999}` would build a gigabyte per story), a conversion (`!r`), an attribute or an
    index (`{dynasty.__class__}`, `{hero[0]}`) is refused, and so is an unknown name."""
    use = f"Use only {', '.join('{' + p + '}' for p in PLACEHOLDERS)}, written just like that."
    if not isinstance(template, str) or len(template) > TEMPLATE_MAX:
        raise InputError(f"The prompt template is too long (at most {TEMPLATE_MAX} characters). "
                         f"写作提示最多 {TEMPLATE_MAX} 个字。")
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise InputError(f"The prompt template is not valid ({e}). 写作提示的大括号不对。",
                         "Write braces as {{ and }}.") from None
    unknown = sorted({f for f, spec, conv in fields if f not in PLACEHOLDERS or spec or conv}, key=str)
    if unknown:
        shown = ", ".join("{" + (f[:30] or "") + "}" for f in unknown[:5])
        raise InputError(f"The prompt template has placeholders we cannot fill: {shown}. "
                         f"写作提示里只能用 {{dynasty}} 这样的占位符，不能加格式。", use)
    if any(spec or conv for _, spec, conv in fields):
        raise InputError("The prompt template's placeholders may not carry a format. 占位符不能加格式。", use)
    return template


def plan(spec: GenerateSpec) -> list[Item]:
    """Every cleaned, de-duplicated combination x repeats, in a stable order."""
    def uniq(values: list[str], kind: str) -> list[str]:
        out = []
        for v in values:
            req = StoryRequest(**{"dynasty": "x", "power": "x", "style": "x", kind: v})  # cleans, rejects empty
            if getattr(req, kind) not in out:
                out.append(getattr(req, kind))
        return out
    ds, ps, ss = uniq(spec.dynasties, "dynasty"), uniq(spec.powers, "power"), uniq(spec.styles, "style")
    if (n := len(ds) * len(ps) * len(ss) * spec.repeats) > spec.max_stories:
        raise InputError(f"That asks for {n:,} stories; one run makes at most {spec.max_stories:,}. "
                         f"一次最多生成 {spec.max_stories:,} 个故事。",
                         "Choose fewer dynasties, powers, styles or repeats, and run again for more.")
    return [Item(d, p, s, r) for d in ds for p in ps for s in ss for r in range(spec.repeats)]


def build_prompt(spec: GenerateSpec, item: Item) -> Prompt:
    req = StoryRequest(dynasty=item.dynasty, power=item.power, style=item.style, lang=spec.lang,
                       length=spec.length)
    hero = req.resolved_hero() or ("一位历史人物" if spec.lang == "zh" else "a hero")
    cat = get_catalog()
    fields = {"dynasty": cat.translate("dynasty", item.dynasty, spec.lang),
              "power": cat.translate("power", item.power, spec.lang),
              "style": cat.translate("style", item.style, spec.lang),
              "hero": hero, "fact": req.hero_fact() or "", "length": spec.length}
    template = spec.template or DEFAULT_TEMPLATE[spec.lang]
    if not fields["fact"] and not spec.template:  # no fact for this hero at this age band: no fact sentence
        template = template.replace(FACT_SENTENCE[spec.lang], "")
    user = check_template(template).format(**fields)
    seed = None
    if spec.model_id == WORLD_ID:  # the same dataset every time: a seed per combination and repeat
        seed = int(hashlib.sha1(f"{spec.lang}|{item.dynasty}|{item.power}|{item.style}|{item.repeat}"
                                .encode()).hexdigest()[:8], 16)
    params = GenerationParams(temperature=spec.temperature, max_new_tokens=spec.max_new_tokens, seed=seed)
    return Prompt(messages=[{"role": "system", "content": SYSTEM_PROMPT[spec.lang]},
                            {"role": "user", "content": user}], request=req, params=params)


def _fatal(e: BaseException) -> bool:
    """Errors every other story would hit too: a wrong key, a missing model, no credit left."""
    return isinstance(e, FATAL) or (isinstance(e, QuotaError) and "insufficient_quota" in str(e))


def _retryable(e: BaseException) -> bool:
    return isinstance(e, (QuotaError, ServiceError, ConnectionError, TimeoutError)) and not isinstance(
        e, GenerationStopped) and not _fatal(e)


def _tell(engine: Engine, prompt: Prompt, spec: GenerateSpec, cancel: threading.Event) -> str:
    """One story, retried with exponential backoff; backoff waits end early on cancel."""
    for attempt in Retrying(stop=stop_after_attempt(spec.max_attempts), reraise=True,
                            wait=_wait(spec), retry=retry_if_exception(_retryable), sleep=lambda s: cancel.wait(s)):
        with attempt:
            if cancel.is_set():
                raise GenerationStopped("Stopped.")
            text = "".join(engine.stream(prompt, cancel))
            if cancel.is_set():
                raise GenerationStopped("Stopped.")  # a story cut short is never written
            text = text.split(LEGACY_STOP)[0].strip()
            if not text:
                raise EmptyStory("The model returned an empty story.")
            if (verdict := check_text(text, spec.lang)) is not None:  # the text itself is never reported
                raise UnsafeStory(f"The story was not safe for children ({verdict.category}) "
                                  f"after {attempt.retry_state.attempt_number} tries; it was not written.")
            return text
    raise AssertionError("unreachable")


def generate(spec: GenerateSpec, out: Path, engine: Engine | None = None, cancel: threading.Event | None = None,
             on_progress: Callable[[Progress], None] | None = None) -> GenerateResult:
    """Run (or resume) a generation into `out` (.csv or .jsonl). Returns what happened."""
    if spec.template:
        check_template(spec.template)
    items = plan(spec)
    if engine is None and spec.model_id == WORLD_ID:
        engine = WorldEngine()
    elif engine is None:
        from storyteller.engines.registry import get_engine

        engine = get_engine(spec.model_id)
    cancel = cancel or threading.Event()
    t0 = time.perf_counter()
    with StoryFile(out) as sf:
        seen: dict[Key, int] = {}
        todo = []
        for it in items:  # the first `done[key]` repeats of each combination are already written
            seen[it.key] = seen.get(it.key, 0) + 1
            if seen[it.key] > sf.done[it.key]:
                todo.append(it)
        res = GenerateResult(path=Path(out), planned=len(items), written=0, skipped=len(items) - len(todo),
                             repaired_tail=sf.repaired_tail,
                             cost_usd=0.0 if pricing.price_for(spec.model_id) else None)

        def report(last: str = "") -> None:
            if on_progress:
                on_progress(Progress(res.written, len(todo), len(res.failed), res.skipped,
                                     time.perf_counter() - t0, res.prompt_tokens, res.completion_tokens,
                                     res.cost_usd, last))

        def work(it: Item) -> tuple[Prompt, str]:
            prompt = build_prompt(spec, it)
            return prompt, _tell(engine, prompt, spec, cancel)

        report()
        fatal: StorytellerError | None = None
        pool = ThreadPoolExecutor(max_workers=spec.concurrency, thread_name_prefix="datagen")
        try:
            futures = {pool.submit(work, it): it for it in todo}
            for fut in as_completed(futures):
                it = futures[fut]
                try:
                    prompt, story = fut.result()
                except GenerationStopped:
                    continue
                except Exception as e:  # noqa: BLE001  (reported per item, retried by the next run)
                    if _fatal(e):
                        fatal = fatal or e
                        cancel.set()
                        continue
                    res.failed.append(Failure(dynasty=it.dynasty, power=it.power, style=it.style,
                                              repeat=it.repeat, error=str(e) or type(e).__name__))
                    report()
                    continue
                sf.write(it.key, story, {"lang": spec.lang, "hero": prompt.request.resolved_hero(),
                                         "model": spec.model_id})
                res.written += 1
                res.prompt_tokens += tok.count_messages(prompt.messages)
                res.completion_tokens += tok.count(story)
                if res.cost_usd is not None:
                    res.cost_usd = pricing.usage_cost(spec.model_id, res.prompt_tokens, res.completion_tokens)
                report(story)
        except BaseException:  # Ctrl-C or a bug: stop the workers, keep what is written
            cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=cancel.is_set())
    res.stopped = cancel.is_set() and fatal is None
    res.elapsed_s = time.perf_counter() - t0
    if fatal is not None:
        raise fatal
    return res

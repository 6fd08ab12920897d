"""The Training tab, "Teach it our stories": a parent chooses the family's stories, reads the plan in
plain words (how long it takes on this computer, what it costs) and presses Start, then watches how
it is learning. Everything technical (where it learns, the base model, rounds, batch size, learning
rate, LoRA, stories kept aside to check it) folds under Advanced as typed fields with the defaults
filled in; they build the same `JobSpec` the CLI does, so nothing is typed as JSON.

Handlers are thin: they call storyteller.finetune (plan, start, status, cancel, resume). The job
list comes from the database on every tick of a gr.Timer, so a reloaded page reattaches to
running jobs; the selected job lives in the page's own dropdown (per session). A finished job's
"Try it" switches to the story tab with the new model selected.

Datasets are picked from the family's workspace (`data.workspace`: uploads are copied there first),
never typed as paths; base models only from the list. Choosing the Data tab's preference export
sets how it learns (the picks' pairs: DPO; 👍/👎: KTO), so a parent starts it with the defaults. Each family sees only its own jobs (another
family's job id reads as "no such job"); locally the one user sees them all. In public mode every
handler asks for a parent first, and the timer starts only once a parent has unlocked the page.
Errors say what to do on this page (never a command-line flag).
"""

from __future__ import annotations

import html
import math
import re
import time
from pathlib import Path

import gradio as gr
import pandas as pd
from pydantic import ValidationError

from storyteller.data import pricing, workspace
from storyteller.data.check import check
from storyteller.data.io import read_dataset
from storyteller.data.unsafe import OVERRIDE_HINT
from storyteller.errors import DataError, InputError, StorytellerError
from storyteller.finetune import JobSpec, JobStore, base_models, get_provider, provider_for
from storyteller.finetune.base import TERMINAL, NameTaken
from storyteller.finetune.preference import file_kind, read_preferences, unsafe_examples
from storyteller.finetune.worker import BATCH, EPOCHS
from storyteller.plaintext import escape_markdown
from storyteller.ui.context import STORY_TAB, UIContext
from storyteller.ui.i18n import error_text, strings, t
from storyteller.ui.visitor import Visitor

PLOT_COLUMNS = ["step", "loss", "series"]
PLOT_COLOURS = {"train": "#ea580c", "validation": "#0284c7"}  # orange and blue, as the words above the plot say
METHODS = [("ft.method_auto", "auto"), ("ft.method_full", "full"), ("ft.method_lora", "lora")]
OBJECTIVES = [("ft.objective_sft", "sft"), ("ft.objective_dpo", "dpo"), ("ft.objective_kto", "kto")]
PROVIDERS = [("ft.local", "local"), ("ft.openai", "openai")]
# The typed fields under Advanced, as JobSpec names them (errors about them use strings' ft.field.*).
SPEC_FIELD = {"epochs": "n_epochs", "batch": "batch_size", "steps": "max_steps", "lr": "learning_rate",
              "lr_mult": "learning_rate_multiplier", "mix": "mix_share", "lora_r": "lora_r", "seed": "seed"}
EXTRA_LIMITS = {"steps": (None, 100_000), "seed": (0, 2**31 - 1)}  # beyond JobSpec's own bounds
ZERO_IS_EMPTY = {"epochs", "batch", "steps", "lr", "lr_mult", "lora_r"}  # 0 is no value for these: the default
STATES = {*TERMINAL, "queued", "validating_files", "running"}
ISSUES = {k for k in strings("zh") if k.startswith("data.issue.")}  # data-check codes with words of their own


def _store(visitor: Visitor | None = None) -> JobStore:
    """The jobs this page may see: its family's in public mode, all of them locally."""
    return (visitor or Visitor()).jobs()


def _split(args: tuple) -> tuple[tuple, Visitor]:
    """(the form's values, the page's Visitor): the visitor comes last when the app wires it."""
    if args and isinstance(args[-1], Visitor):
        return args[:-1], args[-1]
    return args, Visitor()


def _limits(key: str) -> tuple[float | None, float | None, bool, bool]:
    """(lowest, highest, lowest refused, highest refused) for a typed field: JobSpec's bounds, then ours."""
    lo = hi = None
    open_lo = open_hi = False
    for m in JobSpec.model_fields[SPEC_FIELD[key]].metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, open_lo = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, open_hi = m.lt, True
    elo, ehi = EXTRA_LIMITS.get(key, (None, None))
    return (lo if elo is None else elo), (hi if ehi is None else ehi), open_lo, open_hi


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def _field_error(key: str, whole: bool, lang: str) -> InputError:
    """"Under Advanced, “Stories per step” needs a whole number from 1 to 256", in the page's language."""
    lo, hi, open_lo, open_hi = _limits(key)
    kind = t("ft.whole" if whole else "ft.number", lang)
    shape = ("ft.range_open" if open_lo else "ft.range_below" if open_hi else "ft.range_between" if hi is not None
             else "ft.range_min")
    said = t(shape, lang, kind=kind, lo=_fmt(lo), hi=_fmt(hi) if hi is not None else "")
    return InputError(t("ft.bad_field", lang, field=t(f"ft.field.{key}", lang), range=said))


def _number(value, key: str, lang: str, whole: bool = False):
    """A typed field's value within its limits; empty (or 0 where 0 means nothing) is "the default";
    anything else gets a friendly error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _field_error(key, whole, lang)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _field_error(key, whole, lang) from None
    if math.isnan(x) or (x == 0 and key in ZERO_IS_EMPTY):
        return None  # an emptied number box (the browser sends 0 for one once it has been shown)
    lo, hi, open_lo, open_hi = _limits(key)
    if math.isinf(x) or (whole and x != int(x)) or (lo is not None and (x <= lo if open_lo else x < lo)) \
            or (hi is not None and (x >= hi if open_hi else x > hi)):
        raise _field_error(key, whole, lang)
    return int(x) if whole else x


def make_spec(provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix, allow_unsafe=False,
              method="auto", lora_r=None, seed=None, objective="sft", visitor: Visitor | None = None) -> JobSpec:
    """The form -> a validated JobSpec (friendly errors, in the page's language, for missing or
    wrong values). `data` and `val` name files in the family's workspace; `base` must be one the
    list offers. Empty typed fields mean the defaults."""
    visitor = visitor or Visitor()
    lang = visitor.lang
    if not data:
        raise InputError(t("ft.need_data", lang))
    if provider not in ("local", "openai"):
        raise InputError(t("ft.need_provider", lang))
    base = base.strip() if isinstance(base, str) else ""
    if base not in base_models(provider, visitor.jobs()):
        raise InputError(t("ft.no_base", lang))
    if method not in (None, "auto", "full", "lora"):
        raise InputError(t("ft.bad_method", lang))
    if objective not in (None, "sft", "dpo", "kto"):
        raise InputError(t("ft.bad_objective", lang))
    local = provider == "local"
    n = {"epochs": _number(epochs, "epochs", lang, True), "batch": _number(batch, "batch", lang, True),
         "lr": _number(lr, "lr", lang) if local else None,
         "lr_mult": _number(lr_mult, "lr_mult", lang) if not local else None,
         "steps": _number(steps, "steps", lang, True) if local else None,
         "mix": _number(mix, "mix", lang) if local else None,
         "lora_r": _number(lora_r, "lora_r", lang, True), "seed": _number(seed, "seed", lang, True)}
    train = workspace.resolve(data, visitor.scope)
    val = workspace.resolve(val, visitor.scope) if val else None
    name = name if isinstance(name, str) else ""
    optional = {SPEC_FIELD[k]: n[k] for k in ("lora_r", "seed") if n[k] is not None}
    try:
        return JobSpec(provider=provider, base_model=base, train_file=str(train),
                       val_file=str(val) if val else None, name=name.strip()[:200] or None,
                       n_epochs=n["epochs"], batch_size=n["batch"], learning_rate=n["lr"],
                       learning_rate_multiplier=n["lr_mult"], max_steps=n["steps"], mix_share=n["mix"],
                       method=method or "auto", allow_unsafe=bool(allow_unsafe), objective=objective or "sft",
                       **optional)
    except ValidationError:  # the checks above come first; this is the backstop
        raise InputError(t("ft.bad_setting", lang)) from None


# What to do on this page, for errors whose own hint speaks to the command line: (class, words in
# its message, the hint's key).
PAGE_HINTS = [(NameTaken, "", "ft.hint_name_taken"), (DataError, "not safe for children", "ft.hint_unsafe"),
              (InputError, "cannot be a model name", "ft.hint_bad_name"), (DataError, " holds ", "ft.hint_prepared"),
              (DataError, "", "ft.hint_data")]
COMMAND_LINE = re.compile(r"`|--|STORYTELLER_|storyteller (data|finetune)")


def words(e: StorytellerError, lang: str) -> str:
    """An error as this page says it: what to do here first (a command-line hint is replaced by a
    step on this page), then what went wrong, in the page's language where the core has it."""
    for cls, found, key in PAGE_HINTS:
        if isinstance(e, cls) and found in e.message:
            return f"{t(key, lang)}  \n{error_text(StorytellerError(e.message, zh=e.zh), lang)}"
    if e.hint and (COMMAND_LINE.search(e.hint) or e.hint == OVERRIDE_HINT):
        e = StorytellerError(e.message, zh=e.zh)  # the Chinese stays: error_text words its flags for the page
    return error_text(e, lang)


def plain(e: StorytellerError, lang: str) -> str:
    """`words(e)` for Markdown (escaped: it may quote a file or a name)."""
    return escape_markdown(words(e, lang))


def _warn(e: StorytellerError, lang: str) -> None:
    gr.Warning(html.escape(words(e, lang)))  # toasts render HTML


def duration(seconds: float, lang: str) -> str:
    """"about 3 minutes", rounded the way people say it."""
    if seconds < 60:
        return t("ft.less_minute", lang)
    if seconds < 90 * 60:
        m = max(1, round(seconds / 60))
        return t("ft.minute", lang) if m == 1 else t("ft.minutes", lang, n=m)
    return t("ft.hours", lang, n=f"{round(seconds / 1800) / 2:g}")


def plan_line(spec: JobSpec, plan, lang: str) -> str:
    """The plan in a parent's words: how many stories, how long, what it costs."""
    if spec.provider == "local":
        n, mixed = plan.settings["trained_on"], str(plan.settings["earlier_stories_mixed_in"]).removeprefix("up to ")
        what = t(f"ft.what_{spec.objective}", lang, n=n)  # stories, "tell two, pick one" picks, or 👍/👎
        review = t("ft.review", lang, n=mixed) if mixed not in ("0", "") else ""
        if plan.seconds:
            how = t("ft.measured" if plan.measured else "ft.guess", lang)
            return t("ft.plan_local", lang, what=what, review=review, time=duration(plan.seconds, lang), how=how)
        return t("ft.plan_local_steps", lang, what=what, review=review, steps=plan.settings["steps"])
    cost = (t("ft.price", lang, usd=f"{plan.cost_usd:,.2f}", as_of=pricing.AS_OF) if plan.cost_usd is not None
            else t("ft.price_unknown", lang))
    return t("ft.plan_openai", lang, n=_count(spec.train_file), cost=cost, cutoff=pricing.FINE_TUNING_CUTOFF)


def _count(path: str) -> int:
    try:
        return len(read_dataset(Path(path)).records)
    except StorytellerError:
        return 0


def uses_line(spec: JobSpec, plan, lang: str) -> str:
    """What the empty or automatic fields came to (locally: the learning rate and the way it learns
    chosen for this model, and the steps), under Advanced; OpenAI chooses its own."""
    if spec.provider != "local":
        return ""
    s = plan.settings
    method = dict((v, k) for k, v in METHODS).get(s["method"])
    return t("ft.uses", lang, lr=f"{s['learning_rate']:g}" if isinstance(s["learning_rate"], float) else "—",
             method=t(method, lang) if method else s["method"], steps=s["steps"])


def preview(*args):
    """Validate the form and show the plan (time, cost) and what the automatic settings came to;
    nothing starts. Returns (plan line, what it uses, the "I have read them" checkbox: shown when it matters)."""
    form, visitor = _split(args)
    visitor.require_parent()
    lang = visitor.lang
    try:
        spec = make_spec(*form, visitor=visitor)
        plan = get_provider(spec.provider, visitor.jobs()).plan(spec)
    except StorytellerError as e:
        unsafe = isinstance(e, DataError) and "not safe for children" in e.message
        return t("ft.not_ready", lang, e=plain(e, lang)), "", gr.update(visible=True) if unsafe else gr.update()
    return (plan_line(spec, plan, lang), uses_line(spec, plan, lang),
            gr.update() if spec.allow_unsafe else gr.update(visible=False))


def replan(*args):
    """The plan again in a newly chosen language (nothing for a locked page or an empty form)."""
    form, visitor = _split(args)
    if not visitor.trusted or len(form) < 3 or not form[2]:
        return gr.skip(), gr.skip(), gr.skip()
    return preview(*args)


def launch(*args):
    """Start: the same checks as the plan, then the job (it trains in its own process)."""
    form, visitor = _split(args)
    visitor.require_parent()
    lang = visitor.lang
    try:
        spec = make_spec(*form, visitor=visitor)
        job = get_provider(spec.provider, visitor.jobs()).start(spec)
    except StorytellerError as e:
        gr.Warning(html.escape(t("ft.not_ready_toast", lang, e=words(e, lang))))
        return gr.update(), t("ft.not_ready", lang, e=plain(e, lang))
    return gr.update(choices=job_choices(visitor), value=job.id), t("ft.started", lang, name=escape_markdown(job.name))


def job_choices(visitor: Visitor | None = None) -> list[tuple[str, str]]:
    lang = (visitor or Visitor()).lang
    return [(f"{time.strftime('%m-%d %H:%M', time.localtime(j.created))} · {j.name} · {_state(j.status, lang)}", j.id)
            for j in _store(visitor).list_jobs(limit=50)]


def _state(status: str, lang: str) -> str:
    return t(f"ft.state.{status}", lang) if status in STATES else status


def metrics_frame(rows) -> pd.DataFrame:
    """The loss plot's rows: a "train" line for the stories it learns, a "validation" one for those
    kept aside. The plot shows no legend (its colours are named in the words above it): a plot keeps
    the series names it first drew, so names in the page's language would vanish after a switch."""
    out = [{"step": r.step, "loss": r.train_loss, "series": "train"} for r in rows if r.train_loss is not None]
    out += [{"step": r.step, "loss": r.valid_loss, "series": "validation"} for r in rows if r.valid_loss is not None]
    frame = pd.DataFrame(out, columns=PLOT_COLUMNS)  # typed even when empty, so the axes are numeric
    return frame.astype({"step": "int64", "loss": "float64", "series": "object"})


def status_text(job, lang: str = "zh") -> str:
    """Where the job is, in words: its state, how far, how long still, and what came of it."""
    where = t(f"ft.where_{job.provider}", lang) if job.provider in ("local", "openai") else job.provider
    lines = [f"**{escape_markdown(job.name)}** · {where} · **{_state(job.status, lang)}**"]
    if job.total_steps:
        eta = job.extra.get("eta_s") if not job.done else None
        pct = f"{100 * job.step / job.total_steps:.0f}"
        lines.append(t("ft.step", lang, step=job.step, total=job.total_steps, pct=pct)
                     + (t("ft.left", lang, time=duration(eta, lang)) if eta else ""))
    if job.result_model:
        lines.append(t("ft.result", lang, model=escape_markdown(job.result_model)))
    if job.error:
        lines.append(t("ft.error", lang, e=escape_markdown(error_text(job.error, lang))))
    return "  \n".join(lines)


def poll(job_id, visitor: Visitor | None = None):
    """One timer tick: refresh the job list (reattach to the newest running job) and the chosen job.
    A page no parent has unlocked gets nothing (and no error every tick)."""
    visitor = visitor or Visitor()
    if not visitor.trusted:
        return (gr.skip(),) * 7
    lang = visitor.lang
    choices = job_choices(visitor)
    ids = [c[1] for c in choices]
    if not job_id or job_id not in ids:
        running = [j for j in _store(visitor).list_jobs(limit=50) if not j.done]
        job_id = running[0].id if running else (ids[0] if ids else None)
    if not job_id:
        return (gr.update(choices=choices), t("ft.no_lessons", lang), None, "",
                gr.update(visible=False), gr.update(visible=False), gr.update(visible=False))
    store = _store(visitor)
    try:
        job = provider_for(store.get_job(job_id), store).status(job_id)
    except StorytellerError as e:
        return (gr.update(choices=choices, value=None), f"**{plain(e, lang)}**", gr.update(), gr.update(),
                gr.update(), gr.update(), gr.update())
    events = store.events(job.id)[-200:]
    log = "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(e.created))} {e.level:7} {e.message}" for e in events)
    frame = metrics_frame(store.metrics(job.id))
    return (gr.update(choices=choices, value=job_id), status_text(job, lang), frame if len(frame) else None, log,
            gr.update(visible=not job.done), gr.update(visible=job.status in ("failed", "cancelled")),
            gr.update(visible=job.status == "succeeded" and bool(job.result_model)))


def cancel(job_id, visitor: Visitor | None = None):
    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        store = _store(visitor)
        provider_for(store.get_job(job_id), store).cancel(job_id)
    except StorytellerError as e:
        _warn(e, visitor.lang)


def resume(job_id, visitor: Visitor | None = None):
    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        store = _store(visitor)
        job = provider_for(store.get_job(job_id), store).resume(job_id)
        return gr.update(choices=job_choices(visitor), value=job.id)
    except StorytellerError as e:
        _warn(e, visitor.lang)
        return gr.update()


def try_it(job_id, visitor: Visitor | None = None):
    """Switch to the story tab with the fine-tuned model selected."""
    from storyteller import studio

    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        job = _store(visitor).get_job(job_id)
    except StorytellerError as e:
        _warn(e, visitor.lang)
        return gr.skip(), gr.skip()
    if not job.result_model:
        return gr.skip(), gr.skip()
    try:
        choices = studio.model_choices()
    except StorytellerError:
        choices = []
    if job.result_model not in [c[1] for c in choices]:
        choices.append((job.result_model, job.result_model))
    return gr.Tabs(selected=STORY_TAB), gr.update(choices=choices, value=job.result_model)


def check_dataset(name, visitor: Visitor | None = None):
    """A short word on the chosen stories: how many, and what in them needs a look (from the data
    check; rows are named, the text never quoted)."""
    visitor = visitor or Visitor()
    if not name or not visitor.trusted:
        return ""
    lang = visitor.lang
    try:
        path = workspace.resolve(name, visitor.scope)
        if kind := file_kind(path):
            return _check_preferences(path, kind, lang)
        r = check(path)
    except StorytellerError as e:
        return f"**{plain(e, lang)}**"
    lines = [t("ft.stories" if r.kind == "stories" else "ft.examples", lang, n=r.examples)]
    for i in r.issues:
        where = t("ft.lines", lang, lines=", ".join(map(str, i.lines))) if i.lines else ""
        said = t(f"data.issue.{i.code}", lang) if f"data.issue.{i.code}" in ISSUES else escape_markdown(i.message)
        lines.append(f"- {'⛔' if i.severity == 'error' else '⚠️'} {said}{where}")
    return "\n".join(lines)


def _check_preferences(path: Path, kind: str, lang: str) -> str:
    """The word on a preference export: how many picks or 👍/👎, and whether they are safe for
    children (the story check would read the system prompt's rules as a story, and call it unsafe)."""
    examples = read_preferences(path, "dpo" if kind == "pairs" else "kto", allow_unsafe=True)
    lines = [t(f"ft.{kind}", lang, n=len(examples))]
    if unsafe := sorted(n for rows in unsafe_examples(examples).values() for n in rows):
        lines.append(f"- ⛔ {t('data.issue.unsafe_story', lang)}{t('ft.lines', lang, lines=', '.join(map(str, unsafe)))}")
    return "\n".join(lines)


def objective_for(name, objective, visitor: Visitor | None = None):
    """How it learns follows the chosen file: stories by example, the picks' pairs by DPO (or KTO when
    the parent chose it), 👍/👎 ratings by KTO; so the family's export trains with the defaults."""
    visitor = visitor or Visitor()
    if not name or not visitor.trusted:
        return gr.skip()
    try:
        kind = file_kind(workspace.resolve(name, visitor.scope))
    except StorytellerError:
        return gr.skip()  # the report and the plan say what is wrong
    wanted = {"pairs": "dpo" if objective not in ("dpo", "kto") else objective, "ratings": "kto"}.get(kind, "sft")
    return wanted if wanted != objective else gr.skip()


def datasets(visitor: Visitor | None = None, chosen: str | None = None):
    """The dataset pickers' choices: the family's workspace files (everyone's locally)."""
    visitor = visitor or Visitor()
    if not visitor.trusted:
        return gr.skip()
    names = workspace.list_datasets(visitor.scope)
    # No value when none is chosen here: the picker keeps its own (a skip as the value is refused as a choice).
    return gr.update(choices=names, value=chosen) if chosen in names else gr.update(choices=names)


def take_upload(file, visitor: Visitor | None = None):
    """An upload goes into the family's workspace; the picker then selects it."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    if not file:
        return gr.skip()
    try:
        saved = workspace.save_upload(file, visitor.scope)
    except StorytellerError as e:
        _warn(e, visitor.lang)
        return gr.skip()
    except OSError:
        gr.Warning(t("ft.save_failed", visitor.lang))
        return gr.skip()
    return datasets(visitor, workspace.relative_name(saved, visitor.scope))


def use_data_tab_dataset(path, visitor: Visitor | None = None):
    """Pick the Data tab's dataset (it is in the family's workspace)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    name = workspace.relative_name(path, visitor.scope) if path else None
    return datasets(visitor, name) if name else gr.skip()


def _provider_fields(p: str, objective: str = "sft", visitor: Visitor | None = None):
    """Where it learns sets the base models and which settings apply (OpenAI picks its own rounds
    and batch size unless told). The list is the family's (as the plan checks it); a page no parent
    unlocked gets nothing."""
    visitor = visitor or Visitor()
    if not visitor.trusted:
        return (gr.skip(),) * 9
    local = p == "local"
    names = base_models(p, visitor.jobs())
    return (gr.update(choices=names, value=(names or [None])[0]), gr.update(value=EPOCHS if local else None),
            gr.update(value=BATCH if local else None), gr.update(visible=local), _review_field(p, objective),
            *[gr.update(visible=local)] * 3, gr.update(visible=not local))


def _review_field(p: str, objective: str):
    """Reviewing earlier stories is for learning stories here; picks and ratings mix nothing in."""
    return gr.update(visible=p == "local" and objective in (None, "sft"))


def render(ctx: UIContext) -> None:
    s, w = ctx.settings, ctx.words
    w.add(gr.Markdown(elem_id="ft-title"), value="ft.title")
    with gr.Row(equal_height=True):
        names = [] if ctx.public else workspace.list_datasets()  # public: each family's, once unlocked
        data = w.add(gr.Dropdown(names, value=None, scale=3, elem_id="ft-data"), label="ft.data", info="ft.data_info")
        with gr.Column(scale=2, min_width=220):
            upload = w.add(gr.UploadButton(file_types=[".csv", ".jsonl"], elem_id="ft-upload"), value="ft.upload")
            use_data_tab = w.add(gr.Button(size="sm", visible=ctx.dataset_path is not None, elem_id="ft-use-data"),
                                 value="ft.use_data_tab")
    report = gr.Markdown(elem_id="ft-report")
    allow_unsafe = w.add(gr.Checkbox(False, visible=False, elem_id="ft-allow-unsafe"), label="ft.allow_unsafe")
    plan = gr.Markdown(elem_id="ft-plan")
    launch_btn = w.add(gr.Button(variant="primary", size="lg", elem_id="ft-launch"), value="ft.launch")
    with w.add(gr.Accordion(open=False, elem_id="ft-advanced"), label="ft.advanced"):
        with gr.Row():
            provider = w.add(gr.Radio(value="local", elem_id="ft-provider"), label="ft.provider", choices=PROVIDERS)
            local_bases = base_models("local")
            base = w.add(gr.Dropdown(local_bases, value=(local_bases or [None])[0], allow_custom_value=False,
                                     elem_id="ft-base"), label="ft.base")
            name = w.add(gr.Textbox(max_length=64, elem_id="ft-name"), label="ft.name",
                         placeholder="ft.name_placeholder")
        with gr.Row():
            epochs = w.add(gr.Number(EPOCHS, precision=0, elem_id="ft-epochs"), label="ft.epochs")
            batch = w.add(gr.Number(BATCH, precision=0, elem_id="ft-batch"), label="ft.batch")
            steps = w.add(gr.Number(0, precision=0, elem_id="ft-steps"), label="ft.steps", info="ft.steps_info")
            lr = w.add(gr.Number(0, elem_id="ft-lr"), label="ft.lr", info="ft.lr_info")
            lr_mult = w.add(gr.Number(0, visible=False, elem_id="ft-lr-mult"), label="ft.lr_mult",
                            info="ft.lr_mult_info")
        with gr.Row():
            method = w.add(gr.Dropdown(value="auto", elem_id="ft-method"), label="ft.method", choices=METHODS)
            lora_r = w.add(gr.Number(JobSpec.model_fields["lora_r"].default, precision=0, elem_id="ft-lora-r"),
                           label="ft.lora_r")
            mix = w.add(gr.Slider(0, 0.9, value=s.training.mix_share, step=0.05, elem_id="ft-mix"), label="ft.mix")
            seed = w.add(gr.Number(JobSpec.model_fields["seed"].default, precision=0, elem_id="ft-seed"),
                         label="ft.seed")
        objective = w.add(gr.Dropdown(value="sft", elem_id="ft-objective"), label="ft.objective",
                          info="ft.objective_info", choices=OBJECTIVES)
        val = w.add(gr.Dropdown(names, value=None, elem_id="ft-val"), label="ft.val", info="ft.val_info")
        details = gr.Markdown(elem_id="ft-settings")
    w.add(gr.Markdown(), value="ft.lessons")
    with gr.Row():
        job = w.add(gr.Dropdown([] if ctx.public else job_choices(), value=None, elem_id="ft-job", scale=3),
                    label="ft.job")
        cancel_btn = w.add(gr.Button(variant="stop", visible=False, elem_id="ft-cancel"), value="ft.cancel")
        resume_btn = w.add(gr.Button(visible=False, elem_id="ft-resume"), value="ft.resume")
        try_btn = w.add(gr.Button(variant="primary", visible=False, elem_id="ft-try"), value="ft.try")
    status = gr.Markdown(elem_id="ft-status")
    w.add(gr.Markdown(elem_id="ft-plot-title"), value="ft.plot_title")
    # No points yet: None, not an empty frame (a plot that starts from an empty frame never draws its lines).
    plot = gr.LinePlot(None, x="step", y="loss", color="series", elem_id="ft-plot", height=280,
                       x_title=" ", y_title=" ", color_title=" ", show_label=False, color_map=PLOT_COLOURS,
                       colors_in_legend=[], tooltip=["step", "loss"])  # its words: the title above
    with w.add(gr.Accordion(open=False, elem_id="ft-log-box"), label="ft.log_box"):
        logs = w.add(gr.Textbox(lines=8, max_lines=12, autoscroll=True, elem_id="ft-log"), label="ft.log")
    timer = gr.Timer(s.training.poll_s, active=not ctx.public)  # public: started when a parent unlocks
    ctx.extra["training_timer"] = timer
    who = [ctx.visitor] if ctx.visitor is not None else []

    form = [provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix, allow_unsafe, method, lora_r,
            seed, objective]
    provider.change(_provider_fields, [provider, objective, *who],
                    [base, epochs, batch, lr, steps, mix, method, lora_r, lr_mult], api_visibility="private")
    objective.change(_review_field, [provider, objective], mix, api_visibility="private", show_progress="hidden")
    upload.upload(take_upload, [upload, *who], data, api_visibility="private")
    for picker in (data, val):
        picker.focus(lambda v=None: datasets(v), who, picker, api_visibility="private", queue=False)
    data.change(check_dataset, [data, *who], report, api_visibility="private")
    data.change(objective_for, [data, objective, *who], objective, api_visibility="private", show_progress="hidden")
    if ctx.dataset_path is not None:
        use_data_tab.click(use_data_tab_dataset, [ctx.dataset_path, *who], data, api_visibility="private")
    # The plan follows every choice (typed numbers once the box is left); bursts collapse into the last.
    choices = [c.change for c in (data, base, val, allow_unsafe, method, mix, objective)]
    typed = [c.blur for c in (name, epochs, batch, steps, lr, lr_mult, lora_r, seed)]
    gr.on(choices + typed, preview, form + who, [plan, details, allow_unsafe], api_visibility="private",
          trigger_mode="always_last", show_progress="hidden")
    if ctx.lang is not None:  # the page's language moved (the story language follows it): say it again
        ctx.lang.change(replan, form + who, [plan, details, allow_unsafe], api_visibility="private",
                        show_progress="hidden")
        ctx.lang.change(check_dataset, [data, *who], report, api_visibility="private", show_progress="hidden")
    launch_btn.click(launch, form + who, [job, plan], api_visibility="private")
    outs = [job, status, plot, logs, cancel_btn, resume_btn, try_btn]
    timer.tick(poll, [job, *who], outs, api_visibility="private", show_progress="hidden")
    job.input(poll, [job, *who], outs, api_visibility="private")
    cancel_btn.click(cancel, [job, *who], None, api_visibility="private")
    resume_btn.click(resume, [job, *who], job, api_visibility="private")
    if ctx.tabs is not None and ctx.model is not None:
        try_btn.click(try_it, [job, *who], [ctx.tabs, ctx.model], api_visibility="private")

"""The Data tab: generate a story dataset, or upload one; see its check report; prepare it.

Thin handlers over storyteller.data: generation runs in a worker thread and the handler streams
its progress (done/total, ETA, tokens, cost); Stop sets this session's cancel event and keeps
every story already written, so pressing Generate again with the same name resumes. The
dataset the tab last checked or prepared is published as `ctx.dataset_path` (a path string in
gr.State) for the Training tab; `ctx.extra["dataset"]` holds {"source", "train", "val", "format"}.

Every file lives in the family's workspace folder (`data.workspace`): uploads are copied in before
they are checked, outputs and prepared files are written there. In public mode each handler asks
for a parent first (`Visitor.require_parent`), and generation is capped at
settings.public.max_stories. Text from a file or a model is escaped before it joins our Markdown.
"""

from __future__ import annotations

import html
import queue
import re
import threading
from collections.abc import Iterator

import gradio as gr

from storyteller.engines.world import WORLD_ID
from storyteller.catalog import get_catalog
from storyteller.config import get_settings
from storyteller.data import workspace
from storyteller.data.check import CheckReport, check
from storyteller.data.generate import DEFAULT_TEMPLATE, GenerateSpec, check_template, generate, plan
from storyteller.data.io import read_dataset
from storyteller.data.prepare import FORMATS, prepare
from storyteller.engines.registry import check_model
from storyteller.errors import StorytellerError
from storyteller.plaintext import escape_markdown
from storyteller.ui import preferences
from storyteller.ui.context import UIContext
from storyteller.ui.i18n import error_text, strings, t, table
from storyteller.ui.visitor import Visitor

PUBLIC_CONCURRENCY = 4  # requests at once for one generation, in public mode


class DataSession:
    """Per-browser-session state: the running generation's stop signal, and whether one runs."""

    def __init__(self):
        self.cancel = threading.Event()
        self.running = False

    def __deepcopy__(self, memo) -> "DataSession":  # gr.State copies its initial value per session
        return DataSession()

    def start(self) -> threading.Event:
        self.cancel.set()
        self.cancel = threading.Event()
        return self.cancel


COLUMNS = ("dynasty", "power", "style", "story")  # the preview's story columns (data.col_* words)
CHEAP_MODEL = "gpt-4o-mini-2024-07-18"
ISSUES = {k for k in strings("zh") if k.startswith("data.issue.")}  # codes with words of their own
ISSUE_ZH = table("data.issue")["zh"]  # {check code: Chinese words}, for the Training tab


def report_markdown(r: CheckReport, lang: str = "zh") -> str:
    """A short summary a parent can read, the problems with their lines, then the details."""
    head = t("data.ready" if r.ok else "data.not_ready", lang)
    facts = [t("data.examples", lang, n=r.examples), t("data.tokens", lang, n=f"{r.tokens.mean:.0f}"),
             t("data.epochs", lang, n=r.epochs)]
    model = CHEAP_MODEL if CHEAP_MODEL in r.costs_usd else next(iter(r.costs_usd), None)
    if model:
        facts.append(t("data.cost", lang, model=model.split('-20')[0], usd=f"{r.costs_usd[model]:,.2f}"))
    lines = [f"### {head}", " · ".join(facts), ""]
    for i in r.issues:
        mark = "⛔" if i.severity == "error" else "⚠️"
        where = t("data.lines", lang, lines=", ".join(map(str, i.lines))) if i.lines else ""
        count = f" (x{i.count})" if i.count > 1 and i.code != "format_error" else ""
        name = t(f"data.issue.{i.code}", lang) if f"data.issue.{i.code}" in ISSUES else escape_markdown(i.code)
        said = name if lang == "zh" else f"{name}: {escape_markdown(i.message)}"
        lines.append(f"- {mark} {said}{count}{where}")
    lines.append(t("data.details", lang))
    details = r.text(preview=False)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", details)), default=0))  # nothing closes it early
    return "\n".join(lines) + f"\n\n{fence}text\n{details}\n{fence}"


def preview_rows(r: CheckReport) -> list[list[str]]:
    keys = list(r.preview[0]) if r.preview else []
    return [[str(p.get(k, "")) for k in keys] for p in r.preview]


def problem_markdown(e: Exception, lang: str = "zh") -> str:
    return f"{t('data.problem', lang)}\n{escape_markdown(_friendly(e, lang))}"


def _warn(message: str) -> None:
    gr.Warning(html.escape(message))  # toasts render HTML; the message may quote a file or a field


def _checked(path: str, lang: str = "zh"):
    """(report markdown, preview update, dataset path, dataset info) for a file just checked."""
    report = check(path)
    keys = list(report.preview[0]) if report.preview else []
    widths = ["10%", "12%", "10%", "68%"] if keys == list(COLUMNS) else _widths(len(keys))
    info = {"source": path, "train": None, "val": None, "format": None, "ok": report.ok}
    headers = [t(f"data.col_{k}", lang) if k in COLUMNS else k for k in keys]
    preview = gr.update(value=preview_rows(report), headers=headers, column_widths=widths, visible=bool(keys))
    return report_markdown(report, lang), preview, path, info


def _widths(n: int) -> list[str] | None:
    """The last column (the story) gets most of the room; no squeezed one-letter-per-line headers."""
    if n < 2:
        return None
    rest = 40 // (n - 1)
    return [f"{rest}%"] * (n - 1) + [f"{100 - rest * (n - 1)}%"]


def _missing_choice(dynasties, powers, styles, model="-", lang: str = "zh") -> str | None:
    if not str(model or "").strip():
        return t("data.need_model", lang)
    for values, kind in ((dynasties, "data.kind_dynasty"), (powers, "data.kind_power"), (styles, "data.kind_style")):
        if not [v for v in (values or []) if str(v).strip()]:
            return t("data.need_one", lang, kind=t(kind, lang))
    return None


def _has_stories(path) -> bool:
    try:
        return bool(read_dataset(path).records)
    except StorytellerError:
        return False


def run_generate(model, dynasties, powers, styles, repeats, concurrency, template, lang, name, fmt,
                 session: DataSession, visitor: Visitor | None = None) -> Iterator[tuple]:
    """Stream progress lines; at the end show the check report and offer the file."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    keep = (gr.update(), gr.update(), gr.update(), gr.update(), gr.update())
    ui = visitor.lang
    if missing := _missing_choice(dynasties, powers, styles, model, ui):
        _warn(missing)
        yield (f"⚠️ {missing}",) + keep
        return
    try:
        model = model if model == WORLD_ID else check_model(model, "web")
        limits = ({"max_stories": get_settings().public.max_stories} if visitor.public else {})
        spec = GenerateSpec(model_id=model, dynasties=[str(v) for v in dynasties or []],
                            powers=[str(v) for v in powers or []], styles=[str(v) for v in styles or []],
                            repeats=int(repeats), template=(template or "").strip() or None, lang=lang,
                            concurrency=min(int(concurrency), PUBLIC_CONCURRENCY) if visitor.public else int(concurrency),
                            **limits)
        check_template(spec.template or "")
        plan(spec)  # refuses too many stories before anything starts
        out = workspace.output_path(str(name or ""), fmt, visitor.scope)
    except (StorytellerError, ValueError, TypeError) as e:
        _warn(_friendly(e, ui))
        yield (f"⚠️ {escape_markdown(_friendly(e, ui))}",) + keep
        return
    cancel = session.start()
    updates: queue.Queue = queue.Queue()
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = generate(spec, out, cancel=cancel, on_progress=updates.put)
        except Exception as e:  # noqa: BLE001  (shown to the user below)
            box["error"] = e
        finally:
            updates.put(None)

    session.running = True
    threading.Thread(target=work, daemon=True, name="datagen-ui").start()
    try:
        yield (f"⏳ {out.name} …",) + keep
        while (p := updates.get()) is not None:
            yield (f"⏳ {_bar(p.done + p.failed, p.total)} {_progress(p, ui)}",) + keep
    except GeneratorExit:  # the page went away: stop the run, keep what is written
        cancel.set()
        raise
    finally:
        session.running = False
    if "error" in box:
        msg = _friendly(box["error"], ui)
        _warn(msg)
        kept = f"\n\n{t('data.kept', ui, name=out.name)}" if _has_stories(out) else ""
        yield (f"⚠️ {escape_markdown(msg)}{kept}",) + keep
        return
    res = box["result"]
    status = t("data.stopped" if res.stopped else "data.done", ui, written=res.written, skipped=res.skipped,
               failed=len(res.failed), name=out.name)
    if res.failed:
        status += f"\n\n{t('data.retry', ui)}"
    try:
        md, prev, path, info = _checked(str(out), ui)
    except StorytellerError as e:
        yield (status + f"\n\n⚠️ {escape_markdown(_friendly(e, ui))}", _file(out), gr.update(), gr.update(), gr.update(), gr.update())
        return
    yield status, _file(out), md, prev, path, info


def _file(path) -> dict:
    """A download box that only shows when there is something to download."""
    return gr.update(value=str(path), visible=True) if path.exists() else gr.update(value=None, visible=False)


def stop_generate(session: DataSession, visitor: Visitor | None = None):
    if not session.running:  # nothing to stop: keep the last run's result on screen
        return gr.update()
    session.cancel.set()
    return t("data.stopping", (visitor or Visitor()).lang)


def on_upload(file, visitor: Visitor | None = None):
    """Copy the upload into the family's workspace, then check the copy (training reads only there)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    if not file:  # the file was removed: forget it, so Prepare cannot use it
        return "", gr.update(value=[], visible=False), None, {}
    try:
        saved = workspace.save_upload(file, visitor.scope)
    except (StorytellerError, OSError) as e:
        _warn(_friendly(e, visitor.lang))
        return problem_markdown(e, visitor.lang), gr.update(value=[], visible=False), None, {}
    try:
        return _checked(str(saved), visitor.lang)
    except StorytellerError as e:
        saved.unlink(missing_ok=True)  # not a dataset: keep no copy (the parent still has the file)
        _warn(_friendly(e, visitor.lang))
        return problem_markdown(e, visitor.lang), gr.update(value=[], visible=False), None, {}


def run_prepare(path, fmt, val, seed, info, visitor: Visitor | None = None):
    """Prepare from the checked source (not from an earlier prepared file)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    path = (info or {}).get("source") or path
    if not path:
        msg = t("data.first", visitor.lang)
        _warn(msg)
        return f"⚠️ {msg}", gr.update(value=None, visible=False), path, info
    try:
        source = workspace.resolve(workspace.relative_name(path, visitor.scope), visitor.scope)
        res = prepare(source, fmt, workspace.prepared_dir(visitor.scope), val=float(val or 0), seed=int(seed or 0))
    except (StorytellerError, ValueError, TypeError) as e:
        _warn(_friendly(e, visitor.lang))
        return f"⚠️ {escape_markdown(_friendly(e, visitor.lang))}", gr.update(value=None, visible=False), path, info
    files = [str(res.train_path)] + ([str(res.val_path)] if res.val_path else [])
    ui = visitor.lang
    msg = (t("data.prepared_counts", ui, train=res.train_count, val=res.val_count, format=res.format)
           + (t("data.dropped", ui, empty=res.dropped_empty, dups=res.dropped_duplicates)
              if res.dropped_empty or res.dropped_duplicates else "")
           + f"  \n{t('data.prepared_next', ui)}")
    info = dict(info or {}) | {"source": path, "train": files[0], "val": files[1] if len(files) > 1 else None,
                               "format": res.format}
    return msg, gr.update(value=files, visible=True), files[0], info


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "▓" * filled + "░" * (width - filled)


def _progress(p, lang: str) -> str:
    """One progress line in the page's language."""
    eta = f"{p.eta_s:.0f} s" if p.eta_s is not None else "?"
    cost = f"${p.cost_usd:.4f}" if p.cost_usd is not None else "–"
    return t("data.progress", lang, done=p.done, total=p.total, failed=p.failed, eta=eta,
             tokens=f"{p.prompt_tokens}+{p.completion_tokens}", cost=cost)


def _friendly(e: Exception, lang: str = "zh") -> str:
    if isinstance(e, StorytellerError):
        return error_text(e, lang)
    if isinstance(e, OSError):
        return f"{e.strerror or e} ({e.filename or ''})"
    if hasattr(e, "errors"):  # pydantic: name the field, skip the internals
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
    return f"{type(e).__name__}: {e}"


def story_language(lang: str, dynasties, powers, styles):
    """The stories' language: its writing prompt, and the presets chosen named in it (typed values stay)."""
    lang = lang if lang in DEFAULT_TEMPLATE else "zh"
    cat = get_catalog()

    def named(kind, values):
        chosen = [cat.translate(kind, str(v), lang) or v for v in values or []]
        return gr.update(choices=cat.choices(kind, lang), value=chosen)

    return (gr.update(value=DEFAULT_TEMPLATE[lang]), named("dynasty", dynasties), named("power", powers),
            named("style", styles))


def render(ctx: UIContext) -> None:
    cat, w = get_catalog(), ctx.words
    session = gr.State(DataSession())  # copied per session; a class here would be a public API endpoint
    dataset_path = gr.State(None)
    dataset_info = gr.State({})
    ctx.dataset_path, ctx.extra["dataset"] = dataset_path, dataset_info
    models = list(getattr(ctx.model, "choices", None) or []) if ctx.model is not None else []
    model_choices = [c[1] if isinstance(c, tuple) else c for c in models] or ctx.settings.openai.models
    model_choices = [("data.world", WORLD_ID), *[(c, c) for c in model_choices if c != WORLD_ID]]

    w.add(gr.Markdown(elem_id="data-intro"), value="data.intro")
    with w.add(gr.Accordion(open=True, elem_id="data-generate-box"), label="data.generate_box"):
        with gr.Row():
            model = w.add(gr.Dropdown(value=WORLD_ID, allow_custom_value=True, elem_id="data-model"),
                          label="data.model", choices=model_choices)
            lang = w.add(gr.Radio([("中文", "zh"), ("English", "en")], value="zh", elem_id="data-lang"), label="data.lang")
        with gr.Row():
            dynasties = w.add(gr.Dropdown(cat.choices("dynasty", "zh"), value=["唐"], multiselect=True,
                                          allow_custom_value=True, elem_id="data-dynasties"), label="data.dynasties")
            powers = w.add(gr.Dropdown(cat.choices("power", "zh"), value=["隐形"], multiselect=True,
                                       allow_custom_value=True, elem_id="data-powers"), label="data.powers")
            styles = w.add(gr.Dropdown(cat.choices("style", "zh"), value=["轻松"], multiselect=True,
                                       allow_custom_value=True, elem_id="data-styles"), label="data.styles")
        with gr.Row():
            repeats = w.add(gr.Slider(1, 20, value=1, step=1, elem_id="data-repeats"), label="data.repeats")
            concurrency = w.add(gr.Slider(1, 16, value=4, step=1, elem_id="data-concurrency"), label="data.concurrency")
            name = w.add(gr.Textbox("stories", elem_id="data-name"), label="data.name")
            fmt = w.add(gr.Radio(["csv", "jsonl"], value="csv", elem_id="data-format"), label="data.format")
        template = w.add(gr.Textbox(DEFAULT_TEMPLATE["zh"], lines=4, elem_id="data-template"), label="data.template")
        with gr.Row():
            gen_btn = w.add(gr.Button(variant="primary", elem_id="data-generate"), value="data.generate")
            stop_btn = w.add(gr.Button(variant="stop", elem_id="data-stop"), value="data.stop")
        status = gr.Markdown("", elem_id="data-status")
        generated = w.add(gr.File(interactive=False, visible=False, elem_id="data-generated"), label="data.generated")

    with w.add(gr.Accordion(open=True, elem_id="data-upload-box"), label="data.upload_box"):
        upload = w.add(gr.File(file_types=[".csv", ".jsonl", ".json"], type="filepath", height=120,
                               elem_id="data-upload"), label="data.upload")

    report = gr.Markdown("", elem_id="data-report")
    preview = w.add(gr.Dataframe(value=[], interactive=False, wrap=True, max_height=320, visible=False,
                                 elem_id="data-preview"), label="data.preview")

    with w.add(gr.Accordion(open=True, elem_id="data-prepare-box"), label="data.prepare_box"):
        with gr.Row():
            pfmt = w.add(gr.Radio(value="chat", scale=2, elem_id="data-prepare-format"), label="data.prepare_format",
                         info="data.prepare_info", choices=[("data.local" if f == "local" else f, f) for f in FORMATS])
            val = w.add(gr.Slider(0.0, 0.5, value=0.1, step=0.05, elem_id="data-val"), label="data.val")
            seed = w.add(gr.Number(42, precision=0, elem_id="data-seed"), label="data.seed")
        prep_btn = w.add(gr.Button(variant="secondary", elem_id="data-prepare"), value="data.prepare")
        prep_status = gr.Markdown("", elem_id="data-prepare-status")
        prepared = w.add(gr.File(file_count="multiple", interactive=False, visible=False, elem_id="data-prepared"),
                         label="data.prepared")

    preferences.render(ctx)  # the children's 👍/👎 and picks, exported as preference data
    ctx.extra["data_lang"] = lang  # follows the page's switch (ui.language); a parent may set it apart
    lang.change(story_language, [lang, dynasties, powers, styles], [template, dynasties, powers, styles], queue=False,
                api_visibility="private")
    who = [ctx.visitor] if ctx.visitor is not None else []
    api = "private" if ctx.public else "public"  # public mode: only the story endpoints are in the API
    gen_btn.click(run_generate, [model, dynasties, powers, styles, repeats, concurrency, template, lang, name,
                                 fmt, session, *who],
                  [status, generated, report, preview, dataset_path, dataset_info],
                  api_name="generate_dataset", api_visibility=api, concurrency_limit=2, concurrency_id="datagen")
    stop_btn.click(stop_generate, [session, *who], status, queue=False, api_visibility="private")
    upload.change(on_upload, [upload, *who], [report, preview, dataset_path, dataset_info],
                  api_name="check_dataset", api_visibility=api)
    prep_btn.click(run_prepare, [dataset_path, pfmt, val, seed, dataset_info, *who],
                   [prep_status, prepared, dataset_path, dataset_info], api_name="prepare_dataset",
                   api_visibility=api)

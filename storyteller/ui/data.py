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
from storyteller.ui.context import UIContext
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


INTRO = ("训练自己的讲故事模型需要很多故事：① 用一个模型**生成**，或 ② **上传**已有的 CSV / JSONL；"
         "看看检查报告，再 ③ **准备**成训练文件。你的文件只会被读取，不会被修改。  \n"
         "Training a storyteller needs many stories: ① **generate** them with a model or ② **upload** a "
         "CSV / JSONL; read the check report, then ③ **prepare** the training files. Your files are only read, "
         "never changed.")
ISSUE_ZH = {
    "too_few_examples": "故事太少", "over_token_limit": "有的故事太长，会被截断", "empty_story": "有空的故事",
    "missing_field": "朝代、超能力或风格没填", "duplicate_story": "有重复的故事", "bom": "文件开头有 BOM 标记",
    "replacement_char": "有丢失的字（�）", "mojibake": "有乱码", "missing_prompt_or_completion": "缺少 prompt 或 completion",
    "prompt_separator": "prompt 结尾不对", "completion_stop": "completion 结尾不对",
    "completion_leading_space": "completion 开头少一个空格", "format_error": "聊天格式有错",
    "unsafe_story": "有不适合孩子的故事（按类别和行号列出）",
}
HEADERS = {"dynasty": "朝代 / dynasty", "power": "超能力 / power", "style": "风格 / style", "story": "故事 / story"}
FORMAT_LABELS = {"chat": "chat", "legacy": "legacy", "local": "本地 / local", "csv": "CSV"}
FORMAT_INFO = ("chat: OpenAI gpt-4o / gpt-4.1 · legacy: babbage / davinci · 本地 / local: 在这台电脑上训练 / train on "
               "this computer · CSV: 表格 / spreadsheet")
CHEAP_MODEL = "gpt-4o-mini-2024-07-18"


def report_markdown(r: CheckReport) -> str:
    """A short zh/en summary a parent can read, the problems with their lines, then the details."""
    head = "✅ 可以训练 / Ready to train" if r.ok else "⛔ 还不能训练 / Not ready to train"
    facts = [f"**{r.examples}** 个例子 / examples", f"每个约 / about **{r.tokens.mean:.0f}** tokens",
             f"默认 / default **{r.epochs}** 轮 / epochs"]
    model = CHEAP_MODEL if CHEAP_MODEL in r.costs_usd else next(iter(r.costs_usd), None)
    if model:
        facts.append(f"用 / on {model.split('-20')[0]} 训练约 / training ≈ **${r.costs_usd[model]:,.2f}**")
    lines = [f"### {head}", " · ".join(facts), ""]
    for i in r.issues:
        mark = "⛔" if i.severity == "error" else "⚠️"
        where = f" — 行 / line {', '.join(map(str, i.lines))}" if i.lines else ""
        count = f" (x{i.count})" if i.count > 1 and i.code != "format_error" else ""
        lines.append(f"- {mark} {ISSUE_ZH.get(i.code, i.code)} / {escape_markdown(i.message)}{count}{where}")
    details = r.text(preview=False)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", details)), default=0))  # nothing closes it early
    return "\n".join(lines) + f"\n\n{fence}text\n{details}\n{fence}"


def preview_rows(r: CheckReport) -> list[list[str]]:
    keys = list(r.preview[0]) if r.preview else []
    return [[str(p.get(k, "")) for k in keys] for p in r.preview]


def problem_markdown(e: Exception) -> str:
    return f"### ⚠️ 这个文件有问题 / This file has a problem\n{escape_markdown(_friendly(e))}"


def _warn(message: str) -> None:
    gr.Warning(html.escape(message))  # toasts render HTML; the message may quote a file or a field


def _checked(path: str):
    """(report markdown, preview update, dataset path, dataset info) for a file just checked."""
    report = check(path)
    keys = list(report.preview[0]) if report.preview else []
    widths = ["10%", "12%", "10%", "68%"] if keys == list(HEADERS) else _widths(len(keys))
    info = {"source": path, "train": None, "val": None, "format": None, "ok": report.ok}
    preview = gr.update(value=preview_rows(report), headers=[HEADERS.get(k, k) for k in keys],
                        column_widths=widths, visible=bool(keys))
    return report_markdown(report), preview, path, info


def _widths(n: int) -> list[str] | None:
    """The last column (the story) gets most of the room; no squeezed one-letter-per-line headers."""
    if n < 2:
        return None
    rest = 40 // (n - 1)
    return [f"{rest}%"] * (n - 1) + [f"{100 - rest * (n - 1)}%"]


def _missing_choice(dynasties, powers, styles, model="-") -> str | None:
    if not str(model or "").strip():
        return "请选一个生成用的模型 / Choose the model that writes the stories."
    for values, zh, en in ((dynasties, "朝代", "dynasty"), (powers, "超能力", "power"), (styles, "风格", "style")):
        if not [v for v in (values or []) if str(v).strip()]:
            return f"请至少选一个{zh} / Choose at least one {en}."
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
    if missing := _missing_choice(dynasties, powers, styles, model):
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
        _warn(_friendly(e))
        yield (f"⚠️ {escape_markdown(_friendly(e))}",) + keep
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
            yield (f"⏳ {_bar(p.done + p.failed, p.total)} {p.line()}",) + keep
    except GeneratorExit:  # the page went away: stop the run, keep what is written
        cancel.set()
        raise
    finally:
        session.running = False
    if "error" in box:
        msg = _friendly(box["error"])
        _warn(msg)
        kept = (f"\n\n已写好的故事都保存在 {out.name}，再按「生成」会接着写 / Stories already written are kept in "
                f"{out.name}; press Generate again to go on." if _has_stories(out) else "")
        yield (f"⚠️ {escape_markdown(msg)}{kept}",) + keep
        return
    res = box["result"]
    status = (f"{'⏹ 已停止 / Stopped' if res.stopped else '✅ 完成 / Done'}: {res.written} new, "
              f"{res.skipped} already there, {len(res.failed)} failed → {out.name}")
    if res.failed:
        status += "\n\n失败的故事再按一次「生成」会重试 / Press Generate again to retry the failed ones."
    try:
        md, prev, path, info = _checked(str(out))
    except StorytellerError as e:
        yield (status + f"\n\n⚠️ {escape_markdown(e)}", _file(out), gr.update(), gr.update(), gr.update(), gr.update())
        return
    yield status, _file(out), md, prev, path, info


def _file(path) -> dict:
    """A download box that only shows when there is something to download."""
    return gr.update(value=str(path), visible=True) if path.exists() else gr.update(value=None, visible=False)


def stop_generate(session: DataSession):
    if not session.running:  # nothing to stop: keep the last run's result on screen
        return gr.update()
    session.cancel.set()
    return "⏹ 正在停止，已写好的故事会保留 / Stopping; stories already written are kept."


def on_upload(file, visitor: Visitor | None = None):
    """Copy the upload into the family's workspace, then check the copy (training reads only there)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    if not file:  # the file was removed: forget it, so Prepare cannot use it
        return "", gr.update(value=[], visible=False), None, {}
    try:
        saved = workspace.save_upload(file, visitor.scope)
    except (StorytellerError, OSError) as e:
        _warn(_friendly(e))
        return problem_markdown(e), gr.update(value=[], visible=False), None, {}
    try:
        return _checked(str(saved))
    except StorytellerError as e:
        saved.unlink(missing_ok=True)  # not a dataset: keep no copy (the parent still has the file)
        _warn(_friendly(e))
        return problem_markdown(e), gr.update(value=[], visible=False), None, {}


def run_prepare(path, fmt, val, seed, info, visitor: Visitor | None = None):
    """Prepare from the checked source (not from an earlier prepared file)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    path = (info or {}).get("source") or path
    if not path:
        msg = "先生成或上传一个数据集 / Generate or upload a dataset first."
        _warn(msg)
        return f"⚠️ {msg}", gr.update(value=None, visible=False), path, info
    try:
        source = workspace.resolve(workspace.relative_name(path, visitor.scope), visitor.scope)
        res = prepare(source, fmt, workspace.prepared_dir(visitor.scope), val=float(val or 0), seed=int(seed or 0))
    except (StorytellerError, ValueError, TypeError) as e:
        _warn(_friendly(e))
        return f"⚠️ {escape_markdown(_friendly(e))}", gr.update(value=None, visible=False), path, info
    files = [str(res.train_path)] + ([str(res.val_path)] if res.val_path else [])
    msg = (f"✅ 训练 / train **{res.train_count}** · 验证 / validation **{res.val_count}** ({res.format})"
           + (f" · 去掉了 / left out {res.dropped_empty} 个空的 / empty, {res.dropped_duplicates} 个重复的 / duplicates"
              if res.dropped_empty or res.dropped_duplicates else "")
           + "  \n在下面下载，或到「训练」页直接使用 / Download below, or use them on the Training tab.")
    info = dict(info or {}) | {"source": path, "train": files[0], "val": files[1] if len(files) > 1 else None,
                               "format": res.format}
    return msg, gr.update(value=files, visible=True), files[0], info


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "▓" * filled + "░" * (width - filled)


def _friendly(e: Exception) -> str:
    if isinstance(e, StorytellerError):
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e} ({e.filename or ''})"
    if hasattr(e, "errors"):  # pydantic: name the field, skip the internals
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
    return f"{type(e).__name__}: {e}"


def render(ctx: UIContext) -> None:
    cat = get_catalog()
    session = gr.State(DataSession())  # copied per session; a class here would be a public API endpoint
    dataset_path = gr.State(None)
    dataset_info = gr.State({})
    ctx.dataset_path, ctx.extra["dataset"] = dataset_path, dataset_info
    models = list(getattr(ctx.model, "choices", None) or []) if ctx.model is not None else []
    model_choices = [c[1] if isinstance(c, tuple) else c for c in models] or ctx.settings.openai.models
    model_choices = [("故事世界（离线，不用模型）/ Story world (offline, no model)", WORLD_ID),
                     *[(c, c) for c in model_choices if c != WORLD_ID]]

    gr.Markdown(INTRO, elem_id="data-intro")
    with gr.Accordion("🧪 ① 生成数据集 / Generate a dataset", open=True):
        with gr.Row():
            model = gr.Dropdown(model_choices, value=WORLD_ID,
                                allow_custom_value=True, label="生成用的模型 / Generating model", elem_id="data-model")
            lang = gr.Radio([("中文", "zh"), ("English", "en")], value="zh", label="语言 / Language")
        with gr.Row():
            dynasties = gr.Dropdown(cat.choices("dynasty", "zh"), value=["唐"], multiselect=True,
                                    allow_custom_value=True, label="朝代 / Dynasties", elem_id="data-dynasties")
            powers = gr.Dropdown(cat.choices("power", "zh"), value=["隐形"], multiselect=True,
                                 allow_custom_value=True, label="超能力 / Powers", elem_id="data-powers")
            styles = gr.Dropdown(cat.choices("style", "zh"), value=["轻松"], multiselect=True,
                                 allow_custom_value=True, label="风格 / Styles", elem_id="data-styles")
        with gr.Row():
            repeats = gr.Slider(1, 20, value=1, step=1, label="每种组合几个 / Repeats per combination")
            concurrency = gr.Slider(1, 16, value=4, step=1, label="同时请求 / Concurrency")
            name = gr.Textbox("stories", label="文件名 / File name (same name resumes)", elem_id="data-name")
            fmt = gr.Radio(["csv", "jsonl"], value="csv", label="格式 / Format")
        template = gr.Textbox(DEFAULT_TEMPLATE["zh"], lines=4, label="写作提示 / Prompt template "
                              "({dynasty} {power} {style} {hero} {fact} {length})", elem_id="data-template")
        with gr.Row():
            gen_btn = gr.Button("🧪 生成 / Generate", variant="primary", elem_id="data-generate")
            stop_btn = gr.Button("⏹ 停止 / Stop", variant="stop", elem_id="data-stop")
        status = gr.Markdown("", elem_id="data-status")
        generated = gr.File(label="生成的数据集 / Generated dataset", interactive=False, visible=False,
                            elem_id="data-generated")

    with gr.Accordion("📤 ② 上传数据集 / Upload a dataset", open=True):
        upload = gr.File(file_types=[".csv", ".jsonl", ".json"], type="filepath", height=120,
                         label="CSV（列 / columns: dynasty, super_power, story_type, story）或 / or JSONL",
                         elem_id="data-upload")

    report = gr.Markdown("", elem_id="data-report")
    preview = gr.Dataframe(value=[], interactive=False, wrap=True, max_height=320, visible=False,
                           label="预览 / Preview", elem_id="data-preview")

    with gr.Accordion("🧰 ③ 准备训练文件 / Prepare for training", open=True):
        with gr.Row():
            pfmt = gr.Radio([(FORMAT_LABELS.get(f, f), f) for f in FORMATS], value="chat", scale=2,
                            label="格式 / Format", info=FORMAT_INFO, elem_id="data-prepare-format")
            val = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="验证集比例 / Validation share")
            seed = gr.Number(42, precision=0, label="随机种子 / Seed")
        prep_btn = gr.Button("🧰 准备 / Prepare", variant="secondary", elem_id="data-prepare")
        prep_status = gr.Markdown("", elem_id="data-prepare-status")
        prepared = gr.File(label="训练文件 / Training files", file_count="multiple", interactive=False,
                           visible=False, elem_id="data-prepared")

    lang.change(lambda lg: gr.update(value=DEFAULT_TEMPLATE[lg]), lang, template, queue=False,
                api_visibility="private")
    who = [ctx.visitor] if ctx.visitor is not None else []
    api = "private" if ctx.public else "public"  # public mode: only the story endpoints are in the API
    gen_btn.click(run_generate, [model, dynasties, powers, styles, repeats, concurrency, template, lang, name,
                                 fmt, session, *who],
                  [status, generated, report, preview, dataset_path, dataset_info],
                  api_name="generate_dataset", api_visibility=api, concurrency_limit=2, concurrency_id="datagen")
    stop_btn.click(stop_generate, session, status, queue=False, api_visibility="private")
    upload.change(on_upload, [upload, *who], [report, preview, dataset_path, dataset_info],
                  api_name="check_dataset", api_visibility=api)
    prep_btn.click(run_prepare, [dataset_path, pfmt, val, seed, dataset_info, *who],
                   [prep_status, prepared, dataset_path, dataset_info], api_name="prepare_dataset",
                   api_visibility=api)

"""The Data tab: generate a story dataset, or upload one; see its check report; prepare it.

Thin handlers over storyteller.data: generation runs in a worker thread and the handler streams
its progress (done/total, ETA, tokens, cost); Stop sets this session's cancel event and keeps
every story already written, so pressing Generate again with the same name resumes. The
dataset the tab last checked or prepared is published as `ctx.dataset_path` (a path string in
gr.State) for the Training tab; `ctx.extra["dataset"]` holds {"source", "train", "val", "format"}.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import gradio as gr

from storyteller.catalog import get_catalog
from storyteller.data import workspace
from storyteller.data.check import CheckReport, check
from storyteller.data.generate import DEFAULT_TEMPLATE, GenerateSpec, generate
from storyteller.data.prepare import FORMATS, prepare
from storyteller.errors import StorytellerError
from storyteller.ui.context import UIContext


class DataSession:
    """Per-browser-session state: the running generation's stop signal."""

    def __init__(self):
        self.cancel = threading.Event()

    def __deepcopy__(self, memo) -> "DataSession":  # gr.State copies its initial value per session
        return DataSession()

    def start(self) -> threading.Event:
        self.cancel.set()
        self.cancel = threading.Event()
        return self.cancel


def report_markdown(r: CheckReport) -> str:
    head = "✅ 可以训练 / Ready to train" if r.ok else "⛔ 还不能训练 / Not ready to train"
    return f"### {head}\n```text\n{r.text()}\n```"


def preview_rows(r: CheckReport) -> list[list[str]]:
    keys = list(r.preview[0]) if r.preview else []
    return [[str(p.get(k, "")) for k in keys] for p in r.preview]


def _checked(path: str):
    """(report markdown, preview update, dataset path, dataset info) for a file just checked."""
    report = check(path)
    keys = list(report.preview[0]) if report.preview else []
    info = {"source": path, "train": None, "val": None, "format": None, "ok": report.ok}
    return report_markdown(report), gr.update(value=preview_rows(report), headers=keys), path, info


def run_generate(model, dynasties, powers, styles, repeats, concurrency, template, lang, name, fmt,
                 session: DataSession) -> Iterator[tuple]:
    """Stream progress lines; at the end show the check report and offer the file."""
    keep = (gr.update(), gr.update(), gr.update(), gr.update(), gr.update())
    try:
        spec = GenerateSpec(model_id=model, dynasties=list(dynasties or []), powers=list(powers or []),
                            styles=list(styles or []), repeats=int(repeats), concurrency=int(concurrency),
                            template=(template or "").strip() or None, lang=lang)
    except (StorytellerError, ValueError) as e:
        gr.Warning(_friendly(e))
        yield (f"⚠️ {_friendly(e)}",) + keep
        return
    out = workspace.output_path(name, fmt)
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

    threading.Thread(target=work, daemon=True, name="datagen-ui").start()
    try:
        yield (f"⏳ {out.name} …",) + keep
        while (p := updates.get()) is not None:
            yield (f"⏳ {_bar(p.done + p.failed, p.total)} {p.line()}",) + keep
    except GeneratorExit:  # the page went away: stop the run, keep what is written
        cancel.set()
        raise
    if "error" in box:
        msg = _friendly(box["error"])
        gr.Warning(msg)
        yield (f"⚠️ {msg} — 已写入的故事都保存在 {out.name}，再按「生成」会接着写。",) + keep
        return
    res = box["result"]
    status = (f"{'⏹ 已停止 / Stopped' if res.stopped else '✅ 完成 / Done'}: {res.written} new, "
              f"{res.skipped} already there, {len(res.failed)} failed → {out.name}")
    if res.failed:
        status += "\n\n失败的故事再按一次「生成」会重试 / Press Generate again to retry the failed ones."
    try:
        md, prev, path, info = _checked(str(out))
    except StorytellerError as e:
        yield (status + f"\n\n⚠️ {e}", str(out) if out.exists() else None, gr.update(), gr.update(), gr.update(),
               gr.update())
        return
    yield status, str(out), md, prev, path, info


def stop_generate(session: DataSession) -> str:
    session.cancel.set()
    return "⏹ 正在停止，已写好的故事会保留 / Stopping; stories already written are kept."


def on_upload(file):
    if not file:
        return gr.update(), gr.update(), gr.update(), gr.update()
    try:
        return _checked(file)
    except StorytellerError as e:
        gr.Warning(str(e))
        return f"⚠️ {e}", gr.update(value=[]), None, {}


def run_prepare(path, fmt, val, seed, info):
    """Prepare from the checked source (not from an earlier prepared file)."""
    path = (info or {}).get("source") or path
    if not path:
        gr.Warning("先生成或上传一个数据集 / Generate or upload a dataset first.")
        return gr.update(), None, path, info
    try:
        res = prepare(path, fmt, workspace.prepared_dir(), val=float(val), seed=int(seed))
    except StorytellerError as e:
        gr.Warning(str(e))
        return f"⚠️ {e}", None, path, info
    files = [str(res.train_path)] + ([str(res.val_path)] if res.val_path else [])
    msg = (f"✅ train {res.train_count} · val {res.val_count} ({res.format})"
           + (f" · left out {res.dropped_empty} empty, {res.dropped_duplicates} duplicates"
              if res.dropped_empty or res.dropped_duplicates else ""))
    info = dict(info or {}) | {"source": path, "train": files[0], "val": files[1] if len(files) > 1 else None,
                               "format": res.format}
    return msg, files, files[0], info


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "▓" * filled + "░" * (width - filled)


def _friendly(e: Exception) -> str:
    if isinstance(e, StorytellerError):
        return str(e)
    if hasattr(e, "errors"):  # pydantic: name the field, skip the internals
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
    return f"{type(e).__name__}: {e}"


def render(ctx: UIContext) -> None:
    cat = get_catalog()
    session = gr.State(DataSession)
    dataset_path = gr.State(None)
    dataset_info = gr.State({})
    ctx.dataset_path, ctx.extra["dataset"] = dataset_path, dataset_info
    models = list(getattr(ctx.model, "choices", None) or []) if ctx.model is not None else []
    model_choices = [c[1] if isinstance(c, tuple) else c for c in models] or ctx.settings.openai.models

    with gr.Accordion("🧪 生成数据集 / Generate a dataset", open=True):
        with gr.Row():
            model = gr.Dropdown(model_choices, value=model_choices[0] if model_choices else None,
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
        generated = gr.File(label="生成的数据集 / Generated dataset", interactive=False, elem_id="data-generated")

    with gr.Accordion("📤 上传数据集 / Upload a dataset (CSV or JSONL)", open=False):
        upload = gr.File(file_types=[".csv", ".jsonl", ".json"], type="filepath", label="CSV / JSONL",
                         elem_id="data-upload")

    report = gr.Markdown("", elem_id="data-report")
    preview = gr.Dataframe(value=[], interactive=False, wrap=True, label="预览 / Preview", elem_id="data-preview")

    with gr.Accordion("🧰 准备训练文件 / Prepare for training", open=True):
        with gr.Row():
            pfmt = gr.Radio(list(FORMATS), value="chat", label="格式 / Format")
            val = gr.Slider(0.0, 0.5, value=0.1, step=0.05, label="验证集比例 / Validation share")
            seed = gr.Number(42, precision=0, label="随机种子 / Seed")
        prep_btn = gr.Button("🧰 准备 / Prepare", variant="secondary", elem_id="data-prepare")
        prep_status = gr.Markdown("", elem_id="data-prepare-status")
        prepared = gr.File(label="训练文件 / Training files", file_count="multiple", interactive=False,
                           elem_id="data-prepared")

    lang.change(lambda lg: gr.update(value=DEFAULT_TEMPLATE[lg]), lang, template, queue=False,
                api_visibility="private")
    gen_btn.click(run_generate, [model, dynasties, powers, styles, repeats, concurrency, template, lang, name,
                                 fmt, session],
                  [status, generated, report, preview, dataset_path, dataset_info],
                  api_name="generate_dataset", concurrency_limit=2, concurrency_id="datagen")
    stop_btn.click(stop_generate, session, status, queue=False, api_visibility="private")
    upload.change(on_upload, upload, [report, preview, dataset_path, dataset_info],
                  api_name="check_dataset")
    prep_btn.click(run_prepare, [dataset_path, pfmt, val, seed, dataset_info],
                   [prep_status, prepared, dataset_path, dataset_info], api_name="prepare_dataset")

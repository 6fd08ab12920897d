"""The Training tab: turn a dataset into a new storyteller, locally or on OpenAI, and watch it learn.

Handlers are thin: they call storyteller.finetune (plan, start, status, cancel, resume). The job
list comes from the database on every tick of a gr.Timer, so a reloaded page reattaches to
running jobs; the selected job lives in the page's own dropdown (per session). A finished job's
"Try it" switches to the story tab with the new model selected.

Datasets are picked from the family's workspace (`data.workspace`: uploads are copied there first),
never typed as paths; base models only from the list. Each family sees only its own jobs (another
family's job id reads as "no such job"); locally the one user sees them all. In public mode every
handler asks for a parent first, and the timer starts only once a parent has unlocked the page.
"""

from __future__ import annotations

import html
import re
import time

import gradio as gr
import pandas as pd
from pydantic import ValidationError

from storyteller.data import workspace
from storyteller.errors import InputError, StorytellerError
from storyteller.finetune import JobSpec, JobStore, base_models, get_provider, provider_for
from storyteller.plaintext import escape_markdown
from storyteller.ui.context import STORY_TAB, UIContext
from storyteller.ui.visitor import Visitor

PLOT_COLUMNS = ["step", "loss", "series"]


def _store(visitor: Visitor | None = None) -> JobStore:
    """The jobs this page may see: its family's in public mode, all of them locally."""
    return (visitor or Visitor()).jobs()


def _split(args: tuple) -> tuple[tuple, Visitor]:
    """(the form's values, the page's Visitor): the visitor comes last when the app wires it."""
    if args and isinstance(args[-1], Visitor):
        return args[:-1], args[-1]
    return args, Visitor()


def _fenced(text: str) -> str:
    """`text` in a code block no line of it can close early."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def _num(v, cast=float):
    """A number box's value; empty or 0 means "let the provider choose"."""
    return None if v in (None, "", 0) or (isinstance(v, float) and v != v) else cast(v)


def make_spec(provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix, allow_unsafe=False,
              visitor: Visitor | None = None) -> JobSpec:
    """The form -> a validated JobSpec (friendly errors for missing or wrong values). `data` and
    `val` name files in the family's workspace; `base` must be one the list offers."""
    visitor = visitor or Visitor()
    if not data:
        raise StorytellerError("Choose a dataset first: upload one or use the Data tab's.")
    if provider not in ("local", "openai"):
        raise InputError("Train on local or openai. 请选择 local 或 openai。")
    base = base.strip() if isinstance(base, str) else ""
    if base not in base_models(provider, visitor.jobs()):
        raise InputError(f"There is no base model '{base[:80]}' in the list. 请从列表里选一个基础模型。",
                         "Choose a base model from the list.")
    train = workspace.resolve(data, visitor.scope)
    val = workspace.resolve(val, visitor.scope) if val else None
    name = name if isinstance(name, str) else ""
    try:
        return JobSpec(provider=provider, base_model=base, train_file=str(train),
                       val_file=str(val) if val else None, name=name.strip()[:200] or None,
                       n_epochs=_num(epochs, int), batch_size=_num(batch, int),
                       learning_rate=_num(lr) if provider == "local" else None,
                       learning_rate_multiplier=_num(lr_mult) if provider == "openai" else None,
                       max_steps=_num(steps, int) if provider == "local" else None,
                       mix_share=_num(mix) if provider == "local" else None, allow_unsafe=bool(allow_unsafe))
    except ValidationError as e:
        raise StorytellerError("Some settings are not valid: " + "; ".join(
            f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())) from None


def preview(*args):
    """Validate and show the exact job settings and the cost or time, without starting anything."""
    form, visitor = _split(args)
    visitor.require_parent()
    try:
        spec = make_spec(*form, visitor=visitor)
        plan = get_provider(spec.provider, visitor.jobs()).plan(spec)
    except StorytellerError as e:
        return gr.update(value=None), f"**Not ready / 还不能开始:** {escape_markdown(e)}"
    report = f"\n\n{_fenced(plan.report)}" if plan.report else ""
    return plan.settings, f"**预计 / Estimate:** {plan.estimate}{report}"


def launch(*args):
    form, visitor = _split(args)
    visitor.require_parent()
    try:
        spec = make_spec(*form, visitor=visitor)
        job = get_provider(spec.provider, visitor.jobs()).start(spec)
    except StorytellerError as e:
        gr.Warning(html.escape(str(e)))
        return gr.update(), f"**Could not start / 无法开始:** {escape_markdown(e)}"
    return gr.update(choices=job_choices(visitor), value=job.id), f"Started {job.id}"


def job_choices(visitor: Visitor | None = None) -> list[tuple[str, str]]:
    return [(f"{time.strftime('%m-%d %H:%M', time.localtime(j.created))} {j.name} [{j.provider}] {j.status}", j.id)
            for j in _store(visitor).list_jobs(limit=50)]


def metrics_frame(rows) -> pd.DataFrame:
    out = [{"step": r.step, "loss": r.train_loss, "series": "train"} for r in rows if r.train_loss is not None]
    out += [{"step": r.step, "loss": r.valid_loss, "series": "validation"} for r in rows if r.valid_loss is not None]
    frame = pd.DataFrame(out, columns=PLOT_COLUMNS)  # typed even when empty, so the axes are numeric
    return frame.astype({"step": "int64", "loss": "float64", "series": "object"})


def status_text(job) -> str:
    lines = [f"**{job.name}** · {job.provider} · **{job.status}**"]
    if job.total_steps:
        pct = 100 * job.step / job.total_steps
        eta = job.extra.get("eta_s")
        lines.append(f"step {job.step}/{job.total_steps} ({pct:.0f}%)" + (f" · ETA {eta:.0f} s" if eta else ""))
    if job.extra.get("plan"):
        lines.append(f"estimate: {job.extra['plan']}")
    if job.result_model:
        lines.append(f"model: `{job.result_model}`")
    if job.error:
        lines.append(f"error: {escape_markdown(job.error)}")
    return "  \n".join(lines)


def poll(job_id, visitor: Visitor | None = None):
    """One timer tick: refresh the job list (reattach to the newest running job) and the chosen job.
    A page no parent has unlocked gets nothing (and no error every tick)."""
    visitor = visitor or Visitor()
    if not visitor.trusted:
        return (gr.skip(),) * 7
    choices = job_choices(visitor)
    ids = [c[1] for c in choices]
    if not job_id or job_id not in ids:
        running = [j for j in _store(visitor).list_jobs(limit=50) if not j.done]
        job_id = running[0].id if running else (ids[0] if ids else None)
    if not job_id:
        return (gr.update(choices=choices), "No jobs yet / 还没有训练任务", metrics_frame([]), "",
                gr.update(visible=False), gr.update(visible=False), gr.update(visible=False))
    store = _store(visitor)
    try:
        job = provider_for(store.get_job(job_id), store).status(job_id)
    except StorytellerError as e:
        return (gr.update(choices=choices, value=None), f"**{escape_markdown(e)}**", gr.update(), gr.update(),
                gr.update(), gr.update(), gr.update())
    events = store.events(job.id)[-200:]
    log = "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(e.created))} {e.level:7} {e.message}" for e in events)
    return (gr.update(choices=choices, value=job_id), status_text(job), metrics_frame(store.metrics(job.id)), log,
            gr.update(visible=not job.done), gr.update(visible=job.status in ("failed", "cancelled")),
            gr.update(visible=job.status == "succeeded" and bool(job.result_model)))


def cancel(job_id, visitor: Visitor | None = None):
    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        store = _store(visitor)
        provider_for(store.get_job(job_id), store).cancel(job_id)
    except StorytellerError as e:
        gr.Warning(html.escape(str(e)))


def resume(job_id, visitor: Visitor | None = None):
    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        store = _store(visitor)
        job = provider_for(store.get_job(job_id), store).resume(job_id)
        return gr.update(choices=job_choices(visitor), value=job.id)
    except StorytellerError as e:
        gr.Warning(html.escape(str(e)))
        return gr.update()


def try_it(job_id, visitor: Visitor | None = None):
    """Switch to the story tab with the fine-tuned model selected."""
    from storyteller import studio

    visitor = visitor or Visitor()
    visitor.require_parent()
    try:
        job = _store(visitor).get_job(job_id)
    except StorytellerError as e:
        gr.Warning(html.escape(str(e)))
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
    """The check report of the chosen workspace dataset."""
    from storyteller.data.check import check

    visitor = visitor or Visitor()
    if not name or not visitor.trusted:
        return ""
    try:
        return _fenced(check(workspace.resolve(name, visitor.scope)).text())
    except StorytellerError as e:
        return f"**{escape_markdown(e)}**"


def datasets(visitor: Visitor | None = None, chosen: str | None = None):
    """The dataset pickers' choices: the family's workspace files (everyone's locally)."""
    visitor = visitor or Visitor()
    if not visitor.trusted:
        return gr.skip()
    names = workspace.list_datasets(visitor.scope)
    return gr.update(choices=names, value=chosen if chosen in names else gr.skip())


def take_upload(file, visitor: Visitor | None = None):
    """An upload goes into the family's workspace; the picker then selects it."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    if not file:
        return gr.skip()
    try:
        saved = workspace.save_upload(file, visitor.scope)
    except (StorytellerError, OSError) as e:
        gr.Warning(html.escape(str(e)))
        return gr.skip()
    return datasets(visitor, workspace.relative_name(saved, visitor.scope))


def use_data_tab_dataset(path, visitor: Visitor | None = None):
    """Pick the Data tab's dataset (it is in the family's workspace)."""
    visitor = visitor or Visitor()
    visitor.require_parent()
    name = workspace.relative_name(path, visitor.scope) if path else None
    return datasets(visitor, name) if name else gr.skip()


def render(ctx: UIContext) -> None:
    s = ctx.settings
    with gr.Row():
        provider = gr.Radio(["local", "openai"], value="local", label="在哪里训练 / Train on", elem_id="ft-provider")
        base = gr.Dropdown(base_models("local"), value=(base_models("local") or [None])[0], allow_custom_value=False,
                           label="基础模型 / Base model (embedded, local folder, previous fine-tune, OpenAI, ft:)",
                           elem_id="ft-base")
        name = gr.Textbox(label="新模型名字 / New model name (OpenAI: suffix)", elem_id="ft-name")
    with gr.Row():
        upload = gr.File(label="上传数据 / Upload stories (CSV/JSONL)", file_types=[".csv", ".jsonl"],
                         elem_id="ft-upload")
        with gr.Column():
            names = [] if ctx.public else workspace.list_datasets()  # public: each family's, once unlocked
            data = gr.Dropdown(names, value=None, label="数据集 / Dataset (uploads and the Data tab's files)",
                               elem_id="ft-data")
            use_data_tab = gr.Button("用数据页的数据 / Use the Data tab's dataset", size="sm",
                                     visible=ctx.dataset_path is not None)
            val = gr.Dropdown(names, value=None, label="验证文件 / Validation file (optional)", elem_id="ft-val")
    report = gr.Markdown(elem_id="ft-report")
    with gr.Accordion("参数 / Settings", open=False):
        with gr.Row():
            epochs = gr.Number(None, label="epochs (empty: auto)", precision=0, elem_id="ft-epochs")
            batch = gr.Number(None, label="batch size (empty: auto)", precision=0, elem_id="ft-batch")
            lr = gr.Number(None, label="learning rate (local)", elem_id="ft-lr")
            lr_mult = gr.Number(None, label="learning rate multiplier (OpenAI)", elem_id="ft-lr-mult")
            steps = gr.Number(None, label="max steps (local)", precision=0, elem_id="ft-steps")
            mix = gr.Slider(0, 0.9, value=s.training.mix_share, step=0.05, elem_id="ft-mix",
                            label="旧故事比例 / Share of earlier stories mixed in (local)")
    allow_unsafe = gr.Checkbox(False, elem_id="ft-allow-unsafe",
                               label="我看过了，仍用不适合孩子的故事训练 / I have read them: train on stories the "
                                     "safety check flags")
    with gr.Row():
        preview_btn = gr.Button("预览 / Preview", elem_id="ft-preview")
        launch_btn = gr.Button("开始训练 / Launch", variant="primary", elem_id="ft-launch")
    estimate = gr.Markdown(elem_id="ft-estimate")
    settings_json = gr.JSON(label="任务设置 / Job settings", elem_id="ft-settings")
    gr.Markdown("### 训练任务 / Jobs")
    with gr.Row():
        job = gr.Dropdown([] if ctx.public else job_choices(), value=None, label="任务 / Job", elem_id="ft-job",
                          scale=3)
        cancel_btn = gr.Button("停止 / Cancel", variant="stop", visible=False, elem_id="ft-cancel")
        resume_btn = gr.Button("继续 / Resume", visible=False, elem_id="ft-resume")
        try_btn = gr.Button("试一试 / Try it", variant="primary", visible=False, elem_id="ft-try")
    status = gr.Markdown(elem_id="ft-status")
    plot = gr.LinePlot(metrics_frame([]), x="step", y="loss", color="series", title="loss", elem_id="ft-plot",
                       height=280)
    logs = gr.Textbox(label="日志 / Log", lines=8, max_lines=12, autoscroll=True, elem_id="ft-log")
    timer = gr.Timer(s.training.poll_s, active=not ctx.public)  # public: started when a parent unlocks
    ctx.extra["training_timer"] = timer
    who = [ctx.visitor] if ctx.visitor is not None else []

    form = [provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix, allow_unsafe]
    provider.change(lambda p: gr.update(choices=base_models(p), value=(base_models(p) or [None])[0]), provider, base,
                    api_visibility="private")
    upload.upload(take_upload, [upload, *who], data, api_visibility="private")
    for picker in (data, val):
        picker.focus(lambda v=None: datasets(v), who, picker, api_visibility="private", queue=False)
    data.change(check_dataset, [data, *who], report, api_visibility="private")
    if ctx.dataset_path is not None:
        use_data_tab.click(use_data_tab_dataset, [ctx.dataset_path, *who], data, api_visibility="private")
    preview_btn.click(preview, form + who, [settings_json, estimate], api_visibility="private")
    launch_btn.click(preview, form + who, [settings_json, estimate], api_visibility="private").then(
        launch, form + who, [job, estimate], api_visibility="private")
    outs = [job, status, plot, logs, cancel_btn, resume_btn, try_btn]
    timer.tick(poll, [job, *who], outs, api_visibility="private", show_progress="hidden")
    job.input(poll, [job, *who], outs, api_visibility="private")
    cancel_btn.click(cancel, [job, *who], None, api_visibility="private")
    resume_btn.click(resume, [job, *who], job, api_visibility="private")
    if ctx.tabs is not None and ctx.model is not None:
        try_btn.click(try_it, [job, *who], [ctx.tabs, ctx.model], api_visibility="private")

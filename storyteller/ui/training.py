"""The Training tab: turn a dataset into a new storyteller, locally or on OpenAI, and watch it learn.

Handlers are thin: they call storyteller.finetune (plan, start, status, cancel, resume). The job
list comes from the database on every tick of a gr.Timer, so a reloaded page reattaches to
running jobs; the selected job lives in the page's own dropdown (per session). A finished job's
"Try it" switches to the story tab with the new model selected.
"""

from __future__ import annotations

import time

import gradio as gr
import pandas as pd
from pydantic import ValidationError

from storyteller.errors import StorytellerError
from storyteller.finetune import JobSpec, JobStore, base_models, get_provider, provider_for
from storyteller.ui.context import STORY_TAB, UIContext

PLOT_COLUMNS = ["step", "loss", "series"]


def _store() -> JobStore:
    return JobStore()


def _num(v, cast=float):
    """A number box's value; empty or 0 means "let the provider choose"."""
    return None if v in (None, "", 0) or (isinstance(v, float) and v != v) else cast(v)


def make_spec(provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix) -> JobSpec:
    """The form -> a validated JobSpec (friendly errors for missing or wrong values)."""
    if not data:
        raise StorytellerError("Choose a dataset first: upload one or use the Data tab's.")
    try:
        return JobSpec(provider=provider, base_model=(base or "").strip(), train_file=str(data),
                       val_file=str(val) if val else None, name=(name or "").strip() or None,
                       n_epochs=_num(epochs, int), batch_size=_num(batch, int),
                       learning_rate=_num(lr) if provider == "local" else None,
                       learning_rate_multiplier=_num(lr_mult) if provider == "openai" else None,
                       max_steps=_num(steps, int) if provider == "local" else None,
                       mix_share=_num(mix) if provider == "local" else None)
    except ValidationError as e:
        raise StorytellerError("Some settings are not valid: " + "; ".join(
            f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())) from None


def preview(*form):
    """Validate and show the exact job settings and the cost or time, without starting anything."""
    try:
        spec = make_spec(*form)
        plan = get_provider(spec.provider).plan(spec)
    except StorytellerError as e:
        return gr.update(value=None), f"**Not ready / 还不能开始:** {e}"
    report = f"\n\n```\n{plan.report}\n```" if plan.report else ""
    return plan.settings, f"**预计 / Estimate:** {plan.estimate}{report}"


def launch(*form):
    try:
        spec = make_spec(*form)
        job = get_provider(spec.provider).start(spec)
    except StorytellerError as e:
        gr.Warning(str(e))
        return gr.update(), f"**Could not start / 无法开始:** {e}"
    return gr.update(choices=job_choices(), value=job.id), f"Started {job.id}"


def job_choices() -> list[tuple[str, str]]:
    return [(f"{time.strftime('%m-%d %H:%M', time.localtime(j.created))} {j.name} [{j.provider}] {j.status}", j.id)
            for j in _store().list_jobs(limit=50)]


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
        lines.append(f"error: {job.error}")
    return "  \n".join(lines)


def poll(job_id):
    """One timer tick: refresh the job list (reattach to the newest running job) and the chosen job."""
    choices = job_choices()
    ids = [c[1] for c in choices]
    if not job_id or job_id not in ids:
        running = [j for j in _store().list_jobs(limit=50) if not j.done]
        job_id = running[0].id if running else (ids[0] if ids else None)
    if not job_id:
        return (gr.update(choices=choices), "No jobs yet / 还没有训练任务", metrics_frame([]), "",
                gr.update(visible=False), gr.update(visible=False), gr.update(visible=False))
    store = _store()
    try:
        job = provider_for(store.get_job(job_id), store).status(job_id)
    except StorytellerError as e:
        return (gr.update(choices=choices, value=job_id), f"**{e}**", gr.update(), gr.update(),
                gr.update(), gr.update(), gr.update())
    events = store.events(job.id)[-200:]
    log = "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(e.created))} {e.level:7} {e.message}" for e in events)
    return (gr.update(choices=choices, value=job_id), status_text(job), metrics_frame(store.metrics(job.id)), log,
            gr.update(visible=not job.done), gr.update(visible=job.status in ("failed", "cancelled")),
            gr.update(visible=job.status == "succeeded" and bool(job.result_model)))


def cancel(job_id):
    try:
        store = _store()
        provider_for(store.get_job(job_id), store).cancel(job_id)
    except StorytellerError as e:
        gr.Warning(str(e))


def resume(job_id):
    try:
        store = _store()
        job = provider_for(store.get_job(job_id), store).resume(job_id)
        return gr.update(choices=job_choices(), value=job.id)
    except StorytellerError as e:
        gr.Warning(str(e))
        return gr.update()


def try_it(job_id):
    """Switch to the story tab with the fine-tuned model selected."""
    from storyteller import studio

    job = _store().get_job(job_id)
    try:
        choices = studio.model_choices()
    except StorytellerError:
        choices = []
    if job.result_model not in [c[1] for c in choices]:
        choices.append((job.result_model, job.result_model))
    return gr.Tabs(selected=STORY_TAB), gr.update(choices=choices, value=job.result_model)


def check_dataset(path):
    from storyteller.data.check import check

    if not path:
        return ""
    try:
        return f"```\n{check(path).text()}\n```"
    except StorytellerError as e:
        return f"**{e}**"


def render(ctx: UIContext) -> None:
    s = ctx.settings
    with gr.Row():
        provider = gr.Radio(["local", "openai"], value="local", label="在哪里训练 / Train on", elem_id="ft-provider")
        base = gr.Dropdown(base_models("local"), value=(base_models("local") or [None])[0], allow_custom_value=True,
                           label="基础模型 / Base model (embedded, local folder, previous fine-tune, OpenAI, ft:)",
                           elem_id="ft-base")
        name = gr.Textbox(label="新模型名字 / New model name (OpenAI: suffix)", elem_id="ft-name")
    with gr.Row():
        upload = gr.File(label="上传数据 / Upload stories (CSV/JSONL)", file_types=[".csv", ".jsonl"],
                         elem_id="ft-upload")
        with gr.Column():
            data = gr.Textbox(label="数据文件 / Dataset path", elem_id="ft-data")
            use_data_tab = gr.Button("用数据页的数据 / Use the Data tab's dataset", size="sm",
                                     visible=ctx.dataset_path is not None)
            val = gr.Textbox(label="验证文件 / Validation file (optional)", elem_id="ft-val")
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
    with gr.Row():
        preview_btn = gr.Button("预览 / Preview", elem_id="ft-preview")
        launch_btn = gr.Button("开始训练 / Launch", variant="primary", elem_id="ft-launch")
    estimate = gr.Markdown(elem_id="ft-estimate")
    settings_json = gr.JSON(label="任务设置 / Job settings", elem_id="ft-settings")
    gr.Markdown("### 训练任务 / Jobs")
    with gr.Row():
        job = gr.Dropdown(job_choices(), value=None, label="任务 / Job", elem_id="ft-job", scale=3)
        cancel_btn = gr.Button("停止 / Cancel", variant="stop", visible=False, elem_id="ft-cancel")
        resume_btn = gr.Button("继续 / Resume", visible=False, elem_id="ft-resume")
        try_btn = gr.Button("试一试 / Try it", variant="primary", visible=False, elem_id="ft-try")
    status = gr.Markdown(elem_id="ft-status")
    plot = gr.LinePlot(metrics_frame([]), x="step", y="loss", color="series", title="loss", elem_id="ft-plot",
                       height=280)
    logs = gr.Textbox(label="日志 / Log", lines=8, max_lines=12, autoscroll=True, elem_id="ft-log")
    timer = gr.Timer(s.training.poll_s)

    form = [provider, base, data, val, name, epochs, batch, lr, lr_mult, steps, mix]
    provider.change(lambda p: gr.update(choices=base_models(p), value=(base_models(p) or [None])[0]), provider, base,
                    api_visibility="private")
    upload.upload(lambda f: f, upload, data, api_visibility="private")
    data.change(check_dataset, data, report, api_visibility="private")
    if ctx.dataset_path is not None:
        use_data_tab.click(lambda p: p or gr.update(), ctx.dataset_path, data, api_visibility="private")
    preview_btn.click(preview, form, [settings_json, estimate], api_visibility="private")
    launch_btn.click(preview, form, [settings_json, estimate], api_visibility="private").then(
        launch, form, [job, estimate], api_visibility="private")
    outs = [job, status, plot, logs, cancel_btn, resume_btn, try_btn]
    timer.tick(poll, job, outs, api_visibility="private", show_progress="hidden")
    job.input(poll, job, outs, api_visibility="private")
    cancel_btn.click(cancel, job, None, api_visibility="private")
    resume_btn.click(resume, job, job, api_visibility="private")
    if ctx.tabs is not None and ctx.model is not None:
        try_btn.click(try_it, job, [ctx.tabs, ctx.model], api_visibility="private")

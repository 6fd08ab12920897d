"""OpenAI fine-tuning jobs: upload, create, follow (events, metrics, result file), checkpoints, cancel.

Works with any server that speaks the fine-tuning API. Story files are converted on the fly
(chat examples, or prompt/completion for babbage-002/davinci-002) exactly as `storyteller data
prepare` would; the check report gives the cost before anything is uploaded. Continue training a
fine-tune by choosing its ft:... id as the base model. Events are read newest first and paged
with `after` until a known one, so each poll fetches only what is new.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import openai

from storyteller.config import get_settings
from storyteller.data import pricing
from storyteller.data.check import check
from storyteller.data.io import read_dataset
from storyteller.data.tokens import count_messages
from storyteller.data.prepare import convert, write_examples
from storyteller.data.unsafe import require_safe
from storyteller.errors import DataError, InputError, JobError
from storyteller.finetune.base import Checkpoint, Job, JobSpec, MetricRow, Plan, Provider
from storyteller.finetune.preference import Example, read_preferences
from storyteller.engines.ids import base_model, is_legacy_completion
from storyteller.engines.openai import friendly, make_client

MAX_EVENT_PAGES = 20  # never page forever (some servers always say has_more)




def result_rows(text: str) -> list[MetricRow]:
    """OpenAI's result file (CSV: step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy)."""
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        def num(key):
            v = (r.get(key) or "").strip()
            try:
                return float(v) if v else None
            except ValueError:
                return None
        if (step := num("step")) is not None:
            rows.append(MetricRow(step=int(step), train_loss=num("train_loss"), train_accuracy=num("train_accuracy"),
                                  valid_loss=num("valid_loss"),
                                  valid_mean_token_accuracy=num("valid_mean_token_accuracy")))
    return rows


def at_openai(base_url: str | None) -> bool:
    return not base_url or "api.openai.com" in base_url


def openai_dpo_line(e: Example) -> dict:
    """One checked pair as OpenAI's DPO input line."""
    return {"input": {"messages": e.prompt}, "preferred_output": [{"role": "assistant", "content": e.chosen}],
            "non_preferred_output": [{"role": "assistant", "content": e.rejected}]}


def dpo_tokens(spec: JobSpec) -> int:
    """Billed tokens of a DPO job (checked pairs, both stories) x epochs (3 when left to OpenAI)."""
    pairs = read_preferences(spec.train_file, "dpo", spec.allow_unsafe)
    if spec.val_file:
        read_preferences(spec.val_file, "dpo", spec.allow_unsafe)
    per_epoch = sum(count_messages(e.prompt + [{"role": "assistant", "content": e.chosen}]) +
                    count_messages([{"role": "assistant", "content": e.rejected}]) for e in pairs)
    return per_epoch * (spec.n_epochs or 3)


def where_it_trains(base_url: str | None, today: date | None = None) -> str:
    """Where an OpenAI-provider job trains; at OpenAI, how long it still takes new jobs."""
    if not at_openai(base_url):
        return f"Trains at {base_url} (an OpenAI-compatible fine-tuning server)."
    cutoff = date.fromisoformat(pricing.FINE_TUNING_CUTOFF)
    days = (cutoff - (today or date.today())).days
    after = ("set base_url (OPENAI_BASE_URL, or --base-url) to an OpenAI-compatible fine-tuning server, "
             "such as `storyteller serve` on a machine with a GPU")
    if days > 0:
        return (f"Trains at OpenAI, which takes new fine-tuning jobs until {cutoff} ({days} days from today); "
                f"after that, {after}.")
    return f"OpenAI stopped taking new fine-tuning jobs on {cutoff}: {after}."


class OpenAIProvider(Provider):
    name = "openai"

    def client(self, job: Job | None = None) -> openai.OpenAI:
        """The SDK client; for a job, the server it was started on (its `base_url`, kept with it)."""
        s = get_settings().openai
        url = (job.extra.get("base_url") if job else None) or s.resolved_base_url()
        return make_client(s.model_copy(update={"base_url": url}) if url else s)

    def _call(self, what: str, fn, *args, **kwargs):
        """One API call; SDK errors become friendly StorytellerErrors (no key in the text)."""
        try:
            return fn(*args, **kwargs)
        except openai.BadRequestError as e:
            raise JobError(f"OpenAI refused to {what}: {str(getattr(e, 'message', e))[:300]}",
                           "Check the base model (it must be fine-tunable) and the data file.") from None
        except openai.OpenAIError as e:
            s = get_settings().openai
            key = s.resolved_key()
            raise friendly(e, what, s.resolved_base_url(), key.get_secret_value() if key else None) from None

    def _hyper(self, spec: JobSpec) -> dict[str, Any]:
        h = {"n_epochs": spec.n_epochs, "batch_size": spec.batch_size,
             "learning_rate_multiplier": spec.learning_rate_multiplier}
        return {k: v for k, v in h.items() if v is not None}

    def job_params(self, spec: JobSpec, training_file: str, validation_file: str | None) -> dict[str, Any]:
        """The exact body of fine_tuning.jobs.create."""
        params: dict[str, Any] = {"model": spec.base_model.removeprefix("openai:"), "training_file": training_file}
        if validation_file:
            params["validation_file"] = validation_file
        if spec.name:
            params["suffix"] = spec.name
        params["seed"] = spec.seed
        hyper = self._hyper(spec)
        if spec.objective == "dpo":  # preference fine-tuning: only in the method form
            dpo = hyper | ({"beta": spec.beta} if spec.beta is not None else {})
            params["method"] = {"type": "dpo", "dpo": {"hyperparameters": dpo}}
        elif spec.method_form:
            params["method"] = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
        elif hyper:
            params["hyperparameters"] = hyper
        return params

    def _training_file(self, path: str, base: str, out_dir: Path, key: str, objective: str = "sft") -> Path:
        """The file to upload: chat/legacy files as they are, story files converted for `base`."""
        if objective == "dpo":  # any of the export's pair formats -> OpenAI's DPO lines
            dst = out_dir / f"{Path(path).stem}.{key}.dpo.jsonl"
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text("".join(json.dumps(openai_dpo_line(e), ensure_ascii=False) + "\n"
                                   for e in read_preferences(path, "dpo", allow_unsafe=True)), encoding="utf-8")
            return dst
        ds = read_dataset(Path(path))
        want = "legacy" if is_legacy_completion(base) else "chat"
        if ds.kind == want:
            return Path(path)
        if ds.kind != "stories":
            raise DataError(f"{Path(path).name} holds {ds.kind} examples, but {base} needs {want} examples.",
                            "Use the stories file, or prepare it with the matching --format.")
        examples, _, _ = convert(ds, want)
        dst = out_dir / f"{Path(path).stem}.{key}.{want}.jsonl"
        write_examples(examples, dst, want)
        return dst

    def plan(self, spec: JobSpec) -> Plan:
        if spec.provider != "openai":
            raise InputError("This job is not an OpenAI one.")
        if spec.name and (len(spec.name) > 64 or not all(c.isalnum() or c in "-_" for c in spec.name)):
            raise InputError(f"'{spec.name[:80]}' cannot be a model suffix.", "Use up to 64 letters, digits, - or _.")
        base = base_model(spec.base_model)
        if spec.objective == "kto":
            raise InputError("OpenAI trains on preference pairs (DPO), not on single 👍/👎 ratings (KTO).",
                             "Train KTO locally (--provider local), or export pairs and use DPO.",
                             zh="OpenAI 只支持成对偏好（DPO），不支持单个 👍/👎 评价（KTO）。请在本机训练 KTO。")
        if spec.objective == "dpo":
            report, billed = None, dpo_tokens(spec)
        else:
            report = check(Path(spec.train_file))
            report.require_trainable(allow_unsafe=spec.allow_unsafe)
            require_safe([spec.val_file], spec.allow_unsafe)
            billed = report.billed_tokens
            if spec.n_epochs and report.epochs:
                billed = billed // report.epochs * spec.n_epochs
        cost = pricing.training_cost(base, billed)
        params = self.job_params(spec, "<uploaded " + Path(spec.train_file).name + ">",
                                 f"<uploaded {Path(spec.val_file).name}>" if spec.val_file else None)
        est = (f"about ${cost:,.2f} for {billed:,} billed tokens (prices as of {pricing.AS_OF})" if cost is not None
               else f"{billed:,} billed tokens; price unknown for {base}")
        url = get_settings().openai.resolved_base_url()
        return Plan(settings=params, estimate=est, cost_usd=round(cost, 4) if cost is not None else None,
                    report=(report.text() + "\n" if report else "") + where_it_trains(url))

    def start(self, spec: JobSpec) -> Job:
        plan = self.plan(spec)
        url = get_settings().openai.resolved_base_url()
        if at_openai(url) and date.today() >= date.fromisoformat(pricing.FINE_TUNING_CUTOFF):
            raise JobError(where_it_trains(url))
        name = spec.name or base_model(spec.base_model)
        job = self.store.create_job(spec, name, status="queued", extra={"plan": plan.estimate, "base_url": url})
        out_dir = Path(get_settings().training.runs_dir) / job.id
        try:
            client = self.client()
            ids = {}
            for key, path in (("train", spec.train_file), ("val", spec.val_file)):
                if path:
                    f = self._training_file(path, spec.base_model, out_dir, key, spec.objective)
                    up = self._call("upload the training file", client.files.create,
                                    file=(f.name, f.read_bytes()), purpose="fine-tune")
                    ids[key] = up.id
                    self.store.add_event(job.id, f"Uploaded {f.name} as {up.id}")
            params = self.job_params(spec, ids["train"], ids.get("val"))
            remote = self._call("create the fine-tuning job", client.fine_tuning.jobs.create, **params)
        except Exception as e:
            self.store.add_event(job.id, str(e), level="error")
            self.store.update_job(job.id, status="failed", error=str(e))
            raise
        self.store.add_event(job.id, f"Created {remote.id} ({plan.estimate})", data={"settings": params})
        return self._apply(job.id, remote)

    def _apply(self, job_id: str, remote) -> Job:
        err = None
        if getattr(remote, "error", None) and getattr(remote.error, "message", None):
            err = f"OpenAI: {remote.error.message}"
        fields: dict[str, Any] = {"remote_id": remote.id, "status": remote.status if remote.status in (
            "validating_files", "queued", "running", "succeeded", "failed", "cancelled") else "running"}
        if remote.fine_tuned_model:
            fields["result_model"] = remote.fine_tuned_model
        if err:
            fields["error"] = err
        job = self.store.get_job(job_id)
        fields["extra"] = job.extra | {"trained_tokens": remote.trained_tokens,
                                       "result_files": list(remote.result_files or []),
                                       "estimated_finish": getattr(remote, "estimated_finish", None)}
        return self.store.update_job(job_id, **fields)

    def refresh(self, job: Job) -> Job:
        if not job.remote_id or (job.done and job.extra.get("synced")):
            return job
        client = self.client(job)
        remote = self._call("read the job", client.fine_tuning.jobs.retrieve, job.remote_id)
        self._sync_events(client, job)
        job = self._apply(job.id, remote)
        if job.done:
            if job.status == "succeeded" and remote.result_files:
                content = self._call("download the result file", client.files.content, remote.result_files[0])
                self.store.add_metrics(job.id, result_rows(content.text))
            job = self.store.update_job(job.id, extra=job.extra | {"synced": True})
        return job

    def _sync_events(self, client: openai.OpenAI, job: Job) -> None:
        known = self.store.last_remote_event(job.id)
        new, after = [], None
        for _ in range(MAX_EVENT_PAGES):
            kwargs = {"limit": 100} | ({"after": after} if after else {})
            page = self._call("read the job's events", client.fine_tuning.jobs.list_events, job.remote_id, **kwargs)
            stop = False
            for ev in page.data:  # newest first
                if ev.id == known:
                    stop = True
                    break
                new.append(ev)
            if stop or not page.data or not page.has_more:
                break
            after = page.data[-1].id
        rows, step, total = [], job.step, job.total_steps
        for ev in reversed(new):
            data = ev.data if isinstance(ev.data, dict) else None
            self.store.add_event(job.id, ev.message, ev.level, data, remote_id=ev.id, created=ev.created_at)
            if ev.type == "metrics" and data and "step" in data:
                rows.append(MetricRow(step=int(data["step"]), train_loss=data.get("train_loss"),
                                      train_accuracy=data.get("train_mean_token_accuracy", data.get("train_accuracy")),
                                      valid_loss=data.get("valid_loss"),
                                      valid_mean_token_accuracy=data.get("valid_mean_token_accuracy")))
                step, total = int(data["step"]), data.get("total_steps") or total
        self.store.add_metrics(job.id, rows)
        if step != job.step or total != job.total_steps:
            self.store.update_job(job.id, step=step, total_steps=total)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        job = self.store.get_job(job_id)
        if not job.remote_id:
            return []
        page = self._call("list checkpoints", self.client(job).fine_tuning.jobs.checkpoints.list, job.remote_id)
        return [Checkpoint(id=c.id, step=c.step_number, model=c.fine_tuned_model_checkpoint,
                           metrics=c.metrics.model_dump(exclude_none=True) if c.metrics else {}) for c in page.data]

    def cancel(self, job_id: str) -> Job:
        job = self.store.get_job(job_id)
        if job.done:
            raise JobError(f"Job {job.id} has already {job.status}.")
        if not job.remote_id:
            return self.store.update_job(job.id, status="cancelled")
        remote = self._call("cancel the job", self.client(job).fine_tuning.jobs.cancel, job.remote_id)
        self.store.add_event(job.id, "Cancel requested")
        return self._apply(job.id, remote)

    def resume(self, job_id: str) -> Job:
        """Go on from the last checkpoint of a stopped job: a new job whose base is that checkpoint."""
        job = self.store.get_job(job_id)
        if not job.done or job.status == "succeeded":
            raise JobError(f"Job {job.id} is {job.status}; only failed or cancelled jobs can be resumed.")
        ckpts = sorted(self.checkpoints(job.id), key=lambda c: c.step)
        if not ckpts:
            raise JobError(f"Job {job.id} has no checkpoint to go on from.", "Start it again from the beginning.")
        return self.start(job.spec.model_copy(update={"base_model": ckpts[-1].model}))

    def list(self) -> list[Job]:
        """Jobs from the store, plus the account's recent jobs started elsewhere (one page)."""
        try:
            page = self._call("list jobs", self.client().fine_tuning.jobs.list, limit=20)
        except JobError:
            raise
        mine = {j.remote_id for j in self.store.list_jobs(self.name)}
        for r in page.data:
            if r.id not in mine:
                spec = JobSpec(provider="openai", base_model=r.model, train_file=r.training_file or "unknown")
                created = self.store.create_job(spec, r.fine_tuned_model or r.model, remote_id=r.id)
                self._apply(created.id, r)
        return [self.refresh(j) for j in self.store.list_jobs(self.name)]

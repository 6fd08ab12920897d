"""Local fine-tuning: each job is a worker process (storyteller/finetune/worker.py) on this machine.

The provider only prepares and watches: it validates the base model and data, writes
<runs_dir>/<job>/job.json, starts `python -m storyteller.finetune.worker` with Popen (never a
shell, never in the UI process), and on every poll reads the worker's trainer_log.jsonl into the
store. A worker that vanished without saying goodbye (SIGKILL, out of memory) is noticed by pid
and the job is marked failed; its checkpoints stay, so Resume goes on from the last one.
Jobs beyond settings.training.max_running wait as 'queued'; the first poll or finishing worker
that finds a free slot starts the oldest (see `JobStore.claim_queued`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from storyteller.config import get_settings
from storyteller.data.unsafe import require_safe
from storyteller.engines.ids import is_hub_id, resolve_source
from storyteller.story_format import is_storyteller_model
from storyteller.errors import DataError, InputError, JobError, ModelNotFoundError
from storyteller.finetune.base import Checkpoint, Job, JobSpec, MetricRow, NameTaken, Plan, Provider
from storyteller.finetune.data import n_train, read_stories
from storyteller.finetune.pref_train import BETA, default_epochs, sft_weight
from storyteller.finetune.pref_train import default_lr as pref_lr
from storyteller.finetune.preference import Example, read_preferences, request_of
from storyteller.finetune.story_check import LIMIT
from storyteller.finetune.worker import (BATCH, CANCEL_FLAG, EPOCHS, LOG_FILE, SCHEDULE, WARMUP, default_lr,
                                         default_method, last_checkpoint, start_queued)

NAME = re.compile(r"^[\w\u4e00-\u9fff][\w.\u4e00-\u9fff-]{0,63}$")
TOKENS_PER_S_PER_MPARAM = 6_000  # CPU throughput guess for the time estimate: ~1,500 tokens/s at 4M params
SPEED_JOBS = 5  # the time estimate uses the median speed of this many recent local jobs


def resolve_base(base_model: str) -> str:
    """A loadable source for the base model: a folder under models/, a path, or a cached Hub id."""
    from storyteller.engines.local_hf import check_hub_available  # imports torch: only when a plan is made

    source, is_hub = resolve_source(base_model.strip())
    if is_hub:
        if not is_hub_id(source):
            raise ModelNotFoundError(f"There is no local model '{source[:80]}'.",
                                     "Choose a folder under models/ (e.g. storyteller-tiny), a path, or an 'org/name' id.")
        check_hub_available(source)
        return source
    if not (Path(source) / "config.json").is_file():
        raise ModelNotFoundError(f"{source} is not a model folder (no config.json).",
                                 "Choose a folder with config.json, weights and a tokenizer.")
    return str(Path(source).resolve())


def _alive(pid: int | None) -> bool:
    """Is the worker still running? Reaps it if it is our child; zombies and other programs count as gone."""
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child (started before a restart): ask the OS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: make sure the pid was not reused by something else
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return stat[0] != "Z" and b"storyteller" in cmdline.read_bytes()
        except OSError:
            return False
    return True


class LocalProvider(Provider):
    name = "local"

    def _names(self, spec: JobSpec) -> Iterator[str]:
        """The name typed, or <base>-ft-MMDD-HHMM, then -2, -3 …; never a folder already in models/.
        Which one is free of live jobs is settled when the job is inserted (the unique index)."""
        typed = (spec.name or "").strip()
        stem = typed or f"{Path(spec.base_model).name}-ft-{time.strftime('%m%d-%H%M')}"
        models_dir = Path(get_settings().local.models_dir)
        for i in range(1, 2 if typed else 1000):
            name = stem if i == 1 else f"{stem}-{i}"
            if not NAME.match(name) or name.startswith("."):
                raise InputError(f"'{name[:80]}' cannot be a model name.",
                                 "Use letters, digits, - and _ (up to 64), e.g. tiny-song-dynasty.")
            if not (models_dir / name).exists():
                yield name
            elif typed:
                raise NameTaken(f"A model or job called '{name}' already exists.")

    def _name(self, spec: JobSpec) -> str:
        """The name a start now would get (shown by plan)."""
        for name in self._names(spec):
            if not self.store.name_in_use(name):
                return name
            if spec.name:
                raise NameTaken(f"A model or job called '{name}' already exists.")
        raise InputError("Every default name for this base model is taken.", "Type a name for the new model.")

    def _create(self, spec: JobSpec) -> Job:
        for name in self._names(spec):
            try:
                return self.store.create_job(spec, name)
            except NameTaken:
                if spec.name:
                    raise
        raise InputError("Every default name for this base model is taken.", "Type a name for the new model.")

    def plan(self, spec: JobSpec) -> Plan:
        if spec.provider != "local":
            raise InputError("This job is not a local one.")
        source = resolve_base(spec.base_model)
        if spec.objective == "sft":
            stories = read_stories(spec.train_file)
            if spec.val_file:
                read_stories(spec.val_file)
            require_safe([spec.train_file, spec.val_file], spec.allow_unsafe)
            share = get_settings().training.mix_share if spec.mix_share is None else spec.mix_share
            chars = sum(len(r["story"]) for r, _ in stories) / len(stories)
        else:  # preference pairs or ratings: nothing earlier is mixed in (the reference keeps what it knew)
            stories, share = check_preferences(spec, source), 0.0
            chars = sum(len(e.chosen or e.completion) + len(e.rejected or "") for e in stories) / len(stories)
        name = self._name(spec)
        n = n_train(len(stories), bool(spec.val_file))
        if spec.objective == "kto" and stories[0].chosen is not None:
            n *= 2  # each pair is one 👍 and one 👎 story
        mixed = round(n * share / (1 - share)) if share else 0
        batch = spec.batch_size or BATCH
        epochs = spec.n_epochs or (EPOCHS if spec.objective == "sft" else default_epochs(spec.objective, n, batch))
        steps = spec.max_steps or max(1, -(-(n + mixed) // batch)) * epochs
        mparams = _params_m(source)
        method = spec.method if spec.method != "auto" or not mparams else default_method(mparams * 1e6)
        lr_for = pref_lr if spec.objective != "sft" else default_lr
        lr = spec.learning_rate or (lr_for(method, mparams * 1e6) if mparams and method != "auto" else "auto")
        work = batch * (chars + 40) * max(mparams, 0.5) if mparams else None
        speed, measured = self.speed()
        seconds = steps * work / speed if work else None
        settings = {"provider": "local", "base_model": spec.base_model, "source": source, "output": f"models/{name}",
                    **spec.model_dump(exclude={"provider", "base_model", "name", "learning_rate_multiplier",
                                               "method_form"}),
                    "n_epochs": epochs, "batch_size": batch, "learning_rate": lr, "method": method,
                    "lr_schedule": f"{SCHEDULE}, {WARMUP:.0%} warm-up", "mix_share": share, "steps": steps,
                    "stories": len(stories), "trained_on": n, "earlier_stories_mixed_in": f"up to {mixed}"}
        if spec.objective != "sft":
            settings |= {"beta": spec.beta or BETA, "reference": "the starting weights"}
            if spec.objective == "dpo":
                settings["sft_weight"] = sft_weight(spec)
            settings["story_check"] = (f"after each epoch the starting model reads {get_settings().training.story_check_stories} new stories; an epoch "
                                       f"over {LIMIT:g}× its surprise at its own is dropped" if spec.story_check else "off")
        est = (f"about {_fmt_s(seconds)} on this computer ({steps} steps, "
               f"{'speed measured by earlier training' if measured else 'a first guess'})" if seconds
               else f"{steps} steps")
        return Plan(settings=settings, estimate=est, seconds=seconds, measured=measured and bool(seconds),
                    work_per_step=work)

    def speed(self) -> tuple[float, bool]:
        """(work a second on this computer, measured?): the median of what recent local jobs measured
        (work per step x steps a second), else the guess; so the estimate improves after one job."""
        seen = [j.extra["work_per_step"] * j.extra["steps_per_s"] for j in self.store.list_jobs("local", limit=50)
                if j.extra.get("work_per_step") and j.extra.get("steps_per_s")][:SPEED_JOBS]
        return (statistics.median(seen), True) if seen else (float(TOKENS_PER_S_PER_MPARAM), False)

    def start(self, spec: JobSpec, launch: bool = True) -> Job:
        """Create the job; with `launch` it trains now, or waits as 'queued' while others run."""
        plan = self.plan(spec)
        s = get_settings()
        job = self._create(spec)
        settings = plan.settings | {"output": f"models/{job.name}"}
        try:
            job_dir = Path(s.training.runs_dir).resolve() / job.id
            (job_dir / "data").mkdir(parents=True, exist_ok=True)
            files = {}
            for key, src in (("train_file", spec.train_file), ("val_file", spec.val_file)):
                if src:  # a private copy: an upload's temp file may vanish before training ends
                    dst = job_dir / "data" / f"{key.split('_')[0]}{Path(src).suffix}"
                    dst.write_bytes(Path(src).read_bytes())
                    files[key] = str(dst)
            meta = {"job_id": job.id, "db": str(self.store.path.resolve()), "spec": spec.model_dump(),
                    "base_source": settings["source"], "mix_share": settings["mix_share"],
                    "output_dir": str((Path(s.local.models_dir) / job.name).resolve()), **files}
            (job_dir / "job.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as e:  # the job must not stay 'queued' and hold its name
            msg = f"Could not set up the job's folder: {e}"
            self.store.add_event(job.id, msg, level="error")
            self.store.update_job(job.id, status="failed", error=msg)
            raise JobError(msg, "Check that the runs folder (STORYTELLER_TRAINING__RUNS_DIR) is writable.") from None
        extra = {"log_offset": 0, "plan": plan.estimate, "work_per_step": plan.work_per_step} | (
            {"queue": "start"} if launch else {})
        job = self.store.update_job(job.id, job_dir=str(job_dir), total_steps=settings["steps"], extra=extra)
        self.store.add_event(job.id, f"Job created: {plan.estimate}", data={"settings": settings})
        return self._launch(job) if launch else job

    def _launch(self, job: Job) -> Job:
        """Start queued jobs while slots are free; say so if this one has to wait."""
        self._start_queued()
        job = self.store.get_job(job.id)
        if job.status == "queued":
            self.store.add_event(job.id, f"Queued: {get_settings().training.max_running} job(s) already "
                                         "training; this one starts when a slot is free")
        return job

    def _start_queued(self) -> None:
        """Free the slots of workers that died unnoticed, then start waiting jobs."""
        for j in self.store.list_jobs("local"):
            if j.status == "running" and j.pid and not _alive(j.pid):
                self._gone(j)
        start_queued(self.store)

    def command(self, job_id: str) -> list[str]:
        """The worker command for a job, e.g. to run it under torchrun on several GPUs."""
        job = self.store.get_job(job_id)
        return ["torchrun", "--nproc_per_node", "<gpus>", "-m", "storyteller.finetune.worker", "--job-dir", job.job_dir]

    def refresh(self, job: Job) -> Job:
        job = self._ingest(job)
        if job.status == "running" and job.pid and not _alive(job.pid):
            job = self._gone(job)
            self._start_queued()
        elif job.status == "queued" and "queue" in job.extra:
            self._start_queued()
            job = self._ingest(self.store.get_job(job.id))
        return job

    def _gone(self, job: Job) -> Job:
        """The worker is gone: read what is left of its log; if it did not finish, the job failed."""
        job = self._ingest(self.store.get_job(job.id))  # the worker may have just finished
        if job.done:
            return job
        ckpt = last_checkpoint(Path(job.job_dir)) if job.job_dir else None
        kept = f" Checkpoints up to {ckpt.name} are kept: press Resume to go on." if ckpt else ""
        msg = f"The training process stopped unexpectedly (killed or out of memory).{kept}"
        self.store.add_event(job.id, msg, level="error")
        return self.store.update_job(job.id, status="failed", error=msg)

    def _ingest(self, job: Job) -> Job:
        """New lines of trainer_log.jsonl -> events and metric rows in the store (only whole lines).
        The offset is read and moved on in one transaction: two tabs, or the UI and `finetune
        follow`, never store a line twice, and `extra` is never rewritten from a stale copy."""
        if not job.job_dir:
            return job
        path = Path(job.job_dir) / LOG_FILE
        if not path.is_file() or path.stat().st_size <= int(job.extra.get("log_offset", 0)):
            return job  # nothing new even from this copy's offset (offsets only grow)
        with self.store.transaction():
            job = self.store.get_job(job.id)
            offset = int(job.extra.get("log_offset", 0))
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]
            return self._store_lines(job, whole, offset) if whole else job

    def _store_lines(self, job: Job, whole: bytes, offset: int) -> Job:
        rows, step, total = [], job.step, job.total_steps
        for line in whole.decode("utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("type") == "metrics":
                rows.append(MetricRow(**{k: rec.get(k) for k in MetricRow.model_fields}))
                step, total = rec["step"], rec.get("total_steps") or total
                job.extra["eta_s"], job.extra["tokens_per_s"] = rec.get("eta_s"), rec.get("tokens_per_s")
                job.extra["steps_per_s"] = rec.get("steps_per_s") or job.extra.get("steps_per_s")
            elif rec.get("type") == "event":
                data = rec.get("data")
                self.store.add_event(job.id, rec.get("message", ""), rec.get("level", "info"), data, created=rec["time"])
        self.store.add_metrics(job.id, rows)
        extra = job.extra | {"log_offset": offset + len(whole)}
        return self.store.update_job(job.id, step=max(step, job.step), total_steps=total, extra=extra)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        job = self.store.get_job(job_id)
        out = []
        for p in sorted(Path(job.job_dir or "/nonexistent").glob("checkpoint-*"), key=lambda p: int(p.name[11:])):
            state = p / "trainer_state.json"
            if not state.is_file():
                continue  # being written, or torn by a kill: not a checkpoint
            hist = json.loads(state.read_text(encoding="utf-8")).get("log_history", [])
            last = next((h for h in reversed(hist) if "loss" in h), {})
            out.append(Checkpoint(id=p.name, step=int(p.name[11:]), model=str(p), metrics=last))
        return out

    def cancel(self, job_id: str) -> Job:
        job = self.refresh(self.store.get_job(job_id))
        if job.done:
            raise JobError(f"Job {job.id} has already {job.status}.")
        Path(job.job_dir).joinpath(CANCEL_FLAG).touch()
        self.store.add_event(job.id, "Cancel requested: saving a checkpoint and stopping")
        if not _alive(job.pid):
            extra = {k: v for k, v in job.extra.items() if k != "queue"}
            return self.store.update_job(job.id, status="cancelled", extra=extra)
        return job

    def resume(self, job_id: str) -> Job:
        job = self.refresh(self.store.get_job(job_id))
        if job.status not in ("failed", "cancelled"):
            raise JobError(f"Job {job.id} is {job.status}; only stopped jobs can be resumed.")
        deadline = time.monotonic() + 20  # a cancelled worker is saving and exiting: give it a moment
        while job.pid and _alive(job.pid):
            if time.monotonic() > deadline:
                raise JobError(f"Job {job.id} is still stopping; try again in a moment.")
            time.sleep(0.2)
        Path(job.job_dir).joinpath(CANCEL_FLAG).unlink(missing_ok=True)
        ckpt = last_checkpoint(Path(job.job_dir))
        job = self.store.update_job(job.id, status="queued", pid=None, error=None,
                                    extra=job.extra | {"queue": "resume"})  # NameTaken if a live job took its name
        self.store.add_event(job.id, f"Resuming from {ckpt.name}" if ckpt else "Restarting (no checkpoint yet)")
        return self._launch(job)

    def kill(self, job_id: str) -> None:
        """Hard stop (tests, stuck workers): SIGKILL the worker's process group."""
        job = self.store.get_job(job_id)
        if job.pid and _alive(job.pid):
            os.killpg(job.pid, signal.SIGKILL)


def check_preferences(spec: JobSpec, source: str) -> list[Example]:
    """The checked examples of a DPO/KTO job (friendly errors naming the line), before anything starts."""
    if spec.objective == "kto" and spec.batch_size == 1:
        raise InputError("KTO compares stories within a batch, so the batch size must be 2 or more.",
                         zh="KTO 要在一批故事里互相比较，批大小至少是 2。")
    examples = read_preferences(spec.train_file, spec.objective, spec.allow_unsafe)
    if spec.val_file:
        read_preferences(spec.val_file, spec.objective, spec.allow_unsafe)
    try:
        storyteller = is_storyteller_model(json.loads((Path(source) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        storyteller = False  # a Hub id: its chat template renders any prompt
    if storyteller and (bad := next((e for e in examples if request_of(e) is None), None)):
        raise DataError(f"{Path(spec.train_file).name}, line {bad.line}: a storyteller model learns from story "
                        "requests (dynasty, power, style), and this prompt is not one.",
                        "Use a file exported by `storyteller stories export`, or train a chat model on it.",
                        zh=f"{Path(spec.train_file).name} 第 {bad.line} 行：故事模型需要故事请求（朝代、超能力、风格），"
                           "这一行的提示不是。请用 storyteller stories export 导出的文件。")
    return examples


def _params_m(source: str) -> float | None:
    """Millions of parameters from config.json (GPT-style estimate), without loading weights."""
    try:
        c = json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    d = c.get("n_embd") or c.get("hidden_size")
    layers = c.get("n_layer") or c.get("num_hidden_layers")
    if not d or not layers:
        return None
    return (12 * layers * d * d + c.get("vocab_size", 0) * d) / 1e6


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"

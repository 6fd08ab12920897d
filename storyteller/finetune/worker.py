"""python -m storyteller.finetune.worker --job-dir runs/<job-id> [--resume]

The local fine-tuning process: a plain Hugging Face Trainer script. The provider (local_ft.py)
writes <job-dir>/job.json and starts this in its own process; it never runs in the UI process.
It reports through <job-dir>/trainer_log.jsonl (events and metric rows with OpenAI's result-file
columns) and the job's status in SQLite. Checkpoints go to <job-dir>/checkpoint-<step>/.
Cancel: create <job-dir>/CANCEL (or send SIGTERM/SIGINT); the worker saves a checkpoint and
stops. Resume: --resume continues from the last checkpoint. The result lands in models/<name>/.
Only the newest checkpoint (to resume from) and the best one (weights only) are kept. When the
worker ends it starts the next queued job, if any (settings.training.max_running at once).

Several GPUs, no code change:
    torchrun --nproc_per_node 4 -m storyteller.finetune.worker --job-dir runs/<job-id>
    accelerate launch -m storyteller.finetune.worker --job-dir runs/<job-id>
(create the job first with `storyteller finetune start ... --no-launch`; only rank 0 reports).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from storyteller.config import get_settings
from storyteller.errors import JobError, StorytellerError
from storyteller.finetune.pref_train import build_trainer, preference_data
from storyteller.finetune.pref_train import default_epochs as pref_epochs
from storyteller.finetune.pref_train import default_lr as pref_lr
from storyteller.finetune.base import JobSpec, JobStore
from storyteller.finetune.data import build_examples, write_card
from storyteller.finetune.story_check import SNAPSHOT, StoryCheck, callback
from storyteller.finetune.story_check import requests as check_requests
from storyteller.paths import ROOT

CANCEL_FLAG = "CANCEL"
LOG_FILE = "trainer_log.jsonl"
SMALL_MODEL = 100_000_000  # below this, full fine-tuning is fast enough and simplest
# Defaults when the spec leaves a setting empty. A fine-tune continues an already-trained model
# (storyteller-tiny's build ended at lr 2e-4), so it starts near that rate, warms up for the first
# WARMUP share of the steps and decays to zero. Measured with benchmarks/finetune.py (30 unseen
# stories, 3 epochs): per-character perplexity on held-out zh / en stories went 37.2 / 3.76 ->
# 34.6 / 3.81 at 3e-4, 34.7 / 3.94 at 1e-3, and 42.3 / 4.19 at 1e-3 for 6 epochs (forgetting);
# 1e-4 learnt the new stories about half as much (perplexity 37 -> 27, against 18 at 3e-4).
EPOCHS, BATCH, WARMUP, SCHEDULE = 3, 8, 0.1, "cosine"


def default_method(n_params: float) -> str:
    return "full" if n_params < SMALL_MODEL else "lora"


def default_lr(method: str, n_params: float) -> float:
    """3e-4 for a full fine-tune of a tiny model (< 20M parameters, measured); else 2e-4 (LoRA's usual)."""
    return 3e-4 if method == "full" and n_params < 20e6 else 2e-4


class JobLog:
    """Appends JSON lines to trainer_log.jsonl (flushed each line, so pollers see them at once)."""

    def __init__(self, job_dir: Path, enabled: bool = True):
        self.path, self.enabled = job_dir / LOG_FILE, enabled

    def write(self, kind: str, **data) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"type": kind, "time": time.time(), **data}, ensure_ascii=False) + "\n")

    def event(self, message: str, level: str = "info", **data) -> None:
        self.write("event", level=level, message=message, **({"data": data} if data else {}))


def make_trainer_classes():
    """Trainer + callback, defined lazily so importing this module does not import torch."""
    import torch
    from transformers import Trainer, TrainerCallback

    class AccuracyTrainer(Trainer):
        """Adds next-token accuracy (train and validation) to the logs, as OpenAI's result file has."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._acc = {True: [0, 0], False: [0, 0]}  # training -> [right, total] since the last log
            self.n_tokens = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs)
            with torch.no_grad():
                labels = inputs["labels"][:, 1:]
                mask = labels != -100
                hit = (outputs.logits[:, :-1].argmax(-1) == labels) & mask
                acc = self._acc[model.training]
                acc[0] += int(hit.sum())
                acc[1] += int(mask.sum())
                if model.training:
                    self.n_tokens += int(inputs["attention_mask"].sum())
            loss = outputs.loss
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            for training, key in ((True, "train_accuracy"), (False, "eval_accuracy")):
                hits, total = self._acc[training]
                if total and (("loss" in logs) if training else ("eval_loss" in logs)):
                    logs[key] = hits / total
                    self._acc[training] = [0, 0]
            super().log(logs, *args, **kwargs)

    class ReportCallback(TrainerCallback):
        """Metric rows and events to trainer_log.jsonl and status to the store; honours CANCEL."""

        def __init__(self, job_dir: Path, log: JobLog, store: JobStore | None, job_id: str, trainer_ref: list):
            self.job_dir, self.log, self.store, self.job_id = job_dir, log, store, job_id
            self.trainer_ref, self.t0, self.step0 = trainer_ref, time.time(), 0

        def cancelled(self) -> bool:
            return (self.job_dir / CANCEL_FLAG).exists()

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.step0 = time.time(), state.global_step
            if state.is_world_process_zero:
                self.log.event(f"Training: {state.max_steps} steps", total_steps=state.max_steps,
                               threads=torch.get_num_threads(), device=str(args.device))
                if self.store:
                    self.store.update_job(self.job_id, status="running", total_steps=state.max_steps,
                                          step=state.global_step)

        def on_step_end(self, args, state, control, **kw):
            if self.cancelled():
                control.should_training_stop = True
                control.should_save = True

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            row = {"train_loss": logs.get("loss"),  # DPO: how often the preferred story gets the higher reward
                   "train_accuracy": logs.get("train_accuracy", logs.get("rewards/accuracies")),
                   "valid_loss": logs.get("eval_loss"),
                   "valid_mean_token_accuracy": logs.get("eval_accuracy", logs.get("eval_rewards/accuracies"))}
            if all(v is None for v in row.values()):
                return
            elapsed = time.time() - self.t0
            done = state.global_step - self.step0
            rate = done / elapsed if elapsed > 0 and done else None
            trainer = self.trainer_ref[0] if self.trainer_ref else None
            self.log.write("metrics", step=state.global_step, total_steps=state.max_steps, **row,
                           learning_rate=logs.get("learning_rate"), elapsed_s=round(elapsed, 2),
                           eta_s=round((state.max_steps - state.global_step) / rate, 1) if rate else None,
                           steps_per_s=round(rate, 5) if rate else None,
                           tokens_per_s=round(trainer.n_tokens / elapsed, 1)
                           if getattr(trainer, "n_tokens", None) and elapsed > 0 else None)

        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.log.event(f"Checkpoint saved at step {state.global_step}", step=state.global_step,
                               checkpoint=f"checkpoint-{state.global_step}")
                prune_checkpoints(self.job_dir, args.save_steps)

    return AccuracyTrainer, ReportCallback


def collate(pad_id: int):
    import torch

    def fn(batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return fn


def _step(ckpt: Path) -> int:
    return int(ckpt.name.split("-")[1])


def last_checkpoint(job_dir: Path) -> Path | None:
    """The newest complete checkpoint (one with trainer_state.json, i.e. fully written)."""
    done = [p for p in job_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=_step, default=None)


def checkpoint_score(ckpt: Path, window: int) -> float:
    """Lower is better: its validation loss, or without one its mean training loss over its last
    `window` steps (read from its own trainer_state.json, so it holds across resumes)."""
    hist = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8")).get("log_history", [])
    step = _step(ckpt)
    if evals := [h["eval_loss"] for h in hist if "eval_loss" in h and h.get("step", 0) <= step]:
        return evals[-1]
    losses = [h["loss"] for h in hist if "loss" in h and step - window < h.get("step", 0) <= step]
    return sum(losses) / len(losses) if losses else float("inf")


def prune_checkpoints(job_dir: Path, window: int) -> None:
    """Keep the newest complete checkpoint whole (Resume needs its optimizer state) and the best
    one's weights; delete the rest. A checkpoint stops being one (trainer_state.json goes first)
    before its files go, so a kill halfway never leaves a torn one that looks complete."""
    done = sorted((p for p in job_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()), key=_step)
    if not done:
        return
    last = done[-1]
    best = min(done, key=lambda p: (checkpoint_score(p, window), -_step(p)))
    for p in job_dir.glob("checkpoint-*"):
        if p == last or _step(p) > _step(last):
            continue  # the newest, or one being written right now
        if p == best:
            for f in [*p.glob("optimizer*"), *p.glob("scheduler*")]:
                f.unlink(missing_ok=True)
            continue
        (p / "trainer_state.json").unlink(missing_ok=True)
        shutil.rmtree(p, ignore_errors=True)


WORKER_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SHELL",
              "VIRTUAL_ENV", "LD_LIBRARY_PATH", "SYSTEMROOT", "SPACE_ID")
WORKER_PREFIXES = ("LC_", "STORYTELLER_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TOKENIZERS_", "TORCH", "PYTORCH_",
                   "CUDA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "PYTHON", "XDG_")
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE", re.IGNORECASE)


def worker_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a local training worker gets: what Python, torch and our settings need, and no
    secret (no OPENAI_API_KEY, no HF token, no parent password): a local job calls no service."""
    environ = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in environ.items()
           if (k in WORKER_ENV or k.startswith(WORKER_PREFIXES)) and not SECRET.search(k)}
    return env | {"PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [environ.get("PYTHONPATH")])])}


def spawn(job_dir: Path, resume: bool = False) -> int:
    """Start the worker for one job in a process of its own (never a shell); returns its pid."""
    cmd = [sys.executable, "-m", "storyteller.finetune.worker", "--job-dir", str(job_dir)]
    env = worker_env()
    with open(job_dir / "worker.log", "ab") as out:
        proc = subprocess.Popen(cmd + (["--resume"] if resume else []), cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.pid


def start_queued(store: JobStore) -> None:
    """Start queued local jobs while fewer than settings.training.max_running run. Each is claimed
    in one transaction first, so the UI, the CLI and a finishing worker never start it twice."""
    limit = get_settings().training.max_running
    while (claimed := store.claim_queued("local", limit)) is not None:
        job, mode = claimed
        try:
            store.update_job(job.id, pid=spawn(Path(job.job_dir), resume=mode == "resume"))
        except OSError as e:
            msg = f"The training process could not be started: {e}"
            store.add_event(job.id, msg, level="error")
            store.update_job(job.id, status="failed", error=msg)


def add_story_check(trainer, spec: JobSpec, meta: dict, job_dir: Path, log: JobLog):
    """The story check's callback on a preference job of a storyteller model (story_check.py), or None."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from storyteller.story_format import is_storyteller_model

    if not spec.story_check or not is_storyteller_model(trainer.model.config):
        return None
    s = get_settings().training
    reqs = check_requests(meta["train_file"], spec.objective, s.story_check_stories)
    if not reqs:
        log.event("Story check skipped: no line of the file names a story request", level="warning")
        return None
    starting = AutoModelForCausalLM.from_pretrained(meta["base_source"], dtype=torch.float32)
    check = StoryCheck(starting, AutoTokenizer.from_pretrained(meta["base_source"]), reqs, seed=spec.seed,
                       max_new_tokens=s.story_check_tokens)
    cb = callback(check, job_dir, log, lambda: (job_dir / CANCEL_FLAG).exists())
    trainer.add_callback(cb)
    return cb


def run(job_dir: Path, resume: bool = False) -> str:
    """Train one job to the end (or to a cancel). Returns the final status."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    meta = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    spec, job_id = JobSpec.model_validate(meta["spec"]), meta["job_id"]
    rank0 = int(os.environ.get("RANK", "0")) == 0
    store = JobStore(meta["db"]) if rank0 else None
    log = JobLog(job_dir, enabled=rank0)
    if store:
        store.update_job(job_id, status="running", pid=os.getpid(), error=None)
    if spec.threads:
        torch.set_num_threads(spec.threads)
    log.event(f"Loading {spec.base_model}")
    tok = AutoTokenizer.from_pretrained(meta["base_source"])
    model = AutoModelForCausalLM.from_pretrained(meta["base_source"], dtype=torch.float32)
    preference = spec.objective != "sft"
    if preference:
        train, valid, info = preference_data(spec, meta, tok, model.config)
        held = f", {info['valid']} for validation" if valid else ""
        log.event(f"Data: {info['new']} preference {info['examples']} ({spec.objective.upper()}){held}", **info)
    else:
        train, valid, info = build_examples(spec, meta, tok, model.config)
        log.event(f"Data: {info['new']} new stories, {info['mixed']} earlier stories mixed in"
                  f"{f', {len(valid)} for validation' if valid else ''}", **info)
    n_params = sum(p.numel() for p in model.parameters())
    method = spec.method if spec.method != "auto" else default_method(n_params)
    if method == "lora" and not preference:  # a preference trainer adds the adapter itself
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=spec.lora_r, lora_alpha=2 * spec.lora_r,
                                                 lora_dropout=0.05, target_modules="all-linear"))
    batch = spec.batch_size or BATCH
    save_steps = spec.save_steps
    targs = dict(
        output_dir=str(job_dir), per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
        num_train_epochs=spec.n_epochs or (pref_epochs(spec.objective, len(train), batch) if preference else EPOCHS),
        max_steps=spec.max_steps or -1,
        learning_rate=spec.learning_rate or (pref_lr(method, n_params) if preference
                                             else default_lr(method, n_params)),
        lr_scheduler_type=SCHEDULE, warmup_steps=WARMUP, weight_decay=0.0, seed=spec.seed,
        logging_steps=1, save_strategy="steps", save_steps=save_steps,
        eval_strategy="steps" if valid else "no", eval_steps=spec.eval_steps or save_steps,
        use_cpu=not torch.cuda.is_available(), report_to="none", disable_tqdm=True, dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    trainer_cls, callback_cls = make_trainer_classes()
    ref: list = []
    callbacks = [callback_cls(job_dir, log, store, job_id, ref)]
    if preference:
        max_len = spec.max_length or getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", None) or 1024
        trainer = build_trainer(spec, meta, model, tok, method, targs, train, valid, callbacks, max_len)
        model = trainer.model
    else:
        trainer = trainer_cls(model=model, args=TrainingArguments(**targs), train_dataset=train,
                              eval_dataset=valid or None, callbacks=callbacks,
                              data_collator=collate(tok.pad_token_id if tok.pad_token_id is not None else 0))
    ref.append(trainer)
    checking = add_story_check(trainer, spec, meta, job_dir, log) if preference else None
    ckpt = last_checkpoint(job_dir) if resume else None
    if resume and ckpt is None:
        log.event("No complete checkpoint yet: starting from the beginning", level="warning")
    elif ckpt:
        log.event(f"Resuming from {ckpt.name}")
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if (job_dir / CANCEL_FLAG).exists():
        log.event(f"Cancelled at step {trainer.state.global_step}; checkpoints kept", level="warning")
        if store:
            store.update_job(job_id, status="cancelled", step=trainer.state.global_step)
        return "cancelled"
    if not trainer.is_world_process_zero():
        return "succeeded"
    if checking and checking.kept_nothing:
        raise JobError("The stories' sentences began to break within the first epoch (the story check), so no "
                       "model was made. Your ratings and pairs are all kept.",
                       "Train again with a stronger anchor (beta 0.5) or a smaller learning rate; "
                       "`--no-story-check` trains without the check.",
                       zh="第一轮训练还没结束，故事的句子就开始乱了（故事检查），所以没有生成新模型。"
                          "你的评分和配对都还在。可以把 beta 调到 0.5 或调小学习率再训练一次。")
    final = {"train_loss": round(float(result.training_loss), 4), "steps": trainer.state.global_step}
    if checking:
        info["story_check"] = checking.record
        (job_dir / SNAPSHOT).unlink(missing_ok=True)
    if valid:
        final["valid_loss"] = round(float(trainer.evaluate()["eval_loss"]), 4)
    if method == "lora":
        model = model.merge_and_unload()
    if preference:  # the tokenizer as it came (training may have pointed eos at the story's end)
        tok = AutoTokenizer.from_pretrained(meta["base_source"])
    out = Path(meta["output_dir"])
    tmp = out.with_name(f".{out.name}.{job_id[-6:]}.tmp")  # this job's own: never shared with another
    shutil.rmtree(tmp, ignore_errors=True)  # left by an earlier run of this job that was killed
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    write_card(tmp, spec, meta, info, final, method)
    if out.exists():  # never reached normally: the provider refuses existing names
        out = out.with_name(f"{out.name}-{job_id[-6:]}")
    os.replace(tmp, out)
    log.event(f"Done: saved as models/{out.name}", result_model=out.name, **final)
    if store:
        store.update_job(job_id, status="succeeded", result_model=out.name, step=trainer.state.global_step)
    return "succeeded"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job-dir", type=Path, required=True)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args(argv)
    job_dir = a.job_dir.resolve()
    meta = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))

    def stop(signum, frame):  # a polite stop: finish the step, save a checkpoint, exit
        (job_dir / CANCEL_FLAG).touch()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rank0 = int(os.environ.get("RANK", "0")) == 0
    try:
        run(job_dir, a.resume)
        return 0
    except Exception as e:  # noqa: BLE001 - every failure is recorded for the UI, with the traceback in the log
        traceback.print_exc()
        msg = str(e) if isinstance(e, StorytellerError) else f"Training failed: {type(e).__name__}: {str(e)[:300]}"
        if rank0:
            JobLog(job_dir).event(msg, level="error")
            JobStore(meta["db"]).update_job(meta["job_id"], status="failed", error=msg)
        return 1
    finally:
        if rank0:  # this job's slot is free: hand it to the next one waiting
            start_queued(JobStore(meta["db"]))


if __name__ == "__main__":
    raise SystemExit(main())

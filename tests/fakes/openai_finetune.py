"""Stateful fine-tuning routes for the loopback fake OpenAI server: files and jobs with a life cycle.

    from tests.fakes.openai_finetune import FineTuning

    ft = FineTuning(fake, steps=4)             # installs /v1/files and /v1/fine_tuning/jobs routes
    ft.fail_at_step = 3                        # the next jobs fail at step 3 (server_error)
    ft.jobs["ftjob-1"]["status"]               # inspect state; ft.created[-1] is the last create body

Every GET of a job advances it one tick: validating_files -> running (one step per tick, each with
a `metrics` event and every 2 steps a checkpoint) -> succeeded, with a result file (CSV: step,
train_loss, train_accuracy, valid_loss, valid_mean_token_accuracy) and a fine_tuned_model. A
training file that is not valid chat/prompt-completion JSONL, or has fewer than 10 examples,
fails validation as OpenAI's does. Events list newest first and page with `after` and `limit`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time

from tests.fakes.openai_server import FakeOpenAI, FakeRequest, Reply, error_body

_ids = itertools.count(1)


def _err(status: int, message: str, param: str | None = None) -> Reply:
    body = error_body(status, message)
    body["error"]["param"] = param
    return Reply(status, json=body)


class FineTuning:
    def __init__(self, fake: FakeOpenAI, steps: int = 4, org: str = "acme"):
        self.fake, self.steps, self.org = fake, steps, org
        self.fail_at_step: int | None = None
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.checkpoints: dict[str, list[dict]] = {}
        self.created: list[dict] = []
        self._lock = threading.Lock()
        r = fake.route
        r("POST", "/v1/files", self.upload)
        r("GET", "/v1/files/{file_id}", lambda q: self._file(q.params["file_id"]))
        r("GET", "/v1/files/{file_id}/content", self.content)
        r("POST", "/v1/fine_tuning/jobs", self.create)
        r("GET", "/v1/fine_tuning/jobs", self.list_jobs)
        r("GET", "/v1/fine_tuning/jobs/{job_id}", self.retrieve)
        r("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", self.cancel)
        r("GET", "/v1/fine_tuning/jobs/{job_id}/events", self.list_events)
        r("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", self.list_checkpoints)

    # -- files -------------------------------------------------------------------------------
    def upload(self, req: FakeRequest) -> dict | Reply:
        parts = req.multipart()
        if "file" not in parts or "purpose" not in parts:
            return _err(400, "Missing file or purpose.", "file")
        fid = f"file-{next(_ids)}"
        self.files[fid] = {"id": fid, "object": "file", "bytes": len(parts["file"].data), "created_at": int(time.time()),
                           "filename": parts["file"].filename or "upload.jsonl", "purpose": parts["purpose"].text,
                           "status": "processed", "data": parts["file"].data}
        return self._file(fid)

    def _file(self, fid: str) -> dict | Reply:
        f = self.files.get(fid)
        if f is None:
            return _err(404, f"No such File object: {fid}", "id")
        return {k: v for k, v in f.items() if k != "data"}

    def content(self, req: FakeRequest) -> Reply:
        f = self.files.get(req.params["file_id"])
        if f is None:
            return _err(404, "No such File object.", "id")
        return Reply(200, body=f["data"], headers={"content-type": "application/octet-stream"})

    # -- jobs --------------------------------------------------------------------------------
    def create(self, req: FakeRequest) -> dict | Reply:
        body = req.json or {}
        self.created.append(body)
        if not body.get("model") or body.get("training_file") not in self.files:
            return _err(400, "invalid training_file or model", "training_file")
        hyper = (body.get("method") or {}).get("supervised", {}).get("hyperparameters") or body.get(
            "hyperparameters") or {}
        jid = f"ftjob-{next(_ids)}"
        self.jobs[jid] = {
            "id": jid, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None,
            "fine_tuned_model": None, "finished_at": None, "model": body["model"], "organization_id": f"org-{self.org}",
            "result_files": [], "seed": body.get("seed", 0), "status": "validating_files", "trained_tokens": None,
            "training_file": body["training_file"], "validation_file": body.get("validation_file"),
            "hyperparameters": {"n_epochs": hyper.get("n_epochs", "auto"), "batch_size": hyper.get("batch_size", "auto"),
                                "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto")},
            "method": body.get("method") or {"type": "supervised"}, "suffix": body.get("suffix"),
            "_step": 0, "_fail_at": self.fail_at_step,
        }
        self.events[jid], self.checkpoints[jid] = [], []
        self._event(jid, f"Created fine-tuning job: {jid}")
        self._event(jid, "Validating training file: " + body["training_file"])
        return self._public(jid)

    def _public(self, jid: str) -> dict:
        return {k: v for k, v in self.jobs[jid].items() if not k.startswith("_") and k != "suffix"}

    def _event(self, jid: str, message: str, level: str = "info", etype: str = "message", data: dict | None = None):
        self.events[jid].append({"id": f"ftevent-{next(_ids)}", "object": "fine_tuning.job.event",
                                 "created_at": int(time.time()), "level": level, "message": message,
                                 "type": etype, "data": data or {}})

    def _valid(self, fid: str) -> str | None:
        lines = [x for x in self.files[fid]["data"].decode("utf-8", "replace").splitlines() if x.strip()]
        try:
            rows = [json.loads(x) for x in lines]
        except ValueError:
            return "Invalid file format: every line must be a JSON object."
        if not all(isinstance(r, dict) and ("messages" in r or {"prompt", "completion"} <= set(r)
                                              or {"input", "preferred_output", "non_preferred_output"} <= set(r)) for r in rows):
            return "Invalid file format: examples need messages (chat) or prompt and completion."
        if len(rows) < 10:
            return f"Training file has {len(rows)} example(s), but must have at least 10 examples."
        return None

    def tick(self, jid: str) -> None:
        j = self.jobs[jid]
        if j["status"] == "validating_files":
            if msg := self._valid(j["training_file"]):
                j.update(status="failed", error={"code": "invalid_training_file", "message": msg,
                                                 "param": "training_file"}, finished_at=int(time.time()))
                self._event(jid, msg, "error")
                return
            j["status"] = "running"
            self._event(jid, "Files validated, moving job to queued state")
            self._event(jid, "Fine-tuning job started")
        elif j["status"] == "running":
            j["_step"] += 1
            s = j["_step"]
            if j["_fail_at"] and s >= j["_fail_at"]:
                j.update(status="failed", error={"code": "server_error", "message": "The job failed due to an "
                                                 "internal error.", "param": None}, finished_at=int(time.time()))
                self._event(jid, "The job failed due to an internal error.", "error")
                return
            m = self._metrics(s)
            self._event(jid, f"Step {s}/{self.steps}: training loss={m['train_loss']:.4f}", etype="metrics",
                        data={"step": s, "total_steps": self.steps, "train_loss": m["train_loss"],
                              "train_mean_token_accuracy": m["train_accuracy"], "valid_loss": m["valid_loss"],
                              "valid_mean_token_accuracy": m["valid_mean_token_accuracy"]})
            base = f"ft:{j['model']}:{self.org}:{j.get('suffix') or ''}:{jid[-6:]}"
            if s % 2 == 0 or s == self.steps:
                self.checkpoints[jid].append({
                    "id": f"ftckpt-{next(_ids)}", "object": "fine_tuning.job.checkpoint", "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": f"{base}:ckpt-step-{s}", "fine_tuning_job_id": jid,
                    "step_number": s, "metrics": {"step": s, "train_loss": m["train_loss"],
                                                  "train_mean_token_accuracy": m["train_accuracy"],
                                                  "valid_loss": m["valid_loss"]}})
            if s >= self.steps:
                csv_text = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n" + "".join(
                    f"{i},{self._metrics(i)['train_loss']:.5f},{self._metrics(i)['train_accuracy']:.5f},"
                    f"{self._metrics(i)['valid_loss']:.5f},{self._metrics(i)['valid_mean_token_accuracy']:.5f}\n"
                    for i in range(1, s + 1))
                rid = f"file-{next(_ids)}"
                self.files[rid] = {"id": rid, "object": "file", "bytes": len(csv_text), "created_at": int(time.time()),
                                   "filename": "step_metrics.csv", "purpose": "fine-tune-results",
                                   "status": "processed", "data": csv_text.encode()}
                j.update(status="succeeded", fine_tuned_model=base, result_files=[rid], trained_tokens=1234 * s,
                         finished_at=int(time.time()))
                self._event(jid, "New fine-tuned model created")
                self._event(jid, "The job has successfully completed")

    @staticmethod
    def _metrics(step: int) -> dict:
        return {"train_loss": 2.0 / step, "train_accuracy": 1 - 0.5 / step, "valid_loss": 2.2 / step,
                "valid_mean_token_accuracy": 1 - 0.6 / step}

    def _job(self, req: FakeRequest) -> str | Reply:
        jid = req.params["job_id"]
        return jid if jid in self.jobs else _err(404, f"Could not find fine tune job: {jid}", "fine_tune_id")

    def retrieve(self, req: FakeRequest) -> dict | Reply:
        with self._lock:
            jid = self._job(req)
            if isinstance(jid, Reply):
                return jid
            self.tick(jid)
            return self._public(jid)

    def cancel(self, req: FakeRequest) -> dict | Reply:
        with self._lock:
            jid = self._job(req)
            if isinstance(jid, Reply):
                return jid
            j = self.jobs[jid]
            if j["status"] in ("succeeded", "failed", "cancelled"):
                return _err(400, f"Job has already completed: {j['status']}")
            j.update(status="cancelled", finished_at=int(time.time()))
            self._event(jid, "Job cancelled")
            return self._public(jid)

    def list_jobs(self, req: FakeRequest) -> dict:
        data = [self._public(j) for j in reversed(self.jobs)]
        limit = int(req.query.get("limit", ["20"])[0])
        return {"object": "list", "data": data[:limit], "has_more": len(data) > limit}

    def _page(self, items: list[dict], req: FakeRequest) -> dict:
        after = req.query.get("after", [None])[0]
        limit = int(req.query.get("limit", ["20"])[0])
        if after:
            ids = [i["id"] for i in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}

    def list_events(self, req: FakeRequest) -> dict | Reply:
        jid = self._job(req)
        return jid if isinstance(jid, Reply) else self._page(list(reversed(self.events[jid])), req)

    def list_checkpoints(self, req: FakeRequest) -> dict | Reply:
        jid = self._job(req)
        if isinstance(jid, Reply):
            return jid
        page = self._page(list(reversed(self.checkpoints[jid])), req)
        return page | {"first_id": page["data"][0]["id"] if page["data"] else None,
                       "last_id": page["data"][-1]["id"] if page["data"] else None}

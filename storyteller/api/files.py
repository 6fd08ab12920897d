"""/v1/files: upload (multipart, purpose=fine-tune), list, retrieve, download, delete.

Uploads are checked before they are kept (storyteller/api/uploads.py) and capped at
settings.api.max_file_mb; a refused upload leaves nothing behind.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from storyteller.api.errors import APIError, not_found
from storyteller.api.auth import caller
from storyteller.api.filestore import FileStore, StoredFile
from storyteller.api.uploads import check_upload
from storyteller.config import get_settings
from storyteller.errors import DataError

router = APIRouter()
MULTIPART_SLACK = 64 * 1024  # the form's own bytes around the file
DRAIN_MAX = 1 << 30  # read (and drop) at most this much of a refused body, so the client sees the answer


def file_object(f: StoredFile) -> dict:
    return {"id": f.id, "object": "file", "bytes": f.bytes, "created_at": f.created_at, "filename": f.filename,
            "purpose": f.purpose, "status": "processed"}


def get_file(store: FileStore, file_id: str, param: str = "file_id") -> StoredFile:
    f = store.find(file_id)
    if f is None:
        raise not_found("File object", file_id, param)
    return f


def _cap() -> int:
    return int(get_settings().api.max_file_mb * 2**20)


def _too_big(size: int | None, cap: int) -> APIError:
    seen = f"{size / 2**20:.1f} MB, " if size else ""
    return APIError(413, f"The file is {seen}more than the {cap / 2**20:.0f} MB limit for uploads here.",
                    param="file", code="file_too_large")


async def _drain(request: Request) -> None:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > DRAIN_MAX:
            break


@router.post("/files")
async def create_file(request: Request) -> dict:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise APIError(400, "Upload files as multipart/form-data with the fields 'file' and 'purpose' (the OpenAI "
                            "SDK's files.create does this).", code="unsupported_content_type")
    cap = _cap()
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap + MULTIPART_SLACK:
        await _drain(request)
        raise _too_big(int(length), cap)
    async with request.form(max_files=1, max_fields=8) as form:
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise APIError(400, "The form has no 'file' part.", param="file")
        if purpose != "fine-tune":
            raise APIError(400, f"purpose must be 'fine-tune' (got {str(purpose)[:40]!r}): this server keeps files "
                                "for fine-tuning only.", param="purpose")
        store = FileStore(owner=caller(request))
        file_id, filename = store.new_id(), (upload.filename or "upload.jsonl")[:255]
        staged, size = await run_in_threadpool(store.save_stream, upload.file, file_id, filename, cap)
    try:
        if size > cap:
            raise _too_big(None, cap)
        checked = await run_in_threadpool(check_upload, staged, filename, cap)
    except DataError as e:
        store.discard(staged)
        raise APIError(400, str(e), param="file", code="invalid_file_format") from None
    except BaseException:
        store.discard(staged)
        raise
    kept = store.keep(staged, file_id, filename, "fine-tune", checked.kind, checked.examples)
    return file_object(kept)


@router.get("/files")
def list_files(request: Request, purpose: str | None = None, limit: int = Query(10000, ge=1, le=10000),
               order: Literal["asc", "desc"] = "desc", after: str | None = None) -> dict:
    files = FileStore(owner=caller(request)).list(purpose)
    if order == "asc":
        files.reverse()
    if after:
        ids = [f.id for f in files]
        files = files[ids.index(after) + 1:] if after in ids else []
    page = files[:limit]
    return {"object": "list", "data": [file_object(f) for f in page], "first_id": page[0].id if page else "",
            "last_id": page[-1].id if page else "", "has_more": len(files) > limit}


@router.get("/files/{file_id}")
def retrieve_file(file_id: str, request: Request) -> dict:
    return file_object(get_file(FileStore(owner=caller(request)), file_id))


@router.get("/files/{file_id}/content")
def file_content(file_id: str, request: Request):
    store = FileStore(owner=caller(request))
    f = get_file(store, file_id)
    path = store.path_of(f)
    if not path.is_file():
        raise APIError(404, f"The content of {file_id} is missing on the server (deleted by hand?).",
                       param="file_id")
    media = "text/csv" if f.kind == "results" else "application/octet-stream"
    return FileResponse(path, media_type=media, filename=f.filename)


@router.delete("/files/{file_id}")
def delete_file(file_id: str, request: Request) -> dict:
    store = FileStore(owner=caller(request))
    get_file(store, file_id)
    store.delete(file_id)
    return {"id": file_id, "object": "file", "deleted": True}

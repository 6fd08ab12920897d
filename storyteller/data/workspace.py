"""Where the app keeps datasets: <data_dir>/datasets/, one subfolder per family in public mode.

The web app reads datasets only from here: what it generated, prepared, or copied in from an
upload. Names come from what a parent types, so `safe_name` turns them into file names that cannot
climb out of the folder (the same name means the same file, so a re-run resumes it), and
`resolve` is the one rule for reading: a name relative to the family's folder, a regular file
inside it, no link, no hidden file. The CLI, run by the machine's own user, keeps its paths.

owner None is the local single-user mode: the top folder, and listings that show every family's.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from storyteller.config import get_settings
from storyteller.data.io import MAX_BYTES
from storyteller.errors import DataError, InputError

OWNERS = "families"  # <datasets>/families/<owner key>/
KINDS = (".csv", ".jsonl", ".json")
SUBFOLDERS = ("", "uploads", "prepared")


def root_dir() -> Path:
    path = get_settings().data_dir / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir(owner: str | None = None) -> Path:
    """The family's folder (owner: a key from `access.owner_key`), or the top folder."""
    if owner is not None and not re.fullmatch(r"[0-9a-f]{16,64}", owner):
        raise InputError("This page's family id is not valid; reload the page.")
    path = root_dir() / OWNERS / owner if owner else root_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name: str, default: str = "stories") -> str:
    """Letters (any script), digits, '-' and '_' only; at most 60 characters."""
    cleaned = re.sub(r"[^\w-]+", "_", (name or "").strip(), flags=re.UNICODE).strip("._")[:60]
    return cleaned or default


def output_path(name: str, fmt: str = "csv", owner: str | None = None) -> Path:
    return datasets_dir(owner) / f"{safe_name(name)}.{'jsonl' if fmt == 'jsonl' else 'csv'}"


def prepared_dir(owner: str | None = None) -> Path:
    path = datasets_dir(owner) / "prepared"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_upload(src: str | Path, owner: str | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Copy an uploaded file into the family's uploads/ folder (an upload's temp file may vanish, and
    training later reads only the workspace). Same name: replaced, as a re-upload means."""
    src = Path(src)
    if src.is_symlink() or not src.is_file():
        raise DataError("The upload could not be read.", "Upload the file again.",
                        zh="上传的文件读不出来，请再上传一次。")
    if src.stat().st_size > max_bytes:
        size, limit = f"{src.stat().st_size / 2**20:.0f}", f"{max_bytes / 2**20:.0f}"
        raise DataError(f"The file is {size} MB, more than the {limit} MB limit.",
                        "A story dataset is usually a few MB: split the file.",
                        zh=f"这个文件有 {size} MB，超过了 {limit} MB 的上限。"
                           "故事数据集一般只有几 MB，请把文件分成几份。")
    suffix = src.suffix.lower() if src.suffix.lower() in KINDS else ".csv"
    folder = datasets_dir(owner) / "uploads"
    folder.mkdir(exist_ok=True)
    dst = folder / f"{safe_name(src.stem, 'upload')}{suffix}"
    shutil.copyfile(src, dst, follow_symlinks=False)
    return dst


def resolve(name: object, owner: str | None = None) -> Path:
    """The dataset file `name` names in the family's folder (e.g. "stories.csv",
    "prepared/stories.chat.jsonl"); a friendly error for anything else: absolute paths, `..`, `~`,
    links, hidden files, folders, other families' files — all alike, so nothing is revealed."""
    text = name if isinstance(name, str) else ""
    base = datasets_dir(owner)
    refused = InputError("请从列表里选一个数据集，或上传一个。Choose a dataset from the list, or upload one.")
    parts = Path(text).parts
    if not text.strip() or len(text) > 300 or "\x00" in text or Path(text).is_absolute() or not parts \
            or any(p in ("..", "~") or p.startswith(".") or "\\" in p for p in parts):
        raise refused
    path = base.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(base.resolve()) and real.is_file()
        linked = any(p.is_symlink() for p in [path, *path.parents] if p != base and p.is_relative_to(base))
    except (OSError, RuntimeError):
        raise refused from None
    if not inside or linked or real.suffix.lower() not in KINDS:
        raise refused
    return real


def relative_name(path: str | Path, owner: str | None = None) -> str | None:
    """`path` as `resolve` takes it, or None when it is not in the family's folder."""
    try:
        return Path(path).resolve().relative_to(datasets_dir(owner).resolve()).as_posix()
    except (ValueError, OSError):
        return None


def list_datasets(owner: str | None = None) -> list[str]:
    """The family's dataset files as names for `resolve`, newest first. owner None: every file
    under the top folder, families' included (the local single-user mode sees all)."""
    base = datasets_dir(owner)
    found = []
    for p in base.rglob("*"):
        rel = p.relative_to(base)
        if p.suffix.lower() in KINDS and p.is_file() and not p.is_symlink() \
                and not any(part.startswith(".") for part in rel.parts):
            found.append(p)
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.relative_to(base).as_posix() for p in found]

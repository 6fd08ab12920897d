"""Where the app keeps datasets it makes: <data_dir>/datasets/, with safe file names.

The web app names outputs from what a parent types; this turns that into a file name that cannot
climb out of the folder, so the same name means the same file and a re-run resumes it.
"""

from __future__ import annotations

import re
from pathlib import Path

from storyteller.config import get_settings


def datasets_dir() -> Path:
    path = get_settings().data_dir / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_name(name: str, default: str = "stories") -> str:
    """Letters (any script), digits, '-' and '_' only; at most 60 characters."""
    cleaned = re.sub(r"[^\w-]+", "_", (name or "").strip(), flags=re.UNICODE).strip("._")[:60]
    return cleaned or default


def output_path(name: str, fmt: str = "csv") -> Path:
    return datasets_dir() / f"{safe_name(name)}.{'jsonl' if fmt == 'jsonl' else 'csv'}"


def prepared_dir() -> Path:
    path = datasets_dir() / "prepared"
    path.mkdir(parents=True, exist_ok=True)
    return path

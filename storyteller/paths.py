"""Where the project's own files live, so no module guesses relative paths."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
CORPUS_DIR = ASSETS / "corpus"
MODELS_DIR = ROOT / "models"
DEFAULT_MODEL_DIR = MODELS_DIR / "storyteller-tiny"

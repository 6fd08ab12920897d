"""Settings, read once from the environment (prefix STORYTELLER_, nested with `__`) and `.env`.

Examples: STORYTELLER_LOCAL__THREADS=1, STORYTELLER_OPENAI__BASE_URL=http://127.0.0.1:8000/v1.
OPENAI_API_KEY and OPENAI_BASE_URL count too, from the environment or `.env` (the environment wins),
as users of the OpenAI SDK expect.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel, Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storyteller.paths import DEFAULT_MODEL_DIR, MODELS_DIR, ROOT

SDK_NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


class OpenAISettings(BaseModel):
    api_key: SecretStr | None = Field(None, description="OpenAI key; falls back to OPENAI_API_KEY.")
    base_url: str | None = Field(
        None, description="Any OpenAI-compatible server (vLLM, Ollama, llama.cpp); falls back to OPENAI_BASE_URL."
    )
    timeout_s: float = Field(60.0, description="Per-request timeout in seconds.")
    max_retries: int = Field(4, description="Retries with exponential backoff on 429 and 5xx.")
    models: list[str] = Field(
        default_factory=lambda: ["gpt-4o-mini"], description="Chat models offered in the picker when a key is set."
    )

    _dotenv: dict[str, str] = PrivateAttr(default_factory=dict)  # the SDK's names as `.env` sets them

    def _sdk(self, name: str) -> str | None:
        """The SDK's variable: the process environment first (read now, as the SDK does), then `.env`."""
        return os.environ.get(name) or self._dotenv.get(name) or None

    def resolved_key(self) -> SecretStr | None:
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key
        key = self._sdk("OPENAI_API_KEY")
        return SecretStr(key) if key else None

    def resolved_base_url(self) -> str | None:
        return self.base_url or self._sdk("OPENAI_BASE_URL")


class LocalSettings(BaseModel):
    models_dir: Path = Field(MODELS_DIR, description="Folder scanned for local model folders.")
    default_model: str = Field(str(DEFAULT_MODEL_DIR.name), description="Model used when none is chosen.")
    hub_ids: list[str] = Field(default_factory=list, description="Hugging Face Hub ids offered in the picker.")
    device: str = Field("auto", description="auto, cpu, cuda or mps.")
    threads: int = Field(
        0, description="torch threads for local generation; 0: one for tiny models, torch's default for others."
    )
    cache_size: int = Field(3, description="How many loaded models to keep in memory.")
    lean: bool = Field(True, description="Decode small GPT-2 models on CPU with the lean loop (off: model.generate).")


class TTSSettings(BaseModel):
    enabled: bool = Field(True, description="Offer read-aloud in the UI.")
    rate: int = Field(150, description="Words per minute; bedtime voices go slower.")
    timeout_s: float = Field(20.0, description="Give up on one sentence after this many seconds.")
    driver: str | None = Field(None, description="pyttsx3 driver (espeak, sapi5, nsss); None picks the platform's.")


class TrainingSettings(BaseModel):
    runs_dir: Path = Field(ROOT / "runs", description="Where local fine-tunes write checkpoints and logs.")
    poll_s: float = Field(2.0, description="How often the UI and CLI poll a running job.")
    max_running: int = Field(
        1, ge=1, description="Local jobs that train at once; more wait as 'queued' and start when one ends."
    )
    mix_share: float = Field(
        0.5, ge=0.0, lt=1.0,
        description="Incremental fine-tuning: share of each epoch's examples drawn from earlier stories "
        "(the corpus the model learned from), so new data does not erase old skills.",
    )


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(7860, description="Port the web app listens on.")
    concurrency: int = Field(8, description="Stories told at the same time.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORYTELLER_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(ROOT / "var", description="SQLite database, saved stories, audio.")
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    ui: UISettings = Field(default_factory=UISettings)

    def model_post_init(self, context: object) -> None:
        """pydantic-settings reads only our own names from `.env`; keep the SDK's two as well."""
        found = _read_env_files(self.model_config.get("env_file"), self.model_config.get("env_file_encoding"))
        self.openai._dotenv = {k: v for k in SDK_NAMES if (v := found.get(k))}

    @property
    def db_path(self) -> Path:
        return self.data_dir / "storyteller.db"


def _read_env_files(env_file: object, encoding: str | None) -> dict[str, str]:
    """The variables in the settings' `.env` file(s); a later file wins, as in pydantic-settings."""
    files = [env_file] if isinstance(env_file, (str, Path)) else list(env_file or ())
    found: dict[str, str] = {}
    for f in files:
        if Path(f).expanduser().is_file():
            found |= {k: v for k, v in dotenv_values(Path(f).expanduser(), encoding=encoding or "utf-8").items() if v}
    return found


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()

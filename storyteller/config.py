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
    moderation_model: str = Field(
        "omni-moderation-latest", description="With a key, every story sentence is also checked by this moderation "
        "model (any story model, local ones too); empty: the local safety policy alone decides."
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
    world_opening: bool = Field(
        True, description="A model that learnt from the story world starts a new story from the world's first "
        "paragraph (the hero at home, at that hero's own pastime) and writes the rest.")


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
    story_check_stories: int = Field(16, ge=1, le=200, description="DPO/KTO story check: stories told after each "
                                     "epoch (finetune/story_check.py).")
    story_check_tokens: int = Field(900, ge=16, le=4096, description="DPO/KTO story check: the longest story told.")


class UISettings(BaseModel):
    host: str | None = Field(
        None, description="Address the web app listens on; None: GRADIO_SERVER_NAME, else 0.0.0.0 in public "
        "mode (what Spaces expect), else 127.0.0.1 (this computer only).")
    port: int | None = Field(None, description="Port the web app listens on; None: GRADIO_SERVER_PORT, else 7860.")
    concurrency: int = Field(8, description="Stories told at the same time.")


class PublicSettings(BaseModel):
    """The app on the internet (a Hugging Face Space, or any address other than loopback)."""

    enabled: bool | None = Field(
        None, description="Public mode; None: on in a Hugging Face Space (SPACE_ID set) or when the app listens "
        "on an address other than loopback.")
    parent_password: SecretStr | None = Field(
        None, description="Unlocks the Data and Training tabs and paid models in public mode; unset: they are off.")
    stories_per_minute: int = Field(10, ge=1, description="Stories one browser session, and one client address, "
                                    "may start per minute in public mode.")
    queue_size: int = Field(32, ge=1, description="Requests waiting in the queue at most, in public mode.")
    max_upload_mb: float = Field(10.0, gt=0, le=50, description="Largest upload in public mode (locally: 50 MB).")
    max_stories: int = Field(100, ge=1, description="Largest dataset one Generate may ask for, in public mode.")
    proxy_hops: int | None = Field(
        None, ge=0, description="Proxies in front of the app that add X-Forwarded-For; None: 1 in a Space, else 0 "
        "(the header is then ignored, since any client could write it).")


class APISettings(BaseModel):
    """`storyteller serve`: the OpenAI-compatible API under /v1, beside the studio."""

    host: str = Field("127.0.0.1", description="Address `storyteller serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `storyteller serve` listens on.")
    keys: list[SecretStr] = Field(
        default_factory=list, description="Bearer keys /v1 accepts (a JSON list in the environment: "
        "STORYTELLER_API__KEYS='[\"sk-...\"]'); required when the host is not loopback. None set: loopback is open.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed to call /v1; none: no CORS.")
    max_concurrent: int = Field(4, ge=1, description="Generations running at once.")
    max_queue: int = Field(16, ge=0, description="Generations waiting for a slot; one more gets 429 with Retry-After.")
    retry_after_s: int = Field(2, ge=1, description="The Retry-After a 429 carries.")
    max_file_mb: float = Field(50.0, gt=0, description="Largest upload to /v1/files.")
    stream_interval_ms: float = Field(
        100.0, ge=0, le=10_000, description="A stream sends what the model wrote at most this often (the first "
        "piece at once; a held piece waits at most for the model's next token): one safety check and one event "
        "for several tokens, ten events a second, which still reads as a steady flow. 0: every token as it comes.")


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
    public: PublicSettings = Field(default_factory=PublicSettings)
    api: APISettings = Field(default_factory=APISettings)

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

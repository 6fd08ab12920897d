"""User-facing errors. Each message says what went wrong and how to fix it, in plain words.

The UI and CLI show `str(err)` as is, so messages must be friendly to a parent (no tracebacks,
no secrets). An error may also carry its Chinese words (`zh`); the web page picks the one in its
language. Raise these from the core; never pop up UI from inside validation code.
"""


class StorytellerError(Exception):
    """Base class: a problem the user can understand and act on."""

    hint: str = ""
    zh: str | None = None  # the whole message (and what to do) in Chinese, for a page or CLI in Chinese

    def __init__(self, message: str, hint: str | None = None, zh: str | None = None):
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        if zh is not None:
            self.zh = zh

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class InputError(StorytellerError):
    """Something the user typed or uploaded is not usable."""


class ModelNotFoundError(StorytellerError):
    """The chosen model does not exist locally or on the server."""


class OfflineError(StorytellerError):
    """A download was needed but the machine is offline."""


class AuthError(StorytellerError):
    """The API key is missing or wrong."""

    hint = "Set OPENAI_API_KEY (or STORYTELLER_OPENAI__API_KEY) in your environment or .env file."


class QuotaError(StorytellerError):
    """The account has run out of credit or hit its rate limit for too long."""


class ServiceError(StorytellerError):
    """The model server failed or could not be reached."""


class GenerationStopped(StorytellerError):
    """The user pressed Stop; the text so far is kept."""


class TTSUnavailable(StorytellerError):
    """No speech engine is installed; stories still stream as text."""

    hint = "Install espeak-ng (Linux: `apt-get install espeak-ng`) to hear stories read aloud."


class DataError(InputError):
    """A dataset file has a problem; the message names the line and the fix."""


class JobError(StorytellerError):
    """A fine-tuning job could not be started, followed or cancelled."""


class SafetyError(InputError):
    """A typed value is not right for a children's story. The message is kind and never repeats
    what was typed; `.verdict` (category, reason, matched term) is for logs and tests only."""

    def __init__(self, message: str, verdict=None, hint: str | None = None):
        super().__init__(message, hint)
        self.verdict = verdict

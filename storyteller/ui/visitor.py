"""One browser's standing in the web app: its family (an owner token kept in the browser's local
storage), whether a parent has unlocked it, and the checks the handlers call.

`Visitor` lives in a gr.State (server side, one per page session), so a request cannot claim to
be a parent. In public mode (`storyteller.access`) the Data and Training handlers call
`require_parent()` first, stories are counted by `story_allowed()`, and each family reads and
writes only its own jobs, datasets and stories. Locally (loopback) every check passes and the one
user sees everything, as before.
"""

from __future__ import annotations

import gradio as gr

from storyteller import access, ratelimit
from storyteller.config import get_settings
from storyteller.finetune import JobStore
from storyteller.ui.i18n import DEFAULT, t

STORAGE_KEY = "storyteller-family"
UNLOCK_TRIES = 5  # wrong passwords per minute, per session and per address


class Visitor:
    """Per-session state: the family token (replaced on page load by the browser's own) and the gate."""

    def __init__(self, public: bool = False):
        self.public = public
        self.token = access.new_owner()
        self.parent = False
        self.session = ""  # Gradio's session hash, once a request has been seen
        self.address = ""
        self.lang = DEFAULT  # the page's language (its switch), for the messages handlers make

    def __deepcopy__(self, memo) -> "Visitor":  # gr.State copies its initial value per session
        return Visitor(self.public)

    @property
    def scope(self) -> str | None:
        """The owner key rows and folders are stamped with; None locally (one user, sees all)."""
        return access.owner_key(self.token) if self.public else None

    @property
    def trusted(self) -> bool:
        return not self.public or self.parent

    def seen(self, request: gr.Request | None) -> None:
        """Remember who is asking (for the per-session and per-address limits)."""
        if request is None:
            return
        self.session = str(getattr(request, "session_hash", "") or self.session)[:64]
        client = getattr(request, "client", None)
        headers = getattr(request, "headers", None) or {}
        self.address = access.client_address(getattr(client, "host", None), headers.get("x-forwarded-for"))

    def require_parent(self) -> None:
        if not self.trusted:
            raise gr.Error(t("gate.not_parent", self.lang), title="👪")

    def story_allowed(self) -> str | None:
        """None when this story may start; else the friendly message (public mode only counts)."""
        if not self.public:
            return None
        keys = (f"session:{self.session or id(self)}", f"address:{self.address}" if self.address else "")
        limiter = ratelimit.shared("stories", get_settings().public.stories_per_minute)
        if limiter.allow(*keys):
            return None
        return t("gate.too_many", self.lang, s=max(1, round(limiter.retry_after(*keys))))

    def paid_note(self) -> str:
        """Why a model that costs money waits for a parent, in the page's language."""
        return t("gate.paid", self.lang)

    def unlock(self, password: object) -> bool:
        """Try the parent password (a few tries a minute); True once unlocked."""
        keys = (f"session:{self.session or id(self)}", f"address:{self.address}" if self.address else "")
        if not ratelimit.shared("unlock", UNLOCK_TRIES).allow(*keys):
            return False
        self.parent = self.parent or access.check_parent_password(password)
        return self.parent

    def jobs(self) -> JobStore:
        """The family's view of the jobs (everyone's locally)."""
        return JobStore(owner=self.scope)

    def stories(self) -> JobStore | None:
        """Where this family's stories are saved: None locally (the default store). A JobStore opens
        the whole migration chain, so the owner column (a step after the jobs tables) exists."""
        return JobStore(owner=self.scope) if self.public else None


def adopt(stored: object, visitor: Visitor, request: gr.Request | None = None) -> str:
    """Page load: take the family token the browser kept (or keep the new one) and hand it back for
    the browser to store. A value that is not a token we make is replaced."""
    visitor.seen(request)
    visitor.token = access.valid_owner(stored) or visitor.token
    return visitor.token


def browser_state() -> gr.BrowserState:
    """Where the browser keeps its family token. The browser encrypts it with a secret it is sent,
    which hides nothing; a fixed one keeps the token readable after the app restarts."""
    return gr.BrowserState(None, storage_key=STORAGE_KEY, secret=STORAGE_KEY)

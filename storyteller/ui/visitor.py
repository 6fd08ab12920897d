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

STORAGE_KEY = "storyteller-family"
LOCKED = ("👪 这里需要家长密码：请家长在上面的「家长」里解锁。  \n"
          "👪 A parent needs to unlock this first (Parents, above).")
OFF = ("🔒 在这个公开页面上，数据和训练是关闭的。想用自己的故事训练讲故事模型？复制（Duplicate）这个 Space，"
       "在你自己的 Space 里用它们。  \n"
       "🔒 Datasets and training are off on this public page. To train a storyteller on your own stories, "
       "duplicate this Space and use them in your copy.")
YOUR_OWN = ("想在自己的 Space 里生成数据、训练模型？复制（Duplicate）这个 Space。  \n"
            "Want datasets and training of your own? Duplicate this Space.")
SET_PASSWORD = ("在复制的 Space 的 Settings → Secrets 里设置 `STORYTELLER_PUBLIC__PARENT_PASSWORD`，就能用家长密码打开它们。"
                "  \nIn your copy, set the secret `STORYTELLER_PUBLIC__PARENT_PASSWORD` to open them with a parent password.")
TOO_MANY = ("🐢 一分钟里讲了好多故事啦！休息一下，{s} 秒后再讲吧。  \n"
            "🐢 That's a lot of stories in one minute! Take a little break and try again in {s} seconds.")
NOT_PARENT = "这里需要家长密码。A parent needs to unlock this first."
PAID = ("💰 这个模型要花钱，需要家长先解锁（上面的「家长」）。请选一个免费的模型。  \n"
        "💰 This model costs money, so a parent must unlock it first (Parents, above). Please pick a free one.")
UNLOCK_TRIES = 5  # wrong passwords per minute, per session and per address


class Visitor:
    """Per-session state: the family token (replaced on page load by the browser's own) and the gate."""

    def __init__(self, public: bool = False):
        self.public = public
        self.token = access.new_owner()
        self.parent = False
        self.session = ""  # Gradio's session hash, once a request has been seen
        self.address = ""

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
            raise gr.Error(NOT_PARENT, title="👪")

    def story_allowed(self) -> str | None:
        """None when this story may start; else the friendly message (public mode only counts)."""
        if not self.public:
            return None
        keys = (f"session:{self.session or id(self)}", f"address:{self.address}" if self.address else "")
        limiter = ratelimit.shared("stories", get_settings().public.stories_per_minute)
        if limiter.allow(*keys):
            return None
        return TOO_MANY.format(s=max(1, round(limiter.retry_after(*keys))))

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

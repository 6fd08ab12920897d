"""OpenAI's moderation endpoint as a second opinion on story sentences, with thresholds that fit
the genre: a cartoon battle scores as violence, so violence blocks only when the model is nearly
sure, while sexual content, anything about minors and self-harm block at low scores.

Used only with an API key (`Moderator.from_settings()` is None otherwise). It never blocks a
story because of the network: a failed or slow request logs a warning and leaves the decision to
the local policy, and the moderator is not asked again for the rest of that story.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import openai

from storyteller.config import get_settings
from storyteller.safety.policy import Verdict

log = logging.getLogger(__name__)

TIMEOUT_S = 3.0  # per request: the child waits for it before the sentence shows
# block when a category's score reaches this; categories not listed never block
THRESHOLDS: dict[str, float] = {
    "violence": 0.92, "violence/graphic": 0.4,
    "sexual": 0.1, "sexual/minors": 0.01,
    "self-harm": 0.1, "self-harm/intent": 0.1, "self-harm/instructions": 0.1,
    "hate": 0.3, "hate/threatening": 0.2, "harassment": 0.5, "harassment/threatening": 0.3,
    "illicit": 0.5, "illicit/violent": 0.3,
}
# the moderation model's categories in the policy's words
CATEGORY = {"violence": "violence", "violence/graphic": "violence", "sexual": "sexual", "sexual/minors": "sexual",
            "self-harm": "self_harm", "self-harm/intent": "self_harm", "self-harm/instructions": "self_harm",
            "hate": "hate", "hate/threatening": "hate", "harassment": "hate", "harassment/threatening": "hate",
            "illicit": "drugs", "illicit/violent": "weapons"}


@lru_cache(maxsize=4)
def _client(base_url: str | None, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=base_url, timeout=TIMEOUT_S, max_retries=0)


class Moderator:
    """Asks the moderation endpoint about one text at a time; see the module docstring."""

    def __init__(self, client: openai.OpenAI, model: str = "omni-moderation-latest",
                 thresholds: dict[str, float] | None = None):
        self.client, self.model = client, model
        self.thresholds = thresholds or THRESHOLDS
        self.failed = False  # after one failure the local policy decides alone
        self.asked = 0

    @classmethod
    def from_settings(cls) -> "Moderator | None":
        """A moderator when an OpenAI key is set and moderation is on, else None."""
        s = get_settings().openai
        key = s.resolved_key()
        if key is None or not s.moderation_model.strip():
            return None
        return cls(_client(s.resolved_base_url(), key.get_secret_value()), s.moderation_model.strip())

    def check(self, text: str) -> Verdict | None:
        if self.failed or not text.strip():
            return None
        self.asked += 1
        try:
            result = self.client.moderations.create(model=self.model, input=text).results[0]
            scores = result.category_scores.model_dump(by_alias=True)
        except (openai.OpenAIError, IndexError, AttributeError) as e:
            self.failed = True
            log.warning("moderation unavailable (%s); the local policy decides for the rest of this story",
                        type(e).__name__)
            return None
        over = [(name, float(score), self.thresholds[name]) for name, score in scores.items()
                if name in self.thresholds and score is not None and float(score) >= self.thresholds[name]]
        if not over:
            return None
        name, score, limit = max(over, key=lambda o: o[1] / o[2])
        category = CATEGORY.get(name, "violence")
        return Verdict(category=category, reason=f"{category}: moderation {name} {score:.2f} >= {limit}", term="")

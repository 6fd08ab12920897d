"""POST /v1/moderations on the loopback OpenAI server, scored by a function of the text.

    seen = add_moderation(fake, lambda text: {"violence": 0.8} if "打败" in text else {})
    seen  # every input the endpoint was asked about, in order

Scores not given are 1e-6; `categories` flags what reaches 0.5, as the real endpoint roughly does.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.openai_server import FakeOpenAI, FakeRequest

NAMES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
         "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
         "violence/graphic")


def add_moderation(fake: FakeOpenAI, score: Callable[[str], dict[str, float]]) -> list[str]:
    seen: list[str] = []

    def moderate(req: FakeRequest) -> dict:
        body = req.json or {}
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        results = []
        for text in inputs:
            seen.append(text)
            scores = {n: 1e-6 for n in NAMES} | score(text)
            results.append({"flagged": any(v >= 0.5 for v in scores.values()),
                            "categories": {n: v >= 0.5 for n, v in scores.items()},
                            "category_scores": scores,
                            "category_applied_input_types": {n: ["text"] for n in NAMES}})
        return {"id": f"modr-{len(seen)}", "model": body.get("model", ""), "results": results}

    fake.route("POST", "/v1/moderations", moderate)
    return seen

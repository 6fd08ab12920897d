"""An engine that tells scripted text: the n-th request gets the n-th script (the last repeats).

    engine = ScriptedEngine("从前有一位英雄。他拿刀杀了人。", "后来大家一起打败了怪兽。", chunk=2)
    run = studio.tell(req, engine=engine)       # the guard blocks the 2nd sentence, asks again
    engine.prompts[1].prefix, engine.prompts[1].params.banned

Text streams in pieces of `chunk` characters (so a sentence, or a blocked word, is split across
chunks), and every prompt is recorded. `can_continue=False` plays an engine that cannot continue a
story (the guard then ends it kindly).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from storyteller.engines.base import Engine, Prompt


class ScriptedEngine(Engine):
    def __init__(self, *scripts: str, chunk: int = 3, can_continue: bool = True, model_id: str = "scripted"):
        super().__init__(model_id)
        self.scripts, self.chunk, self.can_continue = list(scripts), chunk, can_continue
        self.prompts: list[Prompt] = []

    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        self.prompts.append(prompt)
        text = self.scripts[min(len(self.prompts), len(self.scripts)) - 1]
        for i in range(0, len(text), self.chunk):
            if cancel is not None and cancel.is_set():
                return
            yield text[i:i + self.chunk]

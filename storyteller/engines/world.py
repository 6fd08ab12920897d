"""The story world as an engine: whole stories composed offline, with no model and no key.

Used as a dataset source (`storyteller data generate --source world`, the Data tab): stories
that read well by construction, for any catalog or typed dynasty, hero, power and style.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator

from storyteller.catalog import get_catalog
from storyteller.engines.base import Engine, Prompt
from storyteller.errors import InputError
from storyteller.story_format import dynasty_name, hero_name
from storyteller.world import compose
from storyteller.world.compose import Cast
from storyteller.world.schema import cached_world

WORLD_ID = "world"
_PIECE = re.compile(r"[^。！？!?.\n]*[。！？!?.\n]+[”\"’]?|.+$", re.S)


class WorldEngine(Engine):
    """Composes a story from the request (seeded by `params.seed`); streams it sentence by sentence."""

    def __init__(self, model_id: str = WORLD_ID):
        super().__init__(model_id)

    def stream(self, prompt: Prompt, cancel: threading.Event | None = None) -> Iterator[str]:
        req = prompt.request
        if req is None:
            raise InputError("The story world composes stories from a request (dynasty, power, style).")
        seed = prompt.params.seed if prompt.params.seed is not None else random.randrange(2**31)
        cat, lang = get_catalog(), req.lang
        d = cat.dynasty(req.dynasty)
        hero = cat.hero(req.dynasty, req.hero) if req.hero else None
        if hero is None and d is not None and not req.hero:
            hero = random.Random(seed).choice(d.heroes)
        name = hero.name(lang) if hero else hero_name(req)
        power = cat.power(req.power)
        style = cat.style(req.style)
        cast = Cast(dynasty=dynasty_name(req.dynasty, lang), hero=name, power=power.zh if power else req.power,
                    style=style.zh if style else req.style, fact=hero.fact_for(lang, req.age_band) if hero else None,
                    hero_key=name if hero else None)
        story = compose(cached_world(lang), cast, seed)
        for piece in _PIECE.findall(story):
            if cancel is not None and cancel.is_set():
                return
            yield piece

"""Every line the app shows from the story world passes the story guard as the app streams it.

The slot filler shows a world line (a climax, a monster's reason, a hero's heart line, a typed
power's finding) as one chunk, and the guard judges it clause by clause. A clause the learned
check misreads is blocked, the story is asked for again from there, and it garbles: "三次经过自己家
门口都没有进去" read as self-harm garbled every story of 大禹, and "Nothing is secret with a friend on
your ear," read as horror. Each line is judged with the names it is told with (its own monster, its
own hero), since the check reads names too.
"""

from __future__ import annotations

import pytest

from storyteller.safety.guard import Checker, StoryGuard
from storyteller.story_cast import pronouns
from storyteller.world import load_world
from storyteller.world.schema import GENERIC, fill

BASE = {
    "zh": {"thing": "滑梯和秋千", "place": "城市公园", "kid": "小雨", "era": "唐朝", "dynasty": "唐", "prop": "毛笔",
           "activity": "正在月下写诗", "fact": "他是一位诗人。", "hero": "李白", "power": "隐形"},
    "en": {"thing": "the slides", "place": "the city park", "kid": "Mei", "era": "the Tang dynasty", "dynasty": "Tang",
           "prop": "brush", "activity": "was writing a poem", "fact": "He was a poet.", "hero": "Li Bai",
           "power": "invisibility"},
}


def lines(lang: str):
    """(where, text) for each world line as the app may show it whole, with its own names."""
    world = load_world(lang)
    for name, h in world.heroes.items():
        if name == GENERIC:
            continue
        v = BASE[lang] | pronouns(h.pronoun == "she") | {"hero": name, "monster": world.monsters[0].name}
        for t in h.activity:
            yield f"heroes.{name}.activity", f"{name}{fill(t, v)}。" if lang == "zh" else f"{name} {fill(t, v)}."
        for t in h.heart:
            yield f"heroes.{name}.heart", fill(t, v)
    for m in world.monsters:
        v = BASE[lang] | pronouns(False) | {"monster": m.name}
        for power, t in world.climax.get(m.id, {}).items():
            yield f"climax.{m.id}.{power}", fill(t, v)
        for part in ("looks", "mischief", "ultraman", "fixed", "need", "calm"):
            for t in getattr(m, part):
                yield f"monsters.{m.id}.{part}", fill(t, v)
    for key, t in world.typed.items():
        v = BASE[lang] | pronouns(False) | {"monster": world.monsters[0].name, "power": t.names[0]}
        for line in t.found:
            yield f"typed.{key}.found", fill(line, v)
        for line in t.show + t.fail:
            yield f"typed.{key}", v["hero"] + ("" if lang == "zh" else " ") + fill(line, v)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_world_line_passes_the_guard_as_one_chunk(lang):
    check, blocked, n = Checker(lang), [], 0
    for where, text in lines(lang):
        guard = StoryGuard(lang, check=check, can_continue=False)
        shown = "".join(guard.run(lambda prefix, banned: [text]))
        n += 1
        if guard.events:
            blocked.append((where, text, guard.events[0].category))
        else:
            assert shown == text
    assert n > 500 and not blocked, blocked

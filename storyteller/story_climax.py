"""A typed power shown at the climax, where the model only names it.

The model learnt typed powers from composed stories told with the world's generic passages, so
its climax for a power no catalog has says nothing of what the power does ("大禹用读心术的本领给积木怪
表演了一个小节目", "made a wonderful surprise"), and its failed tries fit no power in particular ("too
quick" for mind reading). Blind readers refused every such story: the power the child asked for is
never shown. The world writes, for powers children often type (读心术, 喷火, 会变色 …), lines that
show them (for the most typed, one for each monster's own mischief) and tries that fit them; the
generic sentence the model writes is shown with one of those lines in its place (story_unsaid.py).
The model keeps its own words in its context,
and the sentences after it (the monster staring, laughing) read on from either.

A catalog power's climax is shown the same way, as the world's line for that power on the telling's
monster (monster_climax), so the fix follows from the mischief.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from storyteller.catalog import get_catalog
from storyteller.world.compose import climax_line, era, fill
from storyteller.world.schema import GENERIC, TypedPower, cached_world, first_sentence
from storyteller.world.seen import hide_again, invisible

_PREFIX = re.compile(r"^(?:the power of |power of |会|能)")
_SUFFIX = re.compile(r"(?:的本领|的能力|本领|能力| power)$")


def power_key(name: str) -> str:
    """A typed power as it is looked up: "会读心术" and "读心术的本领" are "读心术"."""
    key = re.sub(r"\s+", " ", name.strip().lower())
    return _SUFFIX.sub("", _PREFIX.sub("", key)).strip()


def typed_power(power: str, lang: str) -> TypedPower | None:
    """The world's entry for a typed power ("会读心术", "Reading minds"), if it has one; a catalog
    power has its own passages and gets none."""
    if not power or get_catalog().power(power) is not None:
        return None
    key = power_key(power)
    world = cached_world(lang)
    return next((t for t in world.typed.values() if key in {power_key(n) for n in t.names}), None)


def climax_instead(lang: str, values: dict[str, str]) -> dict[str, str | Callable[[str], str]]:
    """{generic sentence as the story shows it: the sentence with the power shown}, for the request's
    power: its climax, and its failed tries where the world has lines for them; empty when the world
    has no lines for the power. Picked by the telling's cast, so tellings differ and a retold story
    keeps its lines; each failed try a story tells gets a line of its own."""
    if values.get("dynasty") and not values.get("era"):
        values = values | {"era": era(values["dynasty"], lang)}  # how the world's lines name the time
    typed = typed_power(values.get("power") or "", lang)
    generic = cached_world(lang).powers[GENERIC]
    if typed is None:
        return monster_climax(lang, values)
    if not generic.instead:
        return {}
    rng = random.Random("|".join(f"{k}={values.get(k)}" for k in ("power", "monster", "kid", "place", "thing")))
    monster = next((m.id for m in cached_world(lang).monsters if m.name == values.get("monster")), "")
    show, fails = rng.choice(typed.monsters.get(monster) or typed.show), rng.sample(typed.fail, len(typed.fail))
    if lang == "en":  # two sentences, read aloud: r48 readers marked "one huge run-on sentence"
        show = re.sub(r";\s+(\S)", lambda m: ". " + m.group(1).upper(), show)
    out, n = found_instead(lang, typed, generic.found, values, rng), 0
    for say, instead in generic.instead.items():
        if "{show}" in instead:
            out[fill(say, values)] = fill(instead, values | {"show": fill(show, values)})
        elif fails:
            out[fill(say, values)] = fill(instead, values | {"fail": fill(fails[n % len(fails)], values)})
            n += 1
    return out


def climax_after(lang: str, values: dict[str, str]) -> list[str]:
    """For a typed power: the generic climax's sentences after its first, left out of the story shown.
    The typed power's own line now stops the mischief itself, for a reason a child can see (the
    monster gets the company it was after); readers of r37 and r38 had refused climaxes that only
    showed the power off ("mind reading only used for a number game"), and the model's follow-on
    ("泡泡怪看呆了，一下子忘了捣乱") after such a line says it twice. Empty for a catalog power."""
    if typed_power(values.get("power") or "", lang) is None:
        return []
    out = []
    for solve in cached_world(lang).powers[GENERIC].solve:
        rest = solve[len(first_sentence(solve)):].strip()
        if rest:
            out.append(fill(rest, values))
    return out


def catalog_found(lang: str, values: dict[str, str]) -> dict[str, str]:
    """{each way a catalog power is found, as the story shows it: the way this telling finds it}. The
    model learnt to write the one finding that names the power, so ten tellings of one request shared
    it word for word (variety 0.21 with the trip told by the world); a finding picked by the telling's
    cast is shown instead, followed by a line naming the power where it does not. A finding that names
    the child is never picked: it would name them before they are met."""
    power = get_catalog().power(values.get("power") or "")
    world = cached_world(lang)
    entry = world.powers.get(power.zh) if power else None
    picks = [f for f in entry.found if "{kid}" not in f] if entry else []
    if not picks:
        return {}
    rng = random.Random("found|" + "|".join(values.get(k) or "" for k in ("power", "monster", "kid", "place", "prop")))
    shown = fill(rng.choice(picks), values)
    if (values.get("power") or "").lower() not in shown.lower():
        shown += ("" if lang == "zh" else " ") + fill(rng.choice(world.beats["named"]).text, values)
    return {fill(f, values): shown for f in entry.found if "{kid}" not in f}


def found_instead(lang: str, typed: TypedPower, generic: list[str], values: dict[str, str],
                  rng: random.Random) -> dict[str, str]:
    """{each generic finding of a power as the story shows it: the typed power's own}. Readers marked
    "轻轻一试，真的做到了！" (tried what?) and a child asking "你会变色？" before anything changed colour."""
    if not typed.found:
        return {}
    own = _as_shown(fill(rng.choice(typed.found), values))
    kid = values.get("kid") or ""
    met = ["一个叫{kid}的小朋友", "小朋友{kid}"] if lang == "zh" else ["a child called {kid}"]
    out = {}
    for line in generic:  # the child may be named as someone new there (SlotFiller._meet_kid)
        for who in [kid] + ([fill(m, {"kid": kid}) for m in met] if kid else []):
            out[_as_shown(fill(line, values | {"kid": who}))] = own
    return out


def _as_shown(text: str) -> str:
    """As the slot filler shows a typed power: "你会<|power|>" with 会变色 is 你会变色, one 的 before 的本领."""
    for twice, once in (("会会", "会"), ("能会", "会"), ("能能", "能"), ("的的", "的")):
        text = text.replace(twice, once)
    return text


def monster_climax(lang: str, values: dict[str, str]) -> dict[str, str | Callable[[str], str]]:
    """{each of a catalog power's solve lines as the story shows it: the world's climax for that power
    on the telling's monster}. The model learnt solve lines that only calm or distract the monster,
    after which the mess is undone with no cause; readers refused those ("the fix does not follow").
    Another monster's climax for the same power, which the model learnt too, is shown so as well.
    Empty for a typed power, an unknown monster, or a world without climax lines."""
    world = cached_world(lang)
    power = get_catalog().power(values.get("power") or "")
    monster = next((m for m in world.monsters if m.name == values.get("monster")), None)
    own = climax_line(world, monster.id, power.zh, values.get("place") or "") if power and monster else None
    if not own:
        return {}
    sep = "" if lang == "zh" else " "
    freed = [(f.when, fill(f.text, values)) for f in monster.freed]
    # the model may also write another monster's climax for this power (story_monster.py)
    says = [fill(say, values) for say in world.powers[power.zh].solve] + [
        fill(line, values) for m in world.monsters if m.id != monster.id
        if (line := climax_line(world, m.id, power.zh, values.get("place") or "")) and line != own]
    if not freed and not invisible(power.zh):
        return {say: fill(own, values) for say in says}

    def shown(told: str) -> str:  # an invisible hero seen again hides first; Ultraman let go, if left stuck
        line = hide_again(own, lang, values, told) if invisible(power.zh) else fill(own, values)
        return sep.join([line, *(t for w, t in freed if w in told)])
    return {say: shown for say in says}

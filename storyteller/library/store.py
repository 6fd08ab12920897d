"""The family's story library: every saved story read back a page at a time, searched, kept as a
favourite, rated 👍/👎 with a child's reasons, paired with a second story for the same request
(the child's pick), deleted one by one or all at once. Audio made for a story is kept beside it.

    lib = Library(owner=None)             # the CLI and the local app: every story
    page = lib.page(query="奥特曼")        # newest first, 20 at a time
    lib.rate(page.entries[0].id, "up", ["loved"])

Schema step 7 (this module's) adds the favourite and audio columns, the `ratings` table (one per
story: the family's latest word on it), the `pairs` table (two story ids told for one request,
and left/right/tie/both_bad) and the search index (FTS5, each hanzi a token). `owner` scopes everything as in `storyteller.store`: a story another
family made, a number too big or a number that never existed all read as "no such story".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from storyteller.config import get_settings
from storyteller.errors import InputError
from storyteller.finetune import JobStore
from storyteller.store import Migration

PAGE_SIZE = 20
QUERY_MAX = 100  # characters of a search kept; more finds nothing more
ID_MAX = 2**63 - 1  # SQLite's largest integer: a bigger number names no story
REASONS = ("scary", "boring", "confusing", "loved")  # 太吓人 · 没意思 · 看不懂 · 最喜欢
CHOICES = ("left", "right", "tie", "both_bad")
Choice = Literal["left", "right", "tie", "both_bad"]
TITLE_CHARS = 40
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=\.)\s|\n")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
_TOKEN = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps: letters and digits
SEARCHED = ("dynasty", "power", "style", "hero")  # request fields a search looks in, besides the text


def m007_library(db) -> None:
    """Favourites and kept audio on each story; 👍/👎 ratings with reasons; pairs of stories told
    for one request with the child's pick. Deleting a story deletes its rating and its pairs."""
    db.execute("ALTER TABLE stories ADD COLUMN favourite INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE stories ADD COLUMN audio TEXT")  # a WAV under the data dir, relative to it
    db.execute(
        """CREATE TABLE ratings (
            story_id INTEGER PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,
            created REAL NOT NULL,
            value INTEGER NOT NULL CHECK (value IN (-1, 1)),
            reasons TEXT NOT NULL DEFAULT '[]'   -- JSON list of REASONS
        )"""
    )
    db.execute(
        """CREATE TABLE pairs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created REAL NOT NULL,
            owner TEXT,
            left_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
            right_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
            choice TEXT CHECK (choice IN ('left', 'right', 'tie', 'both_bad')),
            decided REAL
        )"""
    )
    db.execute("CREATE INDEX pairs_owner ON pairs (owner, id)")
    db.execute("CREATE INDEX stories_favourites ON stories (owner, id) WHERE favourite = 1")
    # Search: every story's words, each hanzi a token of its own (so a phrase of hanzi is a substring
    # match), filled in by `Library._index_words` before a search; a deleted story leaves it here.
    db.execute("CREATE VIRTUAL TABLE story_words USING fts5(words)")
    db.execute("CREATE TRIGGER stories_words_gone AFTER DELETE ON stories BEGIN "
               "DELETE FROM story_words WHERE rowid = old.id; END")
    db.execute("CREATE INDEX pairs_left ON pairs (left_id)")
    db.execute("CREATE INDEX pairs_right ON pairs (right_id)")


def m008_model_text(db) -> None:
    """The story as the model wrote it (its slot tokens, before the world's lines were shown): what
    training on the family's picks learns from, so the model learns its own words."""
    db.execute("ALTER TABLE stories ADD COLUMN model_text TEXT")


def _extend(base: dict[int, Migration], steps: dict[int, Migration]) -> dict[int, Migration]:
    """base + steps; a number another store already uses is a mistake to see at import time."""
    if taken := set(base) & set(steps):
        raise RuntimeError(f"migration number(s) {sorted(taken)} are already used; take the next free one")
    return {**base, **steps}


class NoSuchStory(InputError):
    """The story number names none of this family's stories (never says whether it is someone else's)."""


def _no_such(value: object) -> NoSuchStory:
    shown = _CONTROLS.sub("", str(value))[:24]
    return NoSuchStory(f"There is no story number {shown} in your story book.",
                       "Pick one from the list (storyteller stories list).",
                       zh=f"故事书里没有第 {shown} 号故事。请从列表里选一个。")


def story_id(value: object) -> int:
    """A story number from whatever was typed or sent: '12', 12, ' 12 '. Anything else, and numbers
    no row can have, are "no such story" (friendly, never a crash)."""
    if isinstance(value, bool):
        raise _no_such(value)
    if isinstance(value, int):
        n = value
    else:
        text = str(value if value is not None else "").strip().lstrip("#")
        if not text.isascii() or not text.isdigit():
            raise _no_such(text or "?")
        n = int(text[:30]) if len(text) <= 30 else ID_MAX + 1
    if not 0 < n <= ID_MAX:
        raise _no_such(value)
    return n


def clean_query(query: object) -> str:
    """What a search looks for: control characters out, at most QUERY_MAX characters, trimmed."""
    return _CONTROLS.sub(" ", str(query or ""))[:QUERY_MAX].strip()


def like_pattern(query: str) -> str:
    """A LIKE pattern that matches `query` literally: % _ and \\ typed by a child are just characters."""
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_words(text: str) -> str:
    """Text as the search index holds it: each hanzi apart, so "李白" is the phrase "李 白"."""
    return _HAN.sub(r" \1 ", text or "")


def match_query(query: str) -> str | None:
    """An FTS5 phrase for what was typed (its letters and digits, in order; the last Latin word may
    be the start of a word), or None when it has none (then the text is scanned for it literally)."""
    tokens = _TOKEN.findall(search_words(query))
    if not tokens:
        return None
    return f'"{" ".join(tokens)}"' + ("*" if tokens[-1].isascii() else "")


def _indexed(text: str, request: str) -> str:
    try:
        req = json.loads(request)
    except ValueError:
        req = {}
    extra = " ".join(str(req.get(k) or "") for k in SEARCHED) if isinstance(req, dict) else ""
    return search_words(f"{text}\n{extra}")


def title_of(text: str) -> str:
    """The story's title line: its first sentence, at most TITLE_CHARS characters."""
    head = (text or "").strip()
    first = _SENTENCE_END.split(head, maxsplit=1)[0].strip() if head else ""
    first = _CONTROLS.sub(" ", first)
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS - 1] + "…"


class StoryEntry(BaseModel):
    """One line of the library: what the list shows (the text only when one story is opened)."""

    id: int
    created: float
    title: str
    request: dict
    model: str
    age_band: str | None = None
    status: str
    favourite: bool = False
    rating: int | None = None  # 1 👍, -1 👎, None not rated
    reasons: list[str] = []
    has_audio: bool = False
    text: str | None = None
    model_text: str | None = Field(None, exclude=True)  # the model's own words, for training on the family's picks

    @property
    def lang(self) -> str:
        return "en" if self.request.get("lang") == "en" else "zh"


class Page(BaseModel):
    entries: list[StoryEntry]
    total: int
    page: int
    pages: int
    query: str = ""


class Pair(BaseModel):
    id: int
    left_id: int
    right_id: int
    choice: Choice | None = None


class Counts(BaseModel):
    """How much preference data a family has (the Data tab shows it)."""

    stories: int = 0
    up: int = 0
    down: int = 0
    pairs: dict[str, int] = {c: 0 for c in (*CHOICES, "undecided")}


_COLUMNS = ("s.id, s.created, s.model, s.request, s.age_band, s.status, s.favourite, s.audio, "
            "r.value AS rating, r.reasons")


class Library(JobStore):
    """Reads and marks the stories `storyteller.store.Store` saved, for one family (or everyone)."""

    MIGRATIONS = _extend(JobStore.MIGRATIONS, {7: m007_library, 8: m008_model_text})

    # --- reading ------------------------------------------------------------------------
    def _scope(self, alias: str = "s") -> tuple[str, list]:
        return (f"{alias}.owner = ?", [self.owner]) if self.owner is not None else ("1", [])

    def page(self, query: object = "", page: object = 1, favourites: bool = False,
             size: int = PAGE_SIZE) -> Page:
        """One page of stories, newest first; `query` finds a phrase in the story, its dynasty, power,
        style or hero (through the search index; typed wildcards and quotes are plain characters)."""
        q = clean_query(query)
        try:
            number = max(1, min(10**6, int(page)))
        except (TypeError, ValueError):
            number = 1
        where, args = self._scope()
        if favourites:
            where += " AND s.favourite = 1"
        if q and (match := match_query(q)) is not None:
            self._index_words()
            where += " AND s.id IN (SELECT rowid FROM story_words WHERE story_words MATCH ?)"
            args.append(match)
        elif q:  # only punctuation or symbols: look for them literally
            where += " AND s.text LIKE ? ESCAPE '\\'"
            args.append(like_pattern(q))
        with self.connect() as db:
            total = db.execute(f"SELECT count(*) FROM stories s WHERE {where}", args).fetchone()[0]
            pages = max(1, -(-total // size))
            number = min(number, pages)
            rows = db.execute(
                f"SELECT {_COLUMNS}, substr(s.text, 1, 200) AS head FROM stories s "
                f"LEFT JOIN ratings r ON r.story_id = s.id WHERE {where} ORDER BY s.id DESC LIMIT ? OFFSET ?",
                (*args, size, (number - 1) * size)).fetchall()
        return Page(entries=[_entry(r) for r in rows], total=total, page=number, pages=pages, query=q)

    def _index_words(self) -> None:
        """Add the stories saved since the last search to the search index (ids only grow)."""
        with self.connect() as db:
            last = db.execute("SELECT coalesce(max(rowid), 0) FROM story_words").fetchone()[0]
            newest = db.execute("SELECT coalesce(max(id), 0) FROM stories").fetchone()[0]
        if newest <= last:
            return
        with self.transaction() as db:  # read again: another search may have just indexed them
            last = db.execute("SELECT coalesce(max(rowid), 0) FROM story_words").fetchone()[0]
            rows = db.execute("SELECT id, text, request FROM stories WHERE id > ?", (last,)).fetchall()
            db.executemany("INSERT INTO story_words (rowid, words) VALUES (?, ?)",
                           ((i, _indexed(text, req)) for i, text, req in rows))

    def get(self, value: object) -> StoryEntry:
        """One story with its text; NoSuchStory unless it is this family's."""
        sid = story_id(value)
        where, args = self._scope()
        with self.connect() as db:
            row = db.execute(f"SELECT {_COLUMNS}, s.text AS head, s.text, s.model_text FROM stories s LEFT JOIN ratings r "
                             f"ON r.story_id = s.id WHERE s.id = ? AND {where}", (sid, *args)).fetchone()
        if row is None:
            raise _no_such(sid)
        return _entry(row, with_text=True)

    def count(self) -> int:
        where, args = self._scope()
        with self.connect() as db:
            return db.execute(f"SELECT count(*) FROM stories s WHERE {where}", args).fetchone()[0]

    # --- marking ------------------------------------------------------------------------
    def favourite(self, value: object, on: bool = True) -> StoryEntry:
        sid = self.get(value).id
        with self.connect() as db:
            db.execute("UPDATE stories SET favourite = ? WHERE id = ?", (int(bool(on)), sid))
        return self.get(sid)

    def rate(self, value: object, rating: object, reasons: list[str] | None = None) -> StoryEntry:
        """👍 ("up", 1) or 👎 ("down", -1), with reasons from REASONS; replaces an earlier rating."""
        score = {"up": 1, "1": 1, "+1": 1, "👍": 1, "down": -1, "-1": -1, "👎": -1}.get(str(rating).strip().lower())
        if score is None:
            raise InputError("A rating is up (👍) or down (👎).", zh="评价只能是 👍（up）或 👎（down）。")
        unknown = [r for r in reasons or [] if r not in REASONS]
        if unknown:
            shown = _CONTROLS.sub("", ", ".join(map(str, unknown)))[:60]
            raise InputError(f"Unknown reason: {shown}. Reasons are {', '.join(REASONS)}.",
                             zh=f"没有这个理由：{shown}。可以选：太吓人、没意思、看不懂、最喜欢。")
        kept = [r for r in REASONS if r in (reasons or [])]
        with self.transaction() as db:
            sid = self.get(value).id
            db.execute("INSERT INTO ratings (story_id, created, value, reasons) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (story_id) DO UPDATE SET created = excluded.created, value = excluded.value, "
                       "reasons = excluded.reasons", (sid, time.time(), score, json.dumps(kept)))
        return self.get(sid)

    def unrate(self, value: object) -> StoryEntry:
        sid = self.get(value).id
        with self.connect() as db:
            db.execute("DELETE FROM ratings WHERE story_id = ?", (sid,))
        return self.get(sid)

    def delete(self, value: object) -> None:
        """Delete one story, its rating, its pairs and its kept audio."""
        with self.transaction() as db:
            entry = self.get(value)
            audio = db.execute("SELECT audio FROM stories WHERE id = ?", (entry.id,)).fetchone()[0]
            db.execute("DELETE FROM stories WHERE id = ?", (entry.id,))
        self._remove_audio([audio])

    def clear(self) -> int:
        """Delete every story of this family (everyone's, locally); how many went."""
        where, args = self._scope("stories")
        with self.transaction() as db:
            audio = [r[0] for r in db.execute(f"SELECT audio FROM stories WHERE {where}", args)]
            n = db.execute(f"DELETE FROM stories WHERE {where}", args).rowcount
            db.execute(f"DELETE FROM pairs WHERE {where.replace('stories.', 'pairs.')}", args)
        self._remove_audio(audio)
        return n

    # --- audio kept with the story -------------------------------------------------------
    @staticmethod
    def audio_dir() -> Path:
        return get_settings().data_dir / "audio"

    def audio_path(self, value: object) -> Path | None:
        """The story's kept WAV, if it has one still on disk."""
        sid = self.get(value).id
        with self.connect() as db:
            rel = db.execute("SELECT audio FROM stories WHERE id = ?", (sid,)).fetchone()[0]
        path = get_settings().data_dir / rel if rel else None
        return path if path is not None and path.is_file() else None

    def keep_audio(self, value: object, wav: Path | str) -> Path:
        """Copy a WAV made for the story next to the database, so it is never synthesised twice."""
        sid = self.get(value).id
        folder = self.audio_dir()
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"story-{sid}.wav"
        part = dest.with_suffix(f".{os.getpid()}.part")
        shutil.copyfile(wav, part)
        os.replace(part, dest)  # a reader never sees half a file
        with self.connect() as db:
            db.execute("UPDATE stories SET audio = ? WHERE id = ?", (dest.relative_to(get_settings().data_dir).as_posix(), sid))
        return dest

    def _remove_audio(self, rels: list[str | None]) -> None:
        root = get_settings().data_dir
        for rel in rels:
            if rel and (path := root / rel).parent == self.audio_dir():
                path.unlink(missing_ok=True)

    # --- pairs: two stories for one request, and the child's pick -----------------------
    def new_pair(self, left: object, right: object) -> Pair:
        with self.transaction() as db:
            a, b = self.get(left), self.get(right)
            if a.id == b.id:
                raise InputError("A pair needs two different stories.", zh="要两个不同的故事才能比一比。")
            cur = db.execute("INSERT INTO pairs (created, owner, left_id, right_id) VALUES (?, ?, ?, ?)",
                             (time.time(), self.owner, a.id, b.id))
            return Pair(id=int(cur.lastrowid), left_id=a.id, right_id=b.id)

    def pick(self, pair: object, choice: object) -> Pair:
        """Record the child's pick: left, right, tie (both good) or both_bad. A later pick replaces it."""
        if choice not in CHOICES:
            raise InputError("Pick left, right, tie or both_bad.", zh="请选左边、右边、一样好或者都不好。")
        gone = InputError("Those two stories are no longer there to pick from.",
                          zh="这两个故事已经不在了，再讲两个吧。")
        try:
            pid = story_id(pair)
        except NoSuchStory:
            raise gone from None
        where, args = self._scope("pairs")
        with self.connect() as db:
            row = db.execute(f"SELECT * FROM pairs WHERE id = ? AND {where}", (pid, *args)).fetchone()
            if row is None:
                raise gone
            db.execute("UPDATE pairs SET choice = ?, decided = ? WHERE id = ?", (choice, time.time(), pid))
        return Pair(id=pid, left_id=row["left_id"], right_id=row["right_id"], choice=choice)

    def pairs(self) -> list[Pair]:
        where, args = self._scope("pairs")
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM pairs WHERE {where} ORDER BY id", args).fetchall()
        return [Pair(id=r["id"], left_id=r["left_id"], right_id=r["right_id"], choice=r["choice"]) for r in rows]

    def rated(self) -> list[StoryEntry]:
        """Every rated story of this family, with its text (oldest first)."""
        where, args = self._scope()
        with self.connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS}, s.text AS head, s.text, s.model_text FROM stories s JOIN ratings r "
                              f"ON r.story_id = s.id WHERE {where} ORDER BY s.id", args).fetchall()
        return [_entry(r, with_text=True) for r in rows]

    def stories_by_id(self, ids: set[int]) -> dict[int, StoryEntry]:
        where, args = self._scope()
        found: dict[int, StoryEntry] = {}
        ordered = sorted(ids)
        with self.connect() as db:
            for i in range(0, len(ordered), 500):
                chunk = ordered[i:i + 500]
                rows = db.execute(f"SELECT {_COLUMNS}, s.text AS head, s.text, s.model_text FROM stories s LEFT JOIN ratings r "
                                  f"ON r.story_id = s.id WHERE {where} AND s.id IN ({','.join('?' * len(chunk))})",
                                  (*args, *chunk)).fetchall()
                found.update({r["id"]: _entry(r, with_text=True) for r in rows})
        return found

    def counts(self) -> Counts:
        where, args = self._scope()
        pwhere, pargs = self._scope("pairs")
        with self.connect() as db:
            stories = db.execute(f"SELECT count(*) FROM stories s WHERE {where}", args).fetchone()[0]
            votes = dict(db.execute(f"SELECT r.value, count(*) FROM ratings r JOIN stories s ON s.id = r.story_id "
                                    f"WHERE {where} GROUP BY r.value", args).fetchall())
            picks = dict(db.execute(f"SELECT coalesce(choice, 'undecided'), count(*) FROM pairs WHERE {pwhere} "
                                    "GROUP BY 1", pargs).fetchall())
        return Counts(stories=stories, up=votes.get(1, 0), down=votes.get(-1, 0),
                      pairs={c: picks.get(c, 0) for c in (*CHOICES, "undecided")})


def _entry(row, with_text: bool = False) -> StoryEntry:
    request = json.loads(row["request"])
    return StoryEntry(
        id=row["id"], created=row["created"], title=title_of(row["head"]), request=request, model=row["model"],
        age_band=row["age_band"] or request.get("age_band"), status=row["status"], favourite=bool(row["favourite"]),
        rating=row["rating"], reasons=json.loads(row["reasons"]) if row["reasons"] else [],
        has_audio=bool(row["audio"]), text=row["text"] if with_text else None,
        model_text=row["model_text"] if with_text else None)

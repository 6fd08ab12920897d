"""The story library's store: today's database opens with no story lost, pages and search (typed
wildcards match themselves), favourites, ratings, pairs, deleting, kept audio, the printable page,
and one family never reaching another's stories, whatever number it sends."""

from __future__ import annotations

import sqlite3
import wave
from pathlib import Path

import pytest

from storyteller.errors import InputError
from storyteller.finetune import JobStore
from storyteller.library import Library, NoSuchStory
from storyteller.library.printable import printable_html, ruby, write_files
from storyteller.store import Store

REQ = {"dynasty": "唐", "power": "隐形", "style": "轻松", "lang": "zh", "length": 300, "age_band": "6-8"}


def version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


@pytest.fixture
def db(settings_env) -> Path:
    return settings_env / "var" / "storyteller.db"


def save(path: Path, text: str, owner: str | None = None, **req) -> int:
    return JobStore(path, owner=owner).save_story("m", REQ | req, text, "done")


def test_todays_database_opens_with_every_story_kept(db):
    """A database the current code made (steps 1-6, stories of two families and the CLI) gains the
    library's step and loses nothing: the same rows, the same text, nothing marked yet."""
    texts = {save(db, f"故事{i}。第{i}个英雄帮助奥特曼。", owner=[None, "a" * 32, "b" * 32][i % 3]): i for i in range(30)}
    before = version(db)
    with sqlite3.connect(db) as raw:
        old = raw.execute("SELECT id, owner, text, request, model, status FROM stories ORDER BY id").fetchall()
    assert before == max(JobStore.MIGRATIONS) and 7 not in JobStore.MIGRATIONS

    lib = Library(db)
    assert version(db) == max(Library.MIGRATIONS) == 8
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT id, owner, text, request, model, status FROM stories ORDER BY id").fetchall() == old
    page = lib.page(size=100)
    assert page.total == 30 and {e.id for e in page.entries} == set(texts)
    assert not any(e.favourite or e.rating or e.has_audio for e in page.entries)
    JobStore(db)  # the older class opens the newer database without touching it
    Store(db).save_story("m", REQ, "新故事。", "done")
    assert version(db) == 8 and Library(db).count() == 31


def test_a_stories_only_database_from_the_first_version_goes_all_the_way(tmp_path, settings_env):
    path = tmp_path / "v1.db"
    Store(path).save_story("m", REQ, "最早的故事。", "done")
    assert version(path) == 1
    lib = Library(path)
    assert version(path) == 8 and lib.get(1).text == "最早的故事。" and lib.get(1).age_band == "6-8"


def test_last_versions_library_gains_the_model_s_own_words_with_nothing_lost(tmp_path, settings_env):
    """A library at step 7 (favourites, ratings, pairs) gains step 8, the model's own words of each new
    story; its stories, marks and picks stay, and an older story simply has none."""
    from storyteller.library.store import m007_library

    path = tmp_path / "v7.db"
    store = JobStore(path)
    ids = [store.save_story("m", REQ, f"第{i}个故事。", "done") for i in range(3)]
    with sqlite3.connect(path) as raw:
        m007_library(raw)
        raw.execute("PRAGMA user_version = 7")
        raw.execute("UPDATE stories SET favourite = 1 WHERE id = ?", (ids[0],))
        raw.execute("INSERT INTO ratings (story_id, created, value) VALUES (?, 0, 1)", (ids[1],))
        raw.execute("INSERT INTO pairs (created, left_id, right_id, choice) VALUES (0, ?, ?, 'left')", (ids[1], ids[2]))
    assert Store(path).save_story("m", REQ, "第三个故事。", "done", model_text="<|hero|>的故事。") == 4  # no column yet
    lib = Library(path)
    assert version(path) == 8
    assert [lib.get(i).text for i in ids] == [f"第{i}个故事。" for i in range(3)]
    assert lib.get(ids[0]).favourite and lib.get(ids[1]).rating == 1 and lib.pairs()[0].choice == "left"
    assert lib.get(4).model_text is None
    new = Store(path).save_story("m", REQ, "新故事。", "done", model_text="<|hero|>的新故事。")
    assert lib.get(new).model_text == "<|hero|>的新故事。"
    assert "model_text" not in lib.get(new).model_dump()  # kept for training, never shown or sent


def test_migration_numbers_are_never_shared():
    from storyteller.library.store import _extend

    with pytest.raises(RuntimeError, match="already used"):
        _extend(JobStore.MIGRATIONS, {6: lambda db: None})


def test_pages_newest_first_with_titles(db):
    for i in range(45):
        save(db, f"第{i}个故事开始了。后来很好。")
    lib = Library(db)
    first = lib.page()
    assert (first.total, first.pages, len(first.entries)) == (45, 3, 20)
    assert first.entries[0].title == "第44个故事开始了。" and first.entries[0].text is None
    last = lib.page(page=3)
    assert [e.id for e in last.entries] == list(range(5, 0, -1))
    assert lib.page(page=999).page == 3 and lib.page(page="x").page == 1 and lib.page(page=-4).page == 1


@pytest.mark.parametrize("typed", ["%", "_", "\\", "%_%", "' OR 1=1 --", "\"; DROP TABLE stories; --", "[唐]", "*",
                                   'NEAR(a b) OR "x"*', "^-+:()"])
def test_search_takes_wildcards_and_sql_as_plain_characters(db, typed):
    """Words are found through the search index, typed symbols literally; neither is ever syntax."""
    save(db, "普通的故事 near or x。", dynasty="宋")
    save(db, f"奇怪的字{typed}在这里。")
    lib = Library(db)
    found = lib.page(typed)
    assert [e.title for e in found.entries] == [f"奇怪的字{typed}在这里。"]
    assert lib.count() == 2  # nothing was dropped


def test_search_finds_words_in_the_story_and_the_request(db):
    save(db, "李白来到了公园。")
    Library(db).page("李白")  # indexed so far; what is saved later is indexed at the next search
    save(db, "一个故事。", dynasty="宋", hero="岳飞")
    save(db, "A story about Ultraman.", lang="en", dynasty="Tang")
    lib = Library(db)
    assert [e.title for e in lib.page("公园").entries] == ["李白来到了公园。"]
    assert [e.title for e in lib.page("岳飞").entries] == ["一个故事。"]
    assert [e.title for e in lib.page("ultraman").entries] == ["A story about Ultraman."]  # any case
    assert [e.title for e in lib.page("about ultra").entries] == ["A story about Ultraman."]  # a word begun
    assert lib.page("公 园").total == 1 and lib.page("园公").total == 0  # hanzi in their order
    lib.delete(1)
    assert lib.page("公园").total == 0 and lib.page("李白").total == 0
    assert lib.page("x" * 5000).query == "x" * 100 and lib.page("\x00\x1b[31m").total == 0
    assert lib.page("   ").total == 2  # blank: every story


@pytest.mark.parametrize("sent", ["0", "-1", "abc", "", None, "1.5", "99999999999999999999999999", 2**63, 2**70,
                                  "١", "1; DROP TABLE stories", True])
def test_any_number_that_names_no_story_is_no_such_story(db, sent):
    save(db, "只有一个故事。")
    lib = Library(db)
    with pytest.raises(NoSuchStory) as err:
        lib.get(sent)
    assert "no story" in str(err.value) and "没有" in err.value.zh
    assert lib.count() == 1


def test_another_family_s_stories_are_no_such_story(db):
    mine = save(db, "我家的故事。", owner="a" * 32)
    theirs = save(db, "别人家的故事。", owner="b" * 32)
    me, them, local = Library(db, owner="a" * 32), Library(db, owner="b" * 32), Library(db)
    assert [e.id for e in me.page().entries] == [mine] and [e.id for e in them.page().entries] == [theirs]
    assert local.count() == 2  # the local app sees everything
    for act in (me.get, me.delete, lambda i: me.rate(i, "up"), lambda i: me.favourite(i),
                lambda i: me.keep_audio(i, __file__), lambda i: me.new_pair(mine, i)):
        with pytest.raises(NoSuchStory):
            act(theirs)
    assert them.get(theirs).rating is None and not them.get(theirs).favourite
    pair = them.new_pair(theirs, save(db, "又一个。", owner="b" * 32))
    with pytest.raises(InputError):
        me.pick(pair.id, "left")
    assert me.pairs() == [] and me.counts().pairs["undecided"] == 0 and them.counts().pairs["undecided"] == 1
    assert me.clear() == 1 and them.count() == 2


def test_favourites_ratings_and_reasons(db):
    a, b = save(db, "好故事。"), save(db, "吓人的故事。")
    lib = Library(db)
    assert lib.favourite(a).favourite and [e.id for e in lib.page(favourites=True).entries] == [a]
    assert not lib.favourite(a, on=False).favourite
    assert lib.rate(a, "up", ["loved"]).rating == 1
    e = lib.rate(b, "👎", ["boring", "scary"])
    assert (e.rating, e.reasons) == (-1, ["scary", "boring"])  # in the list's order
    assert lib.rate(b, "up").rating == 1 and lib.get(b).reasons == []  # a new rating replaces the old
    assert lib.unrate(b).rating is None
    with pytest.raises(InputError, match="up"):
        lib.rate(a, "sideways")
    with pytest.raises(InputError, match="Unknown reason"):
        lib.rate(a, "up", ["<script>"])
    assert lib.get(a).rating == 1
    c = lib.counts()
    assert (c.stories, c.up, c.down) == (2, 1, 0)


def test_pairs_and_picks(db):
    a, b = save(db, "左边的故事。"), save(db, "右边的故事。")
    lib = Library(db)
    pair = lib.new_pair(a, b)
    assert pair.choice is None and lib.counts().pairs["undecided"] == 1
    assert lib.pick(pair.id, "right").choice == "right"
    assert lib.pick(str(pair.id), "tie").choice == "tie"  # a later pick replaces it
    with pytest.raises(InputError):
        lib.pick(pair.id, "middle")
    with pytest.raises(InputError):
        lib.pick(10**30, "left")
    with pytest.raises(InputError):
        lib.new_pair(a, a)
    lib.delete(b)  # deleting a story deletes its pairs and its rating
    assert lib.pairs() == [] and lib.counts().pairs["tie"] == 0


def test_delete_and_clear_take_the_audio_with_them(db, tmp_path):
    a, b = save(db, "一。"), save(db, "二。")
    lib = Library(db)
    wav = tmp_path / "made.wav"
    with wave.open(str(wav), "wb") as w:
        w.setparams((1, 2, 16000, 0, "NONE", "not compressed"))
        w.writeframes(b"\x00\x01" * 1600)
    kept = lib.keep_audio(a, wav)
    assert kept.parent == db.parent / "audio" and lib.audio_path(a) == kept and lib.get(a).has_audio
    assert kept.read_bytes() == wav.read_bytes() and wav.exists()  # a copy: the made file is the caller's
    lib.delete(a)
    assert not kept.exists() and lib.count() == 1
    lib.keep_audio(b, wav)
    assert lib.clear() == 1 and not list((db.parent / "audio").glob("*.wav")) and lib.count() == 0


def test_a_kept_file_that_went_missing_is_made_again_not_served(db, tmp_path):
    a = save(db, "一。")
    lib = Library(db)
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF")
    lib.keep_audio(a, wav).unlink()
    assert lib.audio_path(a) is None


def test_the_printable_page_puts_pinyin_over_every_hanzi_and_escapes_the_rest(db, tmp_path):
    a = save(db, "一个英雄不怕怪兽。<script>alert(1)</script>\n第二段：长大了。")
    lib = Library(db)
    page = printable_html(lib.get(a))
    assert "<ruby>英<rt>yīng</rt></ruby><ruby>雄<rt>xióng</rt></ruby>" in page
    assert "<ruby>不<rt>bú</rt></ruby><ruby>怕<rt>pà</rt></ruby>" in page  # tone sandhi, as it is said
    assert "<ruby>长<rt>zhǎng</rt></ruby><ruby>大<rt>dà</rt></ruby>" in page  # the reading its word needs
    assert "<script>" not in page and "&lt;script&gt;" in page and page.count("<p>") == 2
    assert ruby("Ultraman 100%") == "Ultraman 100%"
    en = save(db, "Li Bai met <b>Ultraman</b>.", lang="en")
    assert "<ruby>" not in printable_html(lib.get(en)) and "&lt;b&gt;" in printable_html(lib.get(en))
    files = write_files(lib, a, tmp_path / "out")
    assert [f.name for f in files] == [f"story-{a}.txt", f"story-{a}.html"]
    assert files[0].read_text(encoding="utf-8").startswith("一个英雄不怕怪兽。")

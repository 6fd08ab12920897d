"""The page's words: one file per language with the same keys and placeholders, every key used by
the UI's code, and the rules that pick a language (Accept-Language, two-language core errors)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from storyteller.errors import DataError, InputError, TTSUnavailable
from storyteller.ui import i18n

UI = Path(i18n.__file__).parent
KEY_PREFIX = re.compile(r"[a-z_]+\.[a-z_.]*")  # f"data.issue.{code}", f"data.col_{k}": keys made at run time


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_is_in_both_languages_with_the_same_placeholders():
    zh, en = i18n.strings("zh"), i18n.strings("en")
    assert sorted(set(zh) - set(en)) == [], "keys missing from en.toml"
    assert sorted(set(en) - set(zh)) == [], "keys missing from zh.toml"
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        assert placeholders(zh[key]) == placeholders(en[key]), key


def used_literals() -> tuple[set[str], set[str], set[str]]:
    """(string constants, f-string prefixes, sections read whole with i18n.table) in the UI's code."""
    constants, prefixes, sections = set(), set(), set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                prefixes.add(str(node.values[0].value))
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "table"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                sections.add(node.args[0].value)
    return constants, prefixes, sections


def test_every_key_is_used_by_the_ui():
    constants, prefixes, sections = used_literals()
    unused = []
    for key in i18n.strings("zh"):
        section, _, name = key.rpartition(".")
        if key in constants or any(KEY_PREFIX.fullmatch(p) and key.startswith(p) for p in prefixes):
            continue
        if section in sections and name in constants:
            continue
        unused.append(key)
    assert unused == [], f"words no code reads: {unused}"


def test_a_missing_key_fails_loudly():
    with pytest.raises(KeyError):
        i18n.t("story.no_such_words", "en")


@pytest.mark.parametrize("header,lang", [
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("fr-FR, en;q=0.5, zh;q=0.7", "zh"),
    ("de-DE", "zh"), ("", "zh"), (None, "zh"), ("en;q=abc, zh", "zh"), ("EN-gb", "en"),
])
def test_language_from_accept_language(header, lang):
    assert i18n.from_accept_language(header) == lang


def test_a_two_language_core_message_shows_one_language():
    e = InputError("Length must be a number, like 300. 长度请填一个数字，比如300。")
    assert i18n.error_text(e, "zh") == "长度请填一个数字，比如300。"
    assert i18n.error_text(e, "en") == "Length must be a number, like 300."


def test_a_core_error_with_chinese_words_uses_them_on_a_chinese_page():
    e = DataError("s.csv, line 2: not valid JSON.", "Fix that line.", zh="s.csv 第 2 行不是正确的 JSON，请改好这一行。")
    assert i18n.error_text(e, "zh") == "s.csv 第 2 行不是正确的 JSON，请改好这一行。"
    assert i18n.error_text(e, "en") == "s.csv, line 2: not valid JSON. Fix that line."


def test_no_command_line_flag_reaches_the_page():
    e = DataError("s.csv gives 5 training examples; OpenAI needs at least 10.",
                  "Generate more stories or lower --val.")
    for lang in ("zh", "en"):
        assert "--" not in i18n.error_text(e, lang)
    assert "the share kept for checking" in i18n.error_text(e, "en")
    assert i18n.error_text(e, "zh").startswith(i18n.t("err.lead", "zh"))  # English-only detail, said so in Chinese


def test_the_speech_error_is_in_the_page_language():
    shown = i18n.error_text(TTSUnavailable("没有可以朗读的声音。No speech engine is installed."), "zh")
    assert shown == "没有可以朗读的声音。" and not re.search(r"[A-Za-z]{3}", shown)


def test_a_worded_dropdown_still_takes_its_choices_after_an_update_to_it():
    """Gradio rebuilds a session's copy of a component from its constructor arguments on any update
    (a skip, a new value, visible=...); the words' choices must be in them, or the next event that
    reads the dropdown is refused ("sft is not in the list of choices: []") on a page in the default
    language. A real app on loopback, one session through gradio_client."""
    import gradio as gr
    from gradio_client import Client

    words = i18n.Words()
    with gr.Blocks() as demo:
        box = words.add(gr.Dropdown(value="sft"), label="ft.objective", choices=[("ft.objective_sft", "sft"),
                                                                                  ("ft.objective_dpo", "dpo")])
        said = gr.Textbox()
        poke, read = gr.Button(), gr.Button()
        poke.click(lambda: gr.skip(), None, box, api_name="poke")
        read.click(lambda v: v, box, said, api_name="read")
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        client.predict(api_name="/poke")
        assert client.predict("dpo", api_name="/read") == "dpo"
    finally:
        demo.close()

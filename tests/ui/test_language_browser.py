"""One language at a time, in a real browser (Chromium via Playwright) against the running app, at
1280×800 and on a 390×844 phone: the page opens in the browser's language, every visible word of
every tab is in it, `<html lang>` follows, the switch relabels every tab and is remembered after a
reload. Screenshots of each tab land in the test's tmp folder.

The rule for "in the chosen language" (visible text and placeholders of our page; Gradio's footer
and the aria-labels Gradio writes itself, in English whatever the page, are not ours: they are
listed in docs/accessibility.md):
- Chinese page: no Latin word except names a family meets as they are: the switch's "English",
  file formats (CSV, JSONL, JSON; trl's, OpenAI's DPO and KTO columns), OpenAI and its model names, LoRA,
  BOM, the Hugging Face Space
  words of the public page, the `{dynasty}`-style slots of the writing prompt, column names of a
  CSV file, and model ids / file names (a word with a digit, "-" or "_" in it).
- English page: no Chinese character except the switch's "中文" and the story itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storyteller.ui.app import TABS as APP_TABS
from storyteller.ui.i18n import t
from tests.ui.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LOCALES = {"zh": "zh-CN", "en": "en-US"}
TABS = {lang: [t(label, lang) for label, _, _ in APP_TABS] for lang in LOCALES}  # every tab, as the page names it
NAMES = re.compile(
    r"\bEnglish\b|(?i:\bjsonl?\b|\bcsv\b)|\bOpenAI\b|\bgpt-[\w.-]+|\bbabbage\b|\bdavinci\b|\bchat\b|\blegacy\b|\bLoRA\b"
    r"|\bBOM\b|\bDPO\b|\bKTO\b|\btrl\b|\bchosen\b|\brejected\b"
    r"|\bprompt\b|\bcompletion\b|\bSpace\b|\bDuplicate\b|\bSettings\b|\bSecrets\b|\{\w+\}"
    r"|\b(dynasty|super_power|story_type|story)\b|\S*[\d_-]\S*")
CJK = re.compile(r"[\u3400-\u9fff]")

# Every visible text node and placeholder of the page (not Gradio's footer, not the story).
VISIBLE_TEXT = """() => {
  const out = [];
  // the stories themselves are content: the story, the library's rows (their headers are checked) and an
  // opened story's title line
  const skip = el => el.closest('footer, #story-text textarea, .toast-wrap, #library-text, #library-heading h3, '
                                + '#library-table .virtual-body, #library-table tbody, .story-text');
  const walker = document.createTreeWalker(document.querySelector('gradio-app'), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement, text = n.textContent.trim();
    if (!text || !el || skip(el) || !el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    if (['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('gradio-app [placeholder]')) {
    if (!skip(el) && el.checkVisibility() && el.getAttribute('placeholder').trim()) out.push(el.getAttribute('placeholder').trim());
  }
  return out;
}"""


def foreign_words(texts: list[str], lang: str) -> list[str]:
    """The texts that break the rule above for a page in `lang`."""
    if lang == "zh":
        return [t for t in texts if re.search(r"[A-Za-z]{2,}", NAMES.sub(" ", t))]
    return [t for t in texts if CJK.search(t) and t != "中文"]


def test_the_rule_sees_a_foreign_word():
    assert foreign_words(["讲故事", "Tell", "故事小精灵", "CSV 文件", "storyteller-tiny", "English"], "zh") == ["Tell"]
    assert foreign_words(["Tell", "中文", "讲故事 / Tell"], "en") == ["讲故事 / Tell"]


def open_tab(page, name: str) -> None:
    """Press the tab as a finger would: every tab is in the tab bar, on a phone too (they wrap onto a
    second row there rather than hide in a "⋯" menu)."""
    tab = page.get_by_role("tab", name=name, exact=True)
    assert tab.is_visible(), f"the tab {name!r} is not in sight in the tab bar"
    tab.click()
    page.wait_for_timeout(400)


def each_tab(page, lang: str, shots: Path, tag: str) -> dict[str, list[str]]:
    """{tab: texts that break the rule}, with a screenshot of each tab."""
    found = {}
    for name in TABS[lang]:
        open_tab(page, name)
        page.screenshot(path=str(shots / f"{tag}-{name}.png"), full_page=True)
        found[name] = foreign_words(page.evaluate(VISIBLE_TEXT), lang)
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_tab_speaks_the_browsers_language(browser, app, lang, viewport, tmp_path):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=LOCALES[lang])
    page = context.new_page()
    try:
        page.goto(app.url)
        page.wait_for_selector("#tell")
        page.wait_for_function(f"() => document.documentElement.lang === '{LOCALES[lang][:2] if lang == 'en' else 'zh-CN'}'",
                               timeout=10_000)
        expected = {"zh": "讲故事", "en": "Tell"}[lang]
        page.wait_for_function(f"() => document.querySelector('#tell').innerText.trim() === '{expected}'", timeout=10_000)
        # set by the page's script once the language is chosen (on load): wait for it, then it holds
        page.wait_for_function("() => document.querySelector('#story-text')?.getAttribute('aria-live') === 'polite'",
                               timeout=10_000)
        assert page.get_by_role("radio", name={"zh": "中文", "en": "English"}[lang]).is_checked()
        found = each_tab(page, lang, tmp_path, f"{lang}-{viewport}")
        assert found == {name: [] for name in TABS[lang]}, f"words not in {lang}: {found} (screenshots in {tmp_path})"
    finally:
        context.close()


def test_the_switch_relabels_every_tab_and_is_remembered(browser, app, tmp_path):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(app.url)
        page.wait_for_selector("#tell")
        assert page.locator("#tell").inner_text().strip() == "讲故事"
        page.get_by_role("radio", name="English").check()
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=10_000)
        page.wait_for_function("() => document.querySelector('#tell').innerText.trim() === 'Tell'", timeout=10_000)
        page.wait_for_function("() => document.querySelector('#dynasty input').value === 'Tang'", timeout=10_000)
        assert page.title() == "Hero Time Travellers · Storyteller"
        found = each_tab(page, "en", tmp_path, "switched-en")
        assert found == {name: [] for name in TABS["en"]}, f"words left in Chinese: {found} (screenshots in {tmp_path})"

        page.reload()  # the choice is kept in this browser, over its Accept-Language
        page.wait_for_selector("#tell")
        page.wait_for_function("() => document.querySelector('#tell').innerText.trim() === 'Tell'", timeout=10_000)
        assert page.get_by_role("radio", name="English").is_checked()

        page.get_by_role("radio", name="中文").check()
        page.wait_for_function("() => document.documentElement.lang === 'zh-CN'", timeout=10_000)
        page.wait_for_function("() => document.querySelector('#tell').innerText.trim() === '讲故事'", timeout=10_000)
        found = each_tab(page, "zh", tmp_path, "switched-zh")
        assert found == {name: [] for name in TABS["zh"]}, f"words left in English: {found} (screenshots in {tmp_path})"
    finally:
        context.close()

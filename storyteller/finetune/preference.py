"""Preference data for DPO and KTO fine-tunes: read, check, and render as the model will be prompted.

Three file formats are taken (one JSON object per line, what `storyteller stories export` writes):
- trl pairs:   {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]} (strings work too);
- OpenAI DPO:  {"input": {"messages": [...]}, "preferred_output": [assistant], "non_preferred_output": [...]};
- KTO singles: {"prompt": [messages], "completion": [assistant], "label": true|false}.
DPO needs pairs; KTO takes singles, or pairs (each pair gives one 👍 and one 👎 story).

Every line passes the dataset check (valid JSON, the fields there, no empty or garbled story, the two
sides of a pair differ) and the child-safety check, which refuses the file unless the parent allows it;
errors name the line, in English and Chinese. The input file is never modified.

Rendering mirrors the SFT path (finetune/data.py): a storyteller-format model's prompt is the story
header of the request (`story_format.prompt_text`) and a completion is the story in slot form + END:
the story as the model wrote it when the line carries it ("model_text", which the exports write from
the story book), else the shown story put back into slots (which holds the story world's lines too);
the request is the line's own "request" object when it has one, else it is read back from the
user message `prompts.build_messages` wrote (the exports' prompt). Other models get their chat
template (or the plain messages) and the story + eos. Both become plain strings, so trl's
non-conversational path tokenizes exactly what the local engine will give the model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from storyteller.catalog import AGE_BANDS
from storyteller.data.io import read_text
from storyteller.data.unsafe import OVERRIDE_HINT, summary
from storyteller.errors import DataError, InputError
from storyteller.prompts import StoryRequest, system_prompt
from storyteller.safety import check_text
from storyteller.story_cast import has_cast, pick_cast
from storyteller.story_format import END, power_tokens, prompt_text, story_in_slots

Objective = Literal["sft", "dpo", "kto"]
OBJECTIVES: tuple[str, ...] = ("sft", "dpo", "kto")
MAX_STORY_CHARS = 20_000  # a bedtime story is a few thousand characters at most
_FIELDS = re.compile(r"\{.*\}", re.S)
_LENGTH = re.compile(r"(?:Length|长度)\D{0,12}(\d{2,4})")


class Example(BaseModel):
    """One checked line: the conversation so far and its story (or two), with where it came from."""

    line: int
    prompt: list[dict[str, str]]
    request: dict | None = None
    chosen: str | None = None  # pairs
    rejected: str | None = None
    completion: str | None = None  # singles
    label: bool | None = None
    said: dict[str, str] | None = None  # the stories in the model's own words ("model_text"), by key

    @property
    def lang(self) -> str:
        text = " ".join(m["content"] for m in self.prompt) + (self.chosen or self.completion or "")
        return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def _err(name: str, line: int, en: str, zh: str, hint: str = "") -> DataError:
    return DataError(f"{name}, line {line}: {en}", hint or "Fix or delete that line (the file is left as it is).",
                     zh=f"{name} 第 {line} 行：{zh} 请改正或删掉这一行（文件本身不会被改动）。")


def _messages(value: Any) -> list[dict[str, str]] | None:
    """A prompt: a list of {role, content} messages, or one string (a user message)."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value.strip() else None
    if not isinstance(value, list) or not value:
        return None
    out = []
    for m in value:
        if not (isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str)):
            return None
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _reply(value: Any) -> str | None:
    """A story: one assistant message (in a list or alone), or a string."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and value.get("role") == "assistant":
        value = value.get("content")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _parse(rec: Any, name: str, n: int) -> Example:
    if not isinstance(rec, dict):
        raise _err(name, n, "expected a JSON object {...}.", "这一行应该是一个 JSON 对象 {...}。")
    req = rec.get("request") if isinstance(rec.get("request"), dict) else None
    if "input" in rec or "preferred_output" in rec:  # OpenAI's DPO shape
        inp = rec.get("input")
        prompt = _messages(inp.get("messages") if isinstance(inp, dict) else None)
        keys = ("preferred_output", "non_preferred_output")
    elif "completion" in rec or "label" in rec:
        prompt, keys = _messages(rec.get("prompt")), ("completion",)
    elif "chosen" in rec or "rejected" in rec:
        prompt, keys = _messages(rec.get("prompt")), ("chosen", "rejected")
    else:
        raise _err(name, n, f"not a preference example (keys: {', '.join(sorted(map(str, rec)))[:80] or 'none'}).",
                   "这不是偏好数据（需要 prompt/chosen/rejected、input/preferred_output/non_preferred_output "
                   "或 prompt/completion/label）。",
                   "Use prompt/chosen/rejected (trl), input/preferred_output/non_preferred_output (OpenAI DPO) or "
                   "prompt/completion/label (KTO): `storyteller stories export` writes them.")
    if prompt is None:
        raise _err(name, n, "the prompt (the story request) is missing or is not a list of messages.",
                   "缺少故事请求（prompt），或者它不是消息列表。")
    texts = {}
    for k in keys:
        texts[k] = _reply(rec.get(k))
        if texts[k] is None:
            raise _err(name, n, f'"{k}" is missing or empty: it must be one assistant message with the story.',
                       f"“{k}”缺失或为空：它应该是一条含有故事的 assistant 消息。")
        if "\ufffd" in texts[k]:
            raise _err(name, n, f'"{k}" has garbled characters (\ufffd).', f"“{k}”里有乱码（\ufffd）。")
        if len(texts[k]) > MAX_STORY_CHARS:
            raise _err(name, n, f'"{k}" is longer than {MAX_STORY_CHARS} characters.',
                       f"“{k}”超过了 {MAX_STORY_CHARS} 个字符。")
    if len(keys) == 1:
        label = rec.get("label")
        if not isinstance(label, bool):
            raise _err(name, n, '"label" must be true (👍) or false (👎).', "“label”必须是 true（👍）或 false（👎）。")
        return Example(line=n, prompt=prompt, request=req, completion=texts["completion"], label=label,
                       said=_said(rec.get("model_text"), ("completion",)))
    good, bad = texts[keys[0]], texts[keys[1]]
    if good == bad:
        raise _err(name, n, "the preferred and the other story are the same, so there is nothing to learn.",
                   "两个故事完全一样，没有可以学习的偏好。")
    return Example(line=n, prompt=prompt, request=req, chosen=good, rejected=bad,
                   said=_said(rec.get("model_text"), ("chosen", "rejected")))


def _said(value: Any, keys: tuple[str, ...]) -> dict[str, str] | None:
    """A line's "model_text" (the exports': the stories in the model's own words) for every key, or
    None: anything else there (missing, not text, too long) is ignored and the shown stories are learnt."""
    if len(keys) == 1:
        value = {keys[0]: value}
    if not isinstance(value, dict):
        return None
    out = {k: value.get(k) for k in keys}
    ok = all(isinstance(v, str) and v.strip() and len(v) <= MAX_STORY_CHARS and "\ufffd" not in v for v in out.values())
    return out if ok else None


def file_kind(path: str | Path) -> Literal["pairs", "ratings"] | None:
    """What a file's first line holds: preference "pairs" (DPO), 👍/👎 "ratings" (KTO), or None for
    anything else (stories, chat examples, not JSON Lines), so a form can choose how to learn from it.
    Only a look: `read_preferences` still checks every line."""
    try:
        text, _ = read_text(Path(path))
    except DataError:
        return None
    first = next((line for line in text.split("\n") if line.strip()), "")
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        return None
    if not isinstance(rec, dict):
        return None
    if "preferred_output" in rec or ("chosen" in rec and "rejected" in rec):
        return "pairs"
    return "ratings" if "completion" in rec and "label" in rec else None


def read_preferences(path: str | Path, objective: str, allow_unsafe: bool = False) -> list[Example]:
    """Checked examples of a preference file for `objective` (dpo: pairs; kto: singles or pairs)."""
    if objective not in ("dpo", "kto"):
        raise InputError(f"{objective!r} is not a preference objective (dpo or kto).")
    path = Path(path)
    text, _ = read_text(path)
    if text.lstrip()[:1] == "[":
        raise DataError(f"{path.name}, line 1: this is one JSON list, not JSON Lines.",
                        "Write one JSON object per line (JSONL), without the surrounding [ ].",
                        zh=f"{path.name} 第 1 行：这是一个 JSON 列表，不是 JSON Lines。请每行写一个 JSON 对象。")
    out: list[Example] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise _err(path.name, n, f"not valid JSON ({e.msg}, column {e.colno}).",
                       f"不是有效的 JSON（第 {e.colno} 列）。") from None
        out.append(_parse(rec, path.name, n))
    if not out:
        raise DataError(f"{path.name} has no examples.", "Export the family's ratings first "
                        "(`storyteller stories export --format trl --out prefs.jsonl`).",
                        zh=f"{path.name} 里没有数据。请先导出家里的评价（storyteller stories export）。")
    pairs = sum(e.chosen is not None for e in out)
    if objective == "dpo" and pairs != len(out):
        raise DataError(f"{path.name} holds single 👍/👎 ratings; DPO learns from pairs (a preferred and another "
                        "story for one request).", "Train with KTO instead, or export pairs (--format trl).",
                        zh=f"{path.name} 里是单个 👍/👎 评价；DPO 需要成对的故事。请改用 KTO，或导出成对数据（trl）。")
    if objective == "kto" and 0 < pairs < len(out):
        raise DataError(f"{path.name} mixes pairs and single ratings.", "Export one format per file.",
                        zh=f"{path.name} 里混有成对数据和单个评价，请每个文件只用一种格式。")
    if not allow_unsafe:
        require_safe_examples(out, path.name)
    return out


def unsafe_examples(examples: list[Example]) -> dict[str, list[int]]:
    """{category: lines} of the examples whose story or request is not safe for children."""
    found: dict[str, list[int]] = {}
    for ex in examples:
        for text in filter(None, (ex.chosen, ex.rejected, ex.completion, ex.prompt[-1]["content"],
                                  *(ex.said or {}).values())):
            if (v := check_text(text, ex.lang)) is not None:
                found.setdefault(v.category, []).append(ex.line)
                break
    return found


def require_safe_examples(examples: list[Example], name: str) -> None:
    """DataError listing categories and lines (never the text) when a story is not safe for children."""
    if found := unsafe_examples(examples):
        n = sum(len(v) for v in found.values())
        raise DataError(f"{name} has {n} examples that are not safe for children: {summary(found)}.", OVERRIDE_HINT,
                        zh=f"{name} 里有 {n} 条不适合孩子的数据（{summary(found)}）。请删掉它们；如果你读过并仍想用，"
                           "请明确允许（--allow-unsafe，或训练页的勾选框）。")


def request_of(ex: Example) -> StoryRequest | None:
    """The story request behind an example: its own "request", else read back from the messages
    `prompts.build_messages` wrote (the fields' JSON, the language and the system prompt's age band)."""
    try:
        if ex.request:
            return StoryRequest(**{k: v for k, v in ex.request.items() if k in StoryRequest.model_fields})
        user = next((m["content"] for m in reversed(ex.prompt) if m["role"] == "user"), "")
        found = _FIELDS.search(user)
        d = json.loads(found.group(0)) if found else None
        if not (isinstance(d, dict) and all(isinstance(d.get(k), str) for k in ("dynasty", "superpower", "style"))):
            return None
        lang = "en" if "in English" in user[found.end():] else "zh"
        system = next((m["content"] for m in ex.prompt if m["role"] == "system"), "")
        band = next((b for b in AGE_BANDS if system == system_prompt(lang, b)), None)
        length = _LENGTH.search(user[found.end():])
        return StoryRequest(dynasty=d["dynasty"], power=d["superpower"], style=d["style"], lang=lang,
                            hero=d.get("hero"), length=int(length.group(1)) if length else 300,
                            **({"age_band": band} if band else {}))
    except (ValueError, ValidationError, InputError, TypeError):
        return None


def render(examples: list[Example], storyteller: bool, tok, name: str = "the file") -> list[dict]:
    """Rows for trl: {prompt, chosen, rejected} or {prompt, completion, label}, as plain strings."""
    rows = []
    for ex in examples:
        if storyteller:
            req = request_of(ex)
            if req is None:
                raise _err(name, ex.line, "the storyteller model needs a story request (dynasty, power, style), "
                           "and this prompt is not one.", "故事模型需要一个故事请求（朝代、超能力、风格），这一行的提示不是。",
                           "Use a file exported by `storyteller stories export`, or train a chat model on it.")
            keep = bool(power_tokens(tok))
            cast = pick_cast(req, 0, ex.chosen or ex.completion or "") if has_cast(tok) else None
            head = prompt_text(req, cast)

            def body(text: str, said: str | None = None) -> str:
                """The story in the model's own words when the line has them, else the shown story with
                its own cast back in slots (an older pair may have two casts)."""
                if said is not None:
                    return said.strip(" ") + END
                own = pick_cast(req, 0, text) if cast is not None else None
                return story_in_slots(req, text, keep, own) + END
        else:
            if getattr(tok, "chat_template", None):
                head = tok.apply_chat_template(ex.prompt, add_generation_prompt=True, tokenize=False)
            else:
                head = "\n\n".join(m["content"] for m in ex.prompt) + "\n\n"

            def body(text: str, said: str | None = None) -> str:
                return text + (tok.eos_token or "")
        said = (ex.said or {}) if storyteller else {}
        if ex.chosen is not None:
            chosen, rejected = body(ex.chosen, said.get("chosen")), body(ex.rejected, said.get("rejected"))
            told = shared_paragraphs(chosen, rejected) if storyteller else ""
            rows.append({"prompt": head + told, "chosen": chosen[len(told):], "rejected": rejected[len(told):]})
        else:
            rows.append({"prompt": head, "completion": body(ex.completion, said.get("completion")), "label": ex.label})
    return rows


def shared_paragraphs(a: str, b: str) -> str:
    """The whole paragraphs two tellings of one setup begin with (the world's first paragraph, which
    the model was given, not written): part of the prompt, as when the stories were told."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[: a.rfind("\n", 0, n) + 1]


def unpair(rows: list[dict]) -> list[dict]:
    """Pairs -> KTO singles: the preferred story 👍, the other 👎, interleaved so batches mix both."""
    if not rows or "completion" in rows[0]:
        return rows
    return [{"prompt": r["prompt"], "completion": r[k], "label": k == "chosen"} for r in rows
            for k in ("chosen", "rejected")]

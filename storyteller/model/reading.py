"""The blind reading: a pack of shuffled model and team stories, a rubric, and the scores joined.

    storyteller reading pack --model models/storyteller-tiny --out var/reading/2026-11-30
    (a reader scores pack.md into scores.csv, seeing only pack.md and the rubric)
    storyteller reading score var/reading/2026-11-30 --reader "Grandma"

`pack` writes pack.md (numbered stories with their requests, nothing about who wrote them),
rubric.md, an empty scores.csv, and the key in key/key.json, which the reader never sees.
`score` joins the scores with the key, prints model vs team side by side, and records the
reading in the model folder's readings.jsonl, which the model card quotes.

`--beside` puts a second model's stories (an earlier build, a DPO-trained one) on the same requests with
the same seeds into the same pack, so one set of readers judges both against the team (group "beside").
"""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path

from storyteller import corpus
from storyteller.catalog import get_catalog
from storyteller.errors import DataError
from storyteller.paths import ASSETS

RUBRIC = ASSETS / "reading" / "rubric.md"
COLUMNS = ["grammar", "consistency", "plot", "request_fit", "age_fit"]
# Requests the model is asked for: catalog presets and ones the corpus never has.
REQUESTS = {
    "zh": [("唐", "隐形", "轻松"), ("宋", "飞行", "幽默"), ("明", "冰冻", "冒险"), ("汉", "分身术", "温馨"),
           ("清", "时间暂停", "艰难"), ("三国", "控制天气", "努力"), ("元", "治愈之光", "温馨"),
           ("秦", "超级速度", "冒险"), ("晋", "变大变小", "幽默"), ("隋", "听懂动物说话", "轻松"),
           ("南北朝", "力大无穷", "努力"), ("五代", "瞬间移动", "艰难"),
           ("夏", "读心术", "轻松"), ("辽", "喷火", "冒险"), ("唐", "会变色", "幽默")],
    "en": [("Tang", "invisibility", "light-hearted"), ("Song", "flying", "funny"), ("Ming", "freezing", "adventurous"),
           ("Han", "super strength", "heart-warming"), ("Qing", "pausing time", "hard-won"),
           ("Xia", "reading minds", "funny"), ("Liao", "breathing fire", "adventurous")],
}


def requests(lang: str, n: int) -> list[tuple[str, str, str]]:
    base = REQUESTS[lang]
    return [base[i % len(base)] for i in range(n)]


def team_stories(model_dir: Path, lang: str, n: int, seed: int) -> list[corpus.Story]:
    """`n` team stories the model was not trained on (its held-out list)."""
    cfg = json.loads((Path(model_dir) / "training_config.json").read_text(encoding="utf-8"))
    held = set(cfg.get("heldout_ids") or [])
    pool = [s for s in corpus.load() if s.lang == lang and s.id in held]
    if len(pool) < n:
        raise DataError(f"Only {len(pool)} held-out {lang} team stories; asked for {n}.")
    return random.Random(seed).sample(pool, n)


def pack(model_dir: Path, out: Path, n_zh: int = 30, n_en: int = 10, seed: int = 0,
         beside: Path | None = None) -> Path:
    """Write a reading pack; returns the pack folder. `beside`: a second model told the same requests."""
    from storyteller.model.evaluate import generate, load_model
    from storyteller.prompts import StoryRequest

    models = [("model", *load_model(model_dir))] + ([("beside", *load_model(beside))] if beside else [])
    cat, items = get_catalog(), []
    for lang, n in (("zh", n_zh), ("en", n_en)):
        for i, (d, p, s) in enumerate(requests(lang, n)):
            req = StoryRequest(dynasty=d, power=p, style=s, lang=lang)
            for source, model, tok in models:
                items.append({"source": source, "lang": lang, "request": f"{d} · {p} · {s}",
                              "story": generate(model, tok, req, max_new_tokens=900, seed=seed * 1000 + i)["story"]})
        for st in team_stories(model_dir, lang, n, seed):
            req = " · ".join(cat.translate(k, v, lang) for k, v in
                             (("dynasty", st.dynasty), ("power", st.power), ("style", st.style)))
            items.append({"source": "team", "lang": lang, "request": req, "story": st.story, "id": st.id})
    random.Random(seed).shuffle(items)
    out.mkdir(parents=True, exist_ok=True)
    (out / "key").mkdir(exist_ok=True)
    lines = ["# Stories to read\n"]
    for number, it in enumerate(items, 1):
        it["number"] = number
        lines.append(f"## {number}\nRequest: {it['request']}\n\n{it['story'].strip()}\n")
    (out / "pack.md").write_text("\n".join(lines), encoding="utf-8")
    (out / "rubric.md").write_text(RUBRIC.read_text(encoding="utf-8"), encoding="utf-8")
    with (out / "scores.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["number", *COLUMNS, "read_tonight", "note"])
    key = {"model": str(model_dir), "beside": str(beside) if beside else None, "seed": seed, "created": time.strftime("%Y-%m-%d"), "items": items}
    (out / "key" / "key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def _yes(value: str) -> bool:
    return value.strip().lower() in ("yes", "y", "true", "1", "是")


def score(pack_dir: Path, scores: Path | None = None) -> dict:
    """Join the reader's scores with the key: {group: {column: mean, read_tonight: share, n}}."""
    key = json.loads((pack_dir / "key" / "key.json").read_text(encoding="utf-8"))
    by_number = {it["number"]: it for it in key["items"]}
    path = scores or pack_dir / "scores.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    missing = set(by_number) - {int(r["number"]) for r in rows if r.get("number", "").strip().isdigit()}
    if missing:
        raise DataError(f"The scores miss {len(missing)} stories (e.g. {sorted(missing)[:5]}).",
                        "Score every story in pack.md.")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        it = by_number[int(r["number"])]
        groups.setdefault(f"{it['source']} {it['lang']}", []).append(r)
    result = {}
    for g, rs in sorted(groups.items()):
        result[g] = {c: round(sum(float(r[c]) for r in rs) / len(rs), 2) for c in COLUMNS}
        result[g] |= {"read_tonight": round(sum(_yes(r["read_tonight"]) for r in rs) / len(rs), 3), "n": len(rs)}
    return result


def record(model_dir: Path, result: dict, reader: str, pack_dir: Path) -> None:
    """Append the reading to the model's readings.jsonl (the card's blind-reading table)."""
    entry = {"date": time.strftime("%Y-%m-%d"), "model": Path(model_dir).name, "reader": reader,
             "pack": pack_dir.name, "scores": result}
    with (Path(model_dir) / "readings.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def table(result: dict) -> str:
    """Model vs team, side by side, as a Markdown table."""
    head = "| | " + " | ".join(COLUMNS) + " | read tonight |\n|---|" + "---|" * (len(COLUMNS) + 1)
    rows = [f"| {g} ({r['n']}) | " + " | ".join(f"{r[c]:.1f}" for c in COLUMNS) + f" | {r['read_tonight']:.0%} |"
            for g, r in result.items()]
    return "\n".join([head, *rows])

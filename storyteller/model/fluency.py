"""How Chinese a story reads, by an independent word-trigram model of real Chinese.

The language model is fcitx5's pinyin input-method model (Debian's libime-data-language-model,
a KenLM binary trained on a large general corpus; nothing to do with our stories), read with
PyPI's kenlm. Each clause is segmented into the model's words (the most likely path), and every
word is scored by how much more predictable it is from the two words before it than from its
frequency alone (contextual PMI, log10; clause ends count too). Real sentences score high;
strings of plausible characters that are not sentences score low. Rare names cost nothing:
the frequency term cancels them. Mean over the story; higher is better.

Optional: `available()` is False without the package or the file (a Space does not need it).
"""

from __future__ import annotations

import glob
import re
from functools import lru_cache

LM_GLOB = "/usr/lib/*/libime/zh_CN.lm"
CLAUSE = re.compile(r"[\u4e00-\u9fff]+")
MAX_WORD, BEAM, UNKNOWN = 7, 8, -7.0


@lru_cache(maxsize=1)
def _model():
    try:
        import kenlm
    except ImportError:
        return None
    paths = sorted(glob.glob(LM_GLOB))
    return _Scorer(kenlm, kenlm.Model(paths[0])) if paths else None


def available() -> bool:
    return _model() is not None


def why_not() -> str:
    return ("needs `pip install kenlm` and Debian's libime-data-language-model "
            "(`make setup` installs both)")


class _Scorer:
    def __init__(self, kenlm, lm):
        self.kenlm, self.lm = kenlm, lm
        self.end_alone = lm.score("", bos=False, eos=True)

    @lru_cache(maxsize=200_000)
    def known(self, w: str) -> bool:
        return w in self.lm

    @lru_cache(maxsize=200_000)
    def alone(self, w: str) -> float:
        return self.lm.score(w, bos=False, eos=False)

    def segment(self, clause: str) -> list[str]:
        """The most likely split into the model's words (beam over two-word histories)."""
        start = self.kenlm.State()
        self.lm.BeginSentenceWrite(start)
        paths: list[dict] = [dict() for _ in range(len(clause) + 1)]
        paths[0][()] = (0.0, start, [])
        for i in range(len(clause)):
            for score, state, words in sorted(paths[i].values(), key=lambda x: -x[0])[:BEAM]:
                for j in range(i + 1, min(len(clause), i + MAX_WORD) + 1):
                    w = clause[i:j]
                    if j - i > 1 and not self.known(w):
                        continue
                    out = self.kenlm.State()
                    lp = self.lm.BaseScore(state, w, out) if self.known(w) else UNKNOWN
                    if not self.known(w):
                        self.lm.BaseScore(state, "<unk>", out)
                    key, total = tuple((words + [w])[-2:]), score + lp
                    if key not in paths[j] or total > paths[j][key][0]:
                        paths[j][key] = (total, out, words + [w])
        return max(paths[len(clause)].values(), key=lambda x: x[0])[2]

    def gains(self, text: str) -> list[float]:
        out = []
        for clause in CLAUSE.findall(text):
            words = [w if self.known(w) else "<unk>" for w in self.segment(clause)]
            for i, (lp, _, oov) in enumerate(self.lm.full_scores(" ".join(words), bos=True, eos=True)):
                if i == 0:
                    continue  # the clause's first word has no context
                if i < len(words):
                    if not oov:
                        out.append(lp - self.alone(words[i]))
                else:
                    out.append(lp - self.end_alone)
        return out


def zh_fluency(text: str) -> float | None:
    """Mean contextual PMI of the story's words (None when the model is not installed)."""
    scorer = _model()
    if scorer is None:
        return None
    gains = scorer.gains(text)
    return sum(gains) / len(gains) if gains else 0.0


def mean_fluency(texts: list[str]) -> float | None:
    scores = [zh_fluency(t) for t in texts]
    return None if not scores or scores[0] is None else sum(scores) / len(scores)

"""Token counts for datasets and costs, with tiktoken when its BPE file is on this machine.

tiktoken downloads its BPE files on first use, and this app runs offline, so we never let it
try: we use an encoding only when its file is already in tiktoken's cache (TIKTOKEN_CACHE_DIR,
DATA_GYM_CACHE_DIR or the system temp folder's data-gym-cache), or when the `bpe_openai` package
(which ships the same files) is installed. Otherwise counts are an estimate, calibrated on the
reference corpus: 0.80 tokens per CJK character for o200k_base (stories alone measure 0.75, range
0.68-0.86; cl100k_base 1.26) and 1 token per 4 other characters (English prose measures ~4.4). Reports say
which one they used (`exact`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
from functools import lru_cache
from importlib import resources
from importlib.util import find_spec

ENCODING = "o200k_base"  # gpt-4o / gpt-4.1 family; cl100k_base for gpt-3.5 and older
_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0002fa1f]")

# Chat overhead per message and per reply, as OpenAI's cookbook counts it.
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3


def _cache_file(name: str) -> str:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache"
    )
    return os.path.join(cache_dir, hashlib.sha1(_URL.format(name=name).encode()).hexdigest())


def _seed_cache_from_bpe_openai(name: str) -> None:
    """Put the BPE file the bpe_openai package ships into tiktoken's cache, as a download would.

    tiktoken checks the file's sha256 when it loads it, so a wrong file is refused, not used.
    """
    data = gzip.decompress(resources.files("bpe_openai.data").joinpath(f"{name}.tiktoken.gz").read_bytes())
    path = _cache_file(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@lru_cache(maxsize=4)
def get_encoding(name: str = ENCODING):
    """The tiktoken Encoding if it can be loaded without the network, else None."""
    try:
        import tiktoken

        if not os.path.exists(_cache_file(name)) and find_spec("bpe_openai") is not None:
            _seed_cache_from_bpe_openai(name)
        if os.path.exists(_cache_file(name)):
            return tiktoken.get_encoding(name)
    except Exception:  # a broken cache or package: fall back to the estimate, never crash a check
        return None
    return None


def is_exact(name: str = ENCODING) -> bool:
    return get_encoding(name) is not None


_CJK_RATE = {"o200k_base": 0.80, "cl100k_base": 1.26}  # measured on the reference corpus


def estimate(text: str, name: str = ENCODING) -> int:
    cjk = len(_CJK.findall(text))
    return round(cjk * _CJK_RATE.get(name, 1.0) + (len(text) - cjk) / 4)


def count(text: str, name: str = ENCODING) -> int:
    enc = get_encoding(name)
    return len(enc.encode(text, disallowed_special=())) if enc is not None else estimate(text, name)


def count_messages(messages: list[dict], name: str = ENCODING) -> int:
    """Tokens of a chat example, counted the cookbook's way (3 per message + 3 for the reply)."""
    total = REPLY_PRIMING
    for m in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in m.items():
            if isinstance(value, str):
                total += count(value, name)
            if key == "name":
                total += 1
    return total

"""Convert a storyteller GPT-2 to GGUF with llama.cpp's own converter, for benchmarks/api_stream.py.

    python benchmarks/gguf_convert.py LLAMA_CPP_DIR MODEL_DIR OUT.gguf

LLAMA_CPP_DIR is a llama.cpp source tree (`convert_hf_to_gguf.py`, `conversion/`, `gguf-py/`; the
`vendor/llama.cpp` folder of llama-cpp-python's source package has them). Two things differ from the
GPT-2s the converter knows, and are set here rather than in a copy of its code:
- the config says `n_positions` only (transformers 5 writes no `n_ctx`): a copy of the folder gets both;
- the tokenizer is SentencePiece-like (▁ for spaces, byte fallback), not GPT-2's byte-level BPE, whose
  pre-tokenizer the converter looks up by hash and refuses: the vocabulary is written as llama.cpp's
  "llama" (SPM) tokenizer, with no space or begin token added before the text, and the format's special tokens
  (<|zh|>, <|story|> ...) marked as control tokens, so that a prompt tokenizes to the same ids
  as with the model's own tokenizer (checked by the caller).
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
import tempfile
from pathlib import Path


def convert(llama_cpp: Path, model: Path, out: Path) -> None:
    llama_cpp = llama_cpp.resolve()
    sys.path[:0] = [str(llama_cpp), str(llama_cpp / "gguf-py")]
    import gguf
    from conversion import gpt2

    def set_vocab(self) -> None:
        vocab = gguf.LlamaHfVocab(self.dir_model)
        added = json.loads((self.dir_model / "tokenizer.json").read_text(encoding="utf-8"))["added_tokens"]
        control = {a["id"] for a in added if a.get("special")}
        tokens, scores, types = [], [], []
        for i, (text, score, toktype) in enumerate(vocab.all_tokens()):
            tokens.append(text)
            scores.append(score)
            types.append(gguf.TokenType.CONTROL if i in control else toktype)
        w = self.gguf_writer
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_add_space_prefix(False)
        w.add_add_bos_token(False)  # the model reads its prompt as written: no begin token before it
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        gguf.SpecialVocab(self.dir_model, n_vocab=len(tokens)).add_to_gguf(w)

    gpt2.GPT2Model.set_vocab = set_vocab
    with tempfile.TemporaryDirectory(prefix="gguf-src-") as tmp:
        src = Path(tmp) / model.name
        shutil.copytree(model, src)
        config = json.loads((src / "config.json").read_text(encoding="utf-8"))
        config.setdefault("n_ctx", config["n_positions"])
        (src / "config.json").write_text(json.dumps(config), encoding="utf-8")
        script = llama_cpp / "convert_hf_to_gguf.py"
        sys.argv = [str(script), str(src), "--outfile", str(out), "--outtype", "f32"]
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__.splitlines()[2].strip())
    convert(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

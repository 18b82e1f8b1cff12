"""Byte-level BPE tokenizer trained on the synthetic corpus with the `tokenizers` library, plus the chat template.

Saved as `tokenizer.json` (the tokenizers file) and `tokenizer_config.json` (ChatML `chat_template`, eos/pad), the
layout transformers' `AutoTokenizer` and `transformers serve` read. `render_chat` is the same template in Python.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llm.brain.errors import BrainError
from llm.files import checkpoint_file

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, IM_START, IM_END)
# Kept in decoded text (not "special"), but always single tokens so the tags are cheap and unambiguous.
TAG_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<intent>", "</intent>")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOKENIZER_FILE, TOKENIZER_CONFIG_FILE = "tokenizer.json", "tokenizer_config.json"


def render_chat(messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """ChatML text of `messages` (role/content dicts), identical to CHAT_TEMPLATE rendered by jinja."""
    out = "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
    return out + (f"{IM_START}assistant\n" if add_generation_prompt else "")


@dataclass
class ChatTokenizer:
    """A trained `tokenizers.Tokenizer` with the chat template and the ids the model and generator need."""

    tok: object  # tokenizers.Tokenizer (typed loosely to keep `import llm.tokenizer` cheap)

    @property
    def vocab_size(self) -> int:
        return int(self.tok.get_vocab_size())

    @property
    def eos_id(self) -> int:
        return int(self.tok.token_to_id(IM_END))

    @property
    def pad_id(self) -> int:
        return int(self.tok.token_to_id(ENDOFTEXT))

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode(list(ids), skip_special_tokens=False))

    def encode_chat(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> list[int]:
        return self.encode(render_chat(messages, add_generation_prompt))

    def save(self, directory: str | Path) -> Path:
        """Write tokenizer.json and tokenizer_config.json into `directory`; returns the tokenizer.json path."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.tok.save(str(d / TOKENIZER_FILE))
        added = {str(self.tok.token_to_id(t)): {"content": t, "special": t in SPECIAL_TOKENS, "lstrip": False,
                                                "rstrip": False, "normalized": False, "single_word": False}
                 for t in SPECIAL_TOKENS + TAG_TOKENS}
        cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": CHAT_TEMPLATE, "eos_token": IM_END,
               "pad_token": ENDOFTEXT, "bos_token": None, "unk_token": None, "model_max_length": 8192,
               "clean_up_tokenization_spaces": False, "added_tokens_decoder": added}
        (d / TOKENIZER_CONFIG_FILE).write_text(json.dumps(cfg, indent=2) + "\n")
        return d / TOKENIZER_FILE

    @staticmethod
    def load(directory: str | Path) -> ChatTokenizer:
        """Load `tokenizer.json` from a checkpoint directory (or the file itself)."""
        from tokenizers import Tokenizer

        p = checkpoint_file(directory, TOKENIZER_FILE, BrainError, "train one with `python -m llm.tokenizer --out DIR`")
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on malformed JSON
            first = str(exc).splitlines()[0][:120]
            raise BrainError(f"{p}: not a valid tokenizer.json ({first}); retrain it") from None
        for t in SPECIAL_TOKENS + TAG_TOKENS:
            if tok.token_to_id(t) is None:
                raise BrainError(f"{p}: token {t!r} missing; retrain the tokenizer with llm.tokenizer.train")
        return ChatTokenizer(tok)


def train(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2) -> ChatTokenizer:
    """Train byte-level BPE (all 256 bytes in the base alphabet, so any text encodes) on `texts`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 256 + len(SPECIAL_TOKENS) + len(TAG_TOKENS):
        raise BrainError(f"vocab_size: {vocab_size} is below the 256 bytes plus {len(SPECIAL_TOKENS + TAG_TOKENS)} "
                         "special tokens; use at least 512")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return ChatTokenizer(tok)


def train_on_corpus(corpus_cfg: object, vocab_size: int = 4096) -> ChatTokenizer:
    """Train on the chat-rendered training split that `corpus_cfg` (a CorpusConfig) generates."""
    from llm.data.corpus import generate_train

    texts = (render_chat(e.messages() + [{"role": "assistant", "content": e.answer}], False)
             for e in generate_train(corpus_cfg))
    return train(texts, vocab_size=vocab_size)


def main(argv: list[str] | None = None) -> int:
    """`python -m llm.tokenizer --out DIR [--config TRAIN.yaml]`: train the tokenizer the training run will use."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m llm.tokenizer", description=main.__doc__)
    ap.add_argument("--out", required=True, help="directory for tokenizer.json + tokenizer_config.json")
    ap.add_argument("--config", default=None, help="train YAML whose corpus and vocab_size to use")
    a = ap.parse_args(argv)
    try:
        from llm.data.config import CorpusConfig
        from llm.yaml_file import read_mapping

        raw = read_mapping(a.config, "train config") if a.config else {}
        corpus = CorpusConfig.from_dict(raw.get("corpus", {}), where=f"{a.config}: corpus")
        tok = train_on_corpus(corpus, int(raw.get("vocab_size", 4096)))
        path = tok.save(a.out)
    except BrainError as exc:
        print(f"llm.tokenizer: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({tok.vocab_size} tokens)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

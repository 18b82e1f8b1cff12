"""`fep-motion llm …`: checkpoint tools and raw text generation for the MiniMax-architecture model core.

Subcommands: `init` (random checkpoint), `info` (validate + size), `generate` (sample from a checkpoint).
Import is cheap; torch loads inside the handlers. Errors are LLMError (one line, exit 2 via the dispatcher).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `llm` command group to the fep-motion CLI."""
    p = subparsers.add_parser("llm", help="MiniMax-architecture model core: checkpoints and generation",
                              description="Checkpoint tools and text generation for the llm model core.")
    sub = p.add_subparsers(dest="llm_command", metavar="SUBCOMMAND", required=True)

    init = sub.add_parser("init", help="write a random-initialized checkpoint (config.json + model.safetensors)")
    src = init.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="micro | small | minimax-text-01")
    src.add_argument("--config", type=Path, help="a config.json to instantiate")
    init.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    init.add_argument("--out", type=Path, required=True, help="output directory")
    init.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                      help="stored width (default float32)")
    init.set_defaults(func=_init)

    info = sub.add_parser("info", help="validate a checkpoint directory and print its size")
    info.add_argument("dir", type=Path, help="checkpoint directory")
    info.set_defaults(func=_info)

    gen = sub.add_parser("generate", help="generate text from a checkpoint")
    gen.add_argument("dir", type=Path, help="checkpoint directory")
    gen.add_argument("prompt", nargs="+", help="prompt text; several prompts run as one batch")
    gen.add_argument("--tokenizer", type=Path,
                     help="a tokenizers JSON file (default: DIR/tokenizer.json if present, else byte-level)")
    gen.add_argument("--max-new-tokens", type=int, default=64)
    gen.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    gen.add_argument("--top-k", type=int, default=0, help="0 = off")
    gen.add_argument("--top-p", type=float, default=0.95)
    gen.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    gen.add_argument("--thinking-budget", type=int, help="max tokens inside <think>…</think>")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--stream", action="store_true", help="print text as it is generated (single prompt)")
    gen.set_defaults(func=_generate)


def _init(args: argparse.Namespace) -> int:
    from llm.checkpoint import init_command

    print(init_command(args.preset, args.config, args.seed, args.out, args.dtype))
    return 0


def _info(args: argparse.Namespace) -> int:
    from llm.checkpoint import info_command

    print(info_command(args.dir))
    return 0


def _load_tokenizer(path: Path | None):
    from llm.errors import LLMError
    from llm.generate import ByteTokenizer

    if path is None:
        return ByteTokenizer()
    if not path.is_file():
        raise LLMError(f"{path}: tokenizer file not found; pass a tokenizers JSON file or omit --tokenizer")
    try:
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises bare Exception subclasses for bad files
        raise LLMError(f"{path}: not a valid tokenizers JSON file ({str(exc).splitlines()[0]})") from None


def _generate(args: argparse.Namespace) -> int:
    from llm.checkpoint import load
    from llm.errors import LLMError
    from llm.generate import GenerationConfig, generate, stream

    tok_path = args.tokenizer
    if tok_path is None and (args.dir / "tokenizer.json").is_file():
        tok_path = args.dir / "tokenizer.json"
    tok = _load_tokenizer(tok_path)
    model = load(args.dir)
    vocab = getattr(tok, "vocab_size", None) or tok.get_vocab_size()
    if vocab > model.config.vocab_size:
        raise LLMError(f"tokenizer has {vocab} tokens but {args.dir}/config.json vocab_size is "
                       f"{model.config.vocab_size}; use the checkpoint's own tokenizer")
    cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                           top_p=args.top_p, stop=tuple(args.stop), thinking_budget=args.thinking_budget,
                           seed=args.seed)
    if args.stream:
        if len(args.prompt) != 1:
            raise LLMError("--stream takes exactly one prompt")
        for piece in stream(model, tok, args.prompt[0], cfg):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    for prompt, res in zip(args.prompt, generate(model, tok, args.prompt, cfg)):
        print(f"{prompt!r} -> {res.text!r} [{res.finish_reason}, {len(res.token_ids)} tokens]")
    return 0

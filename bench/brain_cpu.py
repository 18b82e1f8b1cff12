"""Embedded brain on CPU: time to first token and decode tokens/s of our generation path (llm.generate with the
shipped checkpoint and tokenizer, what `fep-motion brain ask` runs) beside transformers' MiniMaxForCausalLM
`generate()` on the same weights and the same chat prompt, measured in the same run, alternating, medians.

The prompt is a chat turn with one earlier exchange, its utterance cut to `--prompt-tokens` (128) tokens. Also the
end-to-end `Brain.ask` latency (prompt build, generation to <|im_end|>, intent parsing).
Targets on the 2-core machine: decode >= 150 tokens/s and first token <= 150 ms for the 128-token prompt.

    .venv/bin/python bench/brain_cpu.py [--checkpoint DIR] [--new 64] [--repeats 5] [--threads 2] [--prompt-tokens 128]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
sys.path.insert(0, str(_ROOT))

import torch

UTTERANCE = "Hi! I just came back from a trip to Kyoto."
HISTORY = (("Perception: none\nUser: not bad, a bit tired after a long week at the office to be honest",
            "<intent>encourage</intent> Oh no, I hope you get some rest this weekend."),)
LONG_UTTERANCE = ("well the thing is that my sister and I finally booked the trip we had been talking about for "
                  "years, two weeks in the mountains up north with a tent, a stove and far too many books, and I "
                  "keep wondering whether we packed the right boots and whether the weather will hold up for us")


def prompt_of(tokenizer, n_tokens: int) -> str:
    """The longest chat prompt (one earlier exchange + a cut LONG_UTTERANCE) with at most n_tokens tokens."""
    from llm.brain.prompt import build_messages
    from llm.tokenizer import render_chat

    words = LONG_UTTERANCE.split()
    best = render_chat(build_messages(" ".join(words[:1]), history=HISTORY), add_generation_prompt=True)
    for k in range(1, len(words) + 1):
        p = render_chat(build_messages(" ".join(words[:k]), history=HISTORY), add_generation_prompt=True)
        if len(tokenizer.encode(p)) > n_tokens:
            break
        best = p
    return best


def ours_once(backend, prompt: str, new: int) -> tuple[float, float, int]:
    """(first-token seconds, decode tokens/s, tokens) with llm.generate.stream, forced to `new` tokens."""
    from llm.generate import stream

    cfg = forced_config(new)
    t0 = time.perf_counter()
    first = None
    n = 0
    for _piece in stream(backend.model, backend.tokenizer, prompt, cfg):
        if first is None:
            first = time.perf_counter() - t0
        n += 1
    total = time.perf_counter() - t0
    return first or total, (new - 1) / max(total - (first or total), 1e-9), n


def forced_config(new: int):  # -> GenerationConfig
    """Greedy, no stop strings, and an end-of-text id no token has (-1): exactly `new` tokens every time."""
    from llm.generate import GenerationConfig

    return GenerationConfig(max_new_tokens=new, temperature=0.0, eos_token_id=-1, stop=())


def hf_once(model, ids: torch.Tensor, new: int) -> tuple[float, float]:
    """(first-token seconds, decode tokens/s) of transformers' generate(): a 1-token call, then a `new`-token call."""
    kw = {"do_sample": False, "pad_token_id": 0, "eos_token_id": None}
    with torch.inference_mode():
        t0 = time.perf_counter()
        model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kw)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new, min_new_tokens=new, **kw)
        full = time.perf_counter() - t0
    assert out.shape[1] - ids.shape[1] == new
    return first, (new - 1) / max(full - first, 1e-9)


def main(argv: list[str] | None = None) -> int:
    from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--new", type=int, default=64, help="generated tokens per decode measurement")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--prompt-tokens", type=int, default=128, help="prompt length for first token and decode")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging
    except ImportError:
        print("bench/brain_cpu.py: error: transformers is not installed; `.venv/bin/pip install 'transformers>=5'`",
              file=sys.stderr)
        return 2
    hf_logging.set_verbosity_error()
    from llm.brain.brain import Brain
    from llm.brain.config import BrainConfig
    from llm.errors import LLMError

    backend = EmbeddedBackend(checkpoint=Path(a.checkpoint))
    try:
        backend.load()
    except LLMError as exc:
        print(f"bench/brain_cpu.py: error: {exc}", file=sys.stderr)
        return 2
    hf = AutoModelForCausalLM.from_pretrained(a.checkpoint, dtype=torch.float32).eval()
    prompt = prompt_of(backend.tokenizer, a.prompt_tokens)
    ids = torch.tensor([backend.tokenizer.encode(prompt)])
    # parity on this prompt: same greedy tokens from both implementations
    with torch.inference_mode():
        ours_logits = backend.model(ids).logits[0, -1]
        hf_logits = hf(ids).logits[0, -1].float()
    assert int(ours_logits.argmax()) == int(hf_logits.argmax()), "implementations disagree on the first token"
    from llm.generate import generate

    got = len(generate(backend.model, backend.tokenizer, prompt, forced_config(a.new))[0].token_ids)
    assert got == a.new, f"our generation made {got} tokens, not {a.new}"
    ours_first, ours_rate, hf_first, hf_rate = [], [], [], []
    ours_once(backend, prompt, 4)
    hf_once(hf, ids, 4)  # warm-up
    for _ in range(a.repeats):
        f, r, _n = ours_once(backend, prompt, a.new)
        ours_first.append(f)
        ours_rate.append(r)
        f, r = hf_once(hf, ids, a.new)
        hf_first.append(f)
        hf_rate.append(r)
    brain = Brain(BrainConfig(checkpoint=a.checkpoint, timeout_s=60), backend=backend)
    asks = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        r = brain.ask(UTTERANCE)
        asks.append(time.perf_counter() - t0)
    brain.close()
    med = statistics.median
    print(f"checkpoint {a.checkpoint}; prompt {ids.shape[1]} tokens; {a.new} new tokens; torch threads "
          f"{a.threads}; median of {a.repeats}")
    print(f"{'implementation':<38}{'first token ms':>16}{'decode tok/s':>14}")
    print(f"{'ours: llm.generate (brain path)':<38}{med(ours_first) * 1e3:>16.1f}{med(ours_rate):>14.1f}")
    print(f"{'transformers generate(), same weights':<38}{med(hf_first) * 1e3:>16.1f}{med(hf_rate):>14.1f}")
    ratio = med(ours_rate) / med(hf_rate)
    print(f"ratio decode ours/transformers: {ratio:.2f}x; first-token ratio transformers/ours "
          f"{med(hf_first) / med(ours_first):.2f}x")
    print(f"targets: decode {med(ours_rate):.0f} tok/s (>= 150: {'met' if med(ours_rate) >= 150 else 'MISSED'}); "
          f"first token {med(ours_first) * 1e3:.0f} ms for {ids.shape[1]} prompt tokens "
          f"(<= 150 ms: {'met' if med(ours_first) <= 0.150 else 'MISSED'})")
    print(f"Brain.ask end to end (reply {r.reply!r}, intent {r.intent}): median {med(asks) * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embedded-brain CPU benchmark: our MiniMax model vs transformers' MiniMaxForCausalLM on the same weights, same run.

Measures prefill tokens/s, first-token latency (prefill + first greedy token) and greedy decode tokens/s for:
  - transformers, its cache driven by hand (the fastest way to run its model: no generate() bookkeeping),
  - transformers' own `generate()` (what a transformers user gets),
  - ours (`llm.model` with `ModelCache`).
Runs alternate between implementations and medians are reported, because the CPU is shared and noisy.
Target (DESIGN §7): decode >= 3x transformers, first token <= 300 ms.

    .venv/bin/python bench/llm_cpu.py [--preset small] [--prompt 128] [--new 64] [--threads 1] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

import torch


@dataclass
class Runs:
    """Timings of one implementation: prefill (to the first token) per repeat, every decode step."""

    name: str
    first: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


class OursDriver:
    """Greedy decoding with our model and ModelCache."""

    def __init__(self, model) -> None:
        self.model = model

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        self.cache = self.model.new_cache()
        return self.model(ids, cache=self.cache, last_only=True).logits[:, -1].argmax(-1, keepdim=True)

    def step(self, tok: torch.Tensor) -> torch.Tensor:
        return self.model(tok, cache=self.cache, last_only=True).logits[:, -1].argmax(-1, keepdim=True)


class HFDriver:
    """The same loop on transformers' model, its MiniMaxCache driven by hand (position_ids passed explicitly, since
    MiniMaxCache.get_seq_length() returns 0 after prefill)."""

    def __init__(self, model) -> None:
        self.model = model

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        from transformers.models.minimax.modeling_minimax import MiniMaxCache

        self.cache, self.pos = MiniMaxCache(), ids.shape[1]
        out = self.model(ids, cache=self.cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1].argmax(-1, keepdim=True)

    def step(self, tok: torch.Tensor) -> torch.Tensor:
        pos = torch.tensor([[self.pos]])
        self.pos += 1
        out = self.model(tok, cache=self.cache, use_cache=True, position_ids=pos)
        return out.logits[:, -1].argmax(-1, keepdim=True)


def _timed(fn, *args, **kwargs):
    """(fn's result, wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def lockstep(drivers: list[tuple[Runs, object]], ids: torch.Tensor, new: int, repeats: int) -> None:
    """Prefill each implementation, then alternate their decode steps one by one, so that both see the same load
    on a shared machine; greedy tokens are recorded to check they agree."""
    with torch.inference_mode():
        for _ in range(repeats):
            toks = []
            for runs, drv in drivers:
                tok, dt = _timed(drv.prefill, ids)
                runs.first.append(dt)
                runs.tokens = [int(tok)]
                toks.append(tok)
            for _ in range(new - 1):
                for j, (runs, drv) in enumerate(drivers):
                    toks[j], dt = _timed(drv.step, toks[j])
                    runs.steps.append(dt)
                    runs.tokens.append(int(toks[j]))


def hf_generate(model, ids: torch.Tensor, new: int, repeats: int) -> Runs:
    """transformers' own generate(): first token = a 1-token call; per-step time = (full call - first) / (new - 1)."""
    runs = Runs("transformers generate()")
    with torch.inference_mode():
        for _ in range(repeats):
            _, first = _timed(model.generate, ids, max_new_tokens=1, do_sample=False)
            out, full = _timed(model.generate, ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
            runs.first.append(first)
            runs.steps.append(max(full - first, 1e-9) / (new - 1))
            runs.tokens = out[0, ids.shape[1]:].tolist()
    return runs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", help="model preset (default small)")
    ap.add_argument("--prompt", type=int, default=128, help="prompt tokens (default 128)")
    ap.add_argument("--new", type=int, default=64, help="generated tokens (default 64)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for both (default 1)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating timed repeats, medians reported (default 5)")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                    help="weight dtype of both models (default float32); ours keeps state and LM head in fp32")
    ap.add_argument("--ours-dtype", choices=("float32", "bfloat16", "float16"),
                    help="override the weight dtype of ours only (e.g. float16 against transformers in float32)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from llm.checkpoint import init_checkpoint, load
    from llm.config import preset

    try:
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging
    except ImportError:
        print("bench/llm_cpu.py: error: transformers is not installed; `.venv/bin/pip install 'transformers>=5'`",
              file=sys.stderr)
        return 2
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    cfg = preset(args.preset)
    dtype = getattr(torch, args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        init_checkpoint(cfg, args.seed, tmp)
        ours = load(tmp, dtype=getattr(torch, args.ours_dtype or args.dtype))
        hf = AutoModelForCausalLM.from_pretrained(tmp, dtype=dtype).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, args.prompt), generator=torch.Generator().manual_seed(args.seed))
    hf_runs, our_runs = Runs("transformers, cache by hand"), Runs("llm.model (ours)")
    drivers = [(hf_runs, HFDriver(hf)), (our_runs, OursDriver(ours))]
    lockstep(drivers, ids, 4, 1)  # warm-up
    hf_runs.first, hf_runs.steps, our_runs.first, our_runs.steps = [], [], [], []
    lockstep(drivers, ids, args.new, args.repeats)
    gen_runs = hf_generate(hf, ids, args.new, max(1, args.repeats // 2))

    pc = cfg.params()
    print(f"preset {args.preset}: {pc.total / 1e6:.1f} M params ({pc.active / 1e6:.1f} M active/token), "
          f"{args.dtype} weights (ours {args.ours_dtype or args.dtype}), batch 1, prompt {args.prompt}, new {args.new}, threads {args.threads}; "
          f"medians over {args.repeats} runs, decode steps of the two loops interleaved")
    print(f"{'implementation':<30}{'prefill tok/s':>14}{'first token ms':>16}{'decode tok/s':>14}"
          f"{'best-step tok/s':>17}{'same tokens':>13}")
    stats = {}
    for runs in (hf_runs, gen_runs, our_runs):
        first = statistics.median(runs.first)
        dec, best = 1.0 / statistics.median(runs.steps), 1.0 / min(runs.steps)
        stats[runs.name] = (args.prompt / first, 1000 * first, dec, best)
        same = sum(a == b for a, b in zip(runs.tokens, our_runs.tokens)) / len(our_runs.tokens)
        print(f"{runs.name:<30}{args.prompt / first:>14.0f}{1000 * first:>16.1f}{dec:>14.1f}{best:>17.1f}"
              f"{same:>12.0%}")
    mine = stats[our_runs.name]
    for peer in (hf_runs.name, gen_runs.name):
        p = stats[peer]
        print(f"{'ratio ours / ' + peer:<44}prefill {mine[0] / p[0]:.2f}x  first token {p[1] / mine[1]:.2f}x  "
              f"decode {mine[2] / p[2]:.2f}x (best step {mine[3] / p[3]:.2f}x)")
    ratio = mine[2] / stats[hf_runs.name][2]
    print(f"targets: decode >= 3x transformers (cache by hand, the faster path): {ratio:.2f}x "
          f"({'met' if ratio >= 3 else 'NOT met'}); first token <= 300 ms: {mine[1]:.0f} ms "
          f"({'met' if mine[1] <= 300 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One prefill case for Nsight Compute: `ncu ... python3 bench/lightning_ncu.py bf16 16384 64 [KEY=VALUE ...]`.

Runs lightning_prefill three times on fresh silu'd [1,T,H,128] inputs (MiniMax slopes) so that ncu can skip the
compiling launch and profile a warm one; KEY=VALUE pairs (ints, true/false or strings) go to lightning_prefill.
"""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F


def _value(text: str):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: lightning_ncu.py bf16|fp32 T H [KEY=VALUE ...]", file=sys.stderr)
        return 2
    from llm.kernels.lightning_prefill import lightning_prefill
    from llm.lightning import decay_slopes

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[argv[0]]
    T, H = int(argv[1]), int(argv[2])
    kw = {a.split("=", 1)[0]: _value(a.split("=", 1)[1]) for a in argv[3:]}
    torch.manual_seed(0)
    q, k, v = (F.silu(torch.randn(1, T, H, 128, device="cuda")).to(dtype) for _ in range(3))
    sl = decay_slopes(H, 0, 8).cuda()
    for _ in range(3):
        lightning_prefill(q, k, v, sl, layout="bthd", **kw)
    torch.cuda.synchronize()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Triton kernels for lightning attention (prefill, decode, training) and their dispatch into llm.lightning.

Importing this package is cheap and never needs Triton: `register()` plugs the CUDA path into
`llm.lightning.register_kernel("cuda", ...)` only where Triton and a CUDA device exist; elsewhere the PyTorch
reference keeps running. It is called once on import, so `import llm.kernels` is all the model needs.
"""
from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor

from llm.kernels.errors import KernelInputError

__all__ = [
    "KernelInputError",
    "available",
    "cuda_lightning_attention",
    "cuda_lightning_decode",
    "register",
    "supported_head_dim",
]

# Prefill precision the model gets (llm.kernels.lightning_prefill: "fast" | "split-p" | "exact"). H100, run 3, bf16
# T=128K: fast 4.9 ms (rel. err 2.05e-3 on N(0,1) inputs, 4.6e-4 on silu'd ones), split-p 5.4 ms (1.7e-3 / 4.0e-4),
# exact 8.3 ms (3e-6). split-p is the cheapest mode within the 2e-3 bound on any input (bench/NOTES-kernels.md).
MODEL_PRECISION = "split-p"


def available() -> bool:
    """True when the Triton kernels can run here: Triton is importable and a CUDA device is visible."""
    if importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.is_available()


def supported_head_dim(d: int) -> bool:
    """Head sizes the kernels take: powers of two 16..128 (tensor-core tiles; 32, 64, 128 are tested on an H100)."""
    return 16 <= d <= 128 and d & (d - 1) == 0


def cuda_lightning_attention(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The kernel registered for "cuda": same contract as llm.lightning.lightning_block ([B,H,T,D]; o, state fp32).

    One token with a state → the decode kernel; gradients needed → the autograd Function (backward by three
    reversed/forward scans); otherwise the prefill kernel. Head sizes the kernels do not tile (not a power of two
    >= 16) run the PyTorch reference instead, so the model never fails on them.
    """
    if not (supported_head_dim(q.shape[-1]) and supported_head_dim(v.shape[-1])):
        from llm.lightning import lightning_block

        return lightning_block(q, k, v, slope, initial_state)
    needs_grad = torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (q, k, v, initial_state))
    if needs_grad:
        from llm.kernels.lightning_train import lightning_attention_train

        return lightning_attention_train(q, k, v, slope, initial_state)
    if q.shape[2] == 1 and initial_state is not None:
        from llm.kernels.lightning_decode import lightning_decode

        o, st = lightning_decode(q, k, v, slope, initial_state)
        return o[:, :, None], st
    from llm.kernels.lightning_prefill import lightning_prefill

    o, st = lightning_prefill(q, k, v, slope, initial_state, out_dtype=torch.float32, precision=MODEL_PRECISION)
    assert st is not None
    return o, st


def cuda_lightning_decode(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """The decode route registered for "cuda" (the model's one-token step): same contract as
    llm.lightning.lightning_decode ([B,H,D]; o fp32, new state fp32); untiled head sizes run the reference."""
    if not (supported_head_dim(q.shape[-1]) and supported_head_dim(v.shape[-1])):
        from llm.lightning import lightning_decode as reference_decode

        return reference_decode(q, k, v, slope, state)
    from llm.kernels.lightning_decode import lightning_decode

    return lightning_decode(q, k, v, slope, state)


def register(force: bool = False) -> bool:
    """Route llm.lightning.lightning_attention on CUDA tensors to the kernels; returns whether the route is set.

    FEP_MOTION_NO_KERNELS=1 keeps the PyTorch reference on CUDA too (for A/B checks).
    """
    from llm.lightning import register_kernel

    if os.environ.get("FEP_MOTION_NO_KERNELS") == "1" or not (force or available()):
        register_kernel("cuda", None)
        return False
    register_kernel("cuda", cuda_lightning_attention, decode_fn=cuda_lightning_decode)
    return True


register()

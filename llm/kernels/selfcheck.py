"""Self-check of the GPU kernels on this machine: each kernel against the fp64 PyTorch reference on fresh inputs."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from llm.errors import LLMError


class KernelUnavailableError(LLMError):
    """The Triton kernels cannot run here (no CUDA device or no triton); the PyTorch reference is used instead."""


@dataclass(frozen=True)
class CheckResult:
    """One comparison: relative error ‖got − ref‖ / ‖ref‖ against its tolerance."""

    name: str
    rel_err: float
    tol: float

    @property
    def ok(self) -> bool:
        return self.rel_err <= self.tol  # NaN fails


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300))


def run_selfcheck(seq_len: int = 1000, heads: int = 8, head_dim: int = 128, dtype: torch.dtype = torch.bfloat16,
                  seed: int = 0, device: str = "cuda") -> list[CheckResult]:
    """Prefill (as the model calls it), decode and the backward pass vs the reference; tolerance 2e-3.

    device="cpu" runs the same kernels through Triton's interpreter (TRITON_INTERPRET=1; slow, small sizes only).
    """
    from llm import kernels

    if device == "cuda" and not kernels.available():
        raise KernelUnavailableError("no CUDA device with triton here: the kernels need an NVIDIA GPU and "
                                     "`pip install triton`; the model uses the PyTorch reference meanwhile")
    if seq_len < 1 or heads < 1 or not kernels.supported_head_dim(head_dim):
        raise KernelUnavailableError(f"--seq-len must be >= 1, --heads >= 1 and --head-dim a power of two in "
                                     f"16..128; got {seq_len}, {heads}, {head_dim}")
    from llm.kernels.lightning_decode import lightning_decode_step
    from llm.kernels.lightning_train import lightning_attention_train, triton_scan
    from llm.lightning import decay_slopes, lightning_block, lightning_decode

    dev = device
    g = torch.Generator(device=dev).manual_seed(seed)
    slope = decay_slopes(heads, 0, 8).to(dev)
    shape = (2, heads, seq_len, head_dim)
    q, k, v = (F.silu(torch.randn(shape, generator=g, device=dev)).to(dtype) for _ in range(3))
    s0 = torch.randn(2, heads, head_dim, head_dim, generator=g, device=dev)
    out: list[CheckResult] = []
    o, st = kernels.cuda_lightning_attention(q, k, v, slope, s0)
    ro, rs = lightning_block(q.double(), k.double(), v.double(), slope, s0.double())
    out += [CheckResult("prefill o", _rel(o, ro), 2e-3), CheckResult("prefill state", _rel(st, rs), 2e-3)]
    pool = st.clone()
    slots = torch.arange(2, device=dev, dtype=torch.int32)
    od = lightning_decode_step(q[:, :, -1], k[:, :, -1], v[:, :, -1], slope, pool, slots)
    rd, rsd = lightning_decode(q[:, :, -1].double(), k[:, :, -1].double(), v[:, :, -1].double(), slope, st.double())
    out += [CheckResult("decode o", _rel(od, rd), 2e-3), CheckResult("decode state", _rel(pool, rsd), 2e-3)]
    t = min(seq_len, 300)
    leaves64 = [x[:, :, :t].double().requires_grad_() for x in (q, k, v)] + [s0.double().requires_grad_()]
    ro, rs = lightning_block(*leaves64[:3], slope, leaves64[3])
    do, dst = torch.randn_like(ro), torch.randn_like(rs)
    ref = torch.autograd.grad((ro * do).sum() + (rs * dst).sum(), leaves64)
    leaves = [x[:, :, :t].float().clone().requires_grad_() for x in (q, k, v)] + [s0.clone().requires_grad_()]
    o, st = lightning_attention_train(*leaves[:3], slope, leaves[3], scan=triton_scan)
    got = torch.autograd.grad((o * do.float()).sum() + (st * dst.float()).sum(), leaves)
    out += [CheckResult(f"backward {n}", _rel(a, b), 2e-3) for n, a, b in zip(("dq", "dk", "dv", "dS0"), got, ref)]
    return out

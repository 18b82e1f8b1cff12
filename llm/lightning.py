"""Lightning attention (MiniMax-01's linear attention with per-head exponential decay), plain-PyTorch reference.

Ground truth is the recurrence (MiniMax-01 report, arXiv:2501.08313, §2.2.1; Lightning Attention-2, arXiv:2401.04658,
eq. 2):  S_t = λ S_{t-1} + k_tᵀ v_t,  o_t = q_t S_t,  λ = exp(-slope).
The block form splits the sequence into blocks and must equal it (Lightning Attention-2, eqs. 8-12):
  intra-block  O_intra = [(Q Kᵀ) ⊙ M] V,            M_ij = λ^(i-j) for i >= j else 0
  inter-block  O_inter = Λ Q S_prev,                Λ = diag(λ^(j+1)), j = 0..b-1 (position inside the block)
  state        S_next  = λ^b S_prev + (λ^(b-1-j) K)ᵀ V
All accumulation is fp32 (MiniMax-M1 report, arXiv:2506.13585, §3.2: fp32 recurrent state); outputs are fp32.

`lightning_attention` is the one entry point the model calls. GPU kernels plug in through `register_kernel`
(the KERNEL HOOK below): llm.kernels fills the registry when CUDA + Triton are available; CPU always uses this file.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

__all__ = [
    "LightningKernel",
    "decay_slopes",
    "lightning_attention",
    "lightning_block",
    "lightning_decode",
    "lightning_recurrent",
    "lightning_step",
    "register_kernel",
    "registered_kernel",
]


def decay_slopes(num_heads: int, layer_idx: int, num_layers: int) -> Tensor:
    """Per-head decay slopes [H] fp32 for one lightning layer: λ_h = exp(-slope_h).

    slope_h = 2^(-8(h+1)/H) · (1 - l/(L-1) + 1e-5), l the global layer index (docs/architecture.md §6; MiniMax-01
    report §2.2.1, the ALiBi-style geometric slopes scaled down with depth). A one-layer model (L = 1) uses factor
    1 + 1e-5.
    """
    if num_heads < 1:
        raise ValueError(f"decay_slopes: num_heads must be >= 1, got {num_heads}")
    if num_layers < 1 or not 0 <= layer_idx < num_layers:
        raise ValueError(f"decay_slopes: need 0 <= layer_idx < num_layers, got {layer_idx} of {num_layers}")
    h = torch.arange(num_heads, dtype=torch.float64)
    base = torch.pow(torch.tensor(2.0, dtype=torch.float64), -8.0 * (h + 1) / num_heads)
    depth = 0.0 if num_layers == 1 else layer_idx / (num_layers - 1)
    return (base * (1.0 - depth + 1e-5)).to(torch.float32)


def _fp32(fn: Callable[..., tuple[Tensor, Tensor]]) -> Callable[..., tuple[Tensor, Tensor]]:
    """Run fn with autocast off on q's device, so fp32 accumulation survives a caller's bf16 autocast region."""

    @functools.wraps(fn)
    def wrapper(q: Tensor, *args: object, **kwargs: object) -> tuple[Tensor, Tensor]:
        if torch.is_autocast_enabled(q.device.type):
            with torch.autocast(device_type=q.device.type, enabled=False):
                return fn(q, *args, **kwargs)
        return fn(q, *args, **kwargs)

    return wrapper


def _check(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor | None, step: bool) -> None:
    """Validate shapes: q,k [B,H,(T,)Dk], v [B,H,(T,)Dv], slope [H], state [B,H,Dk,Dv]."""
    nd = 3 if step else 4
    if q.dim() != nd or k.dim() != nd or v.dim() != nd:
        raise ValueError(f"lightning: q, k, v must be {nd}-D, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape != k.shape or q.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"lightning: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not agree")
    if slope.shape != (q.shape[1],):
        raise ValueError(f"lightning: slope must be [H={q.shape[1]}], got {tuple(slope.shape)}")
    if state is not None:
        want = (q.shape[0], q.shape[1], q.shape[-1], v.shape[-1])
        if tuple(state.shape) != want:
            raise ValueError(f"lightning: state must be {want}, got {tuple(state.shape)}")


def _init_state(q: Tensor, v: Tensor, initial_state: Tensor | None) -> Tensor:
    if initial_state is None:
        return torch.zeros(q.shape[0], q.shape[1], q.shape[-1], v.shape[-1], dtype=torch.float32, device=q.device)
    return initial_state.to(torch.float32)


@_fp32
def lightning_recurrent(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Exact token-by-token recurrence (the ground truth): S_t = λS_{t-1} + k_tᵀv_t, o_t = q_t S_t.

    q, k [B,H,T,Dk], v [B,H,T,Dv] any float dtype; slope [H]; state [B,H,Dk,Dv] fp32.
    Returns (o fp32 [B,H,T,Dv], state).
    """
    _check(q, k, v, slope, initial_state, step=False)
    state = _init_state(q, v, initial_state)
    lam = torch.exp(-slope.to(device=q.device, dtype=torch.float32))[None, :, None, None]
    qf, kf, vf = q.float(), k.float(), v.float()
    out = torch.empty(q.shape[0], q.shape[1], q.shape[2], v.shape[-1], dtype=torch.float32, device=q.device)
    for t in range(q.shape[2]):
        state = lam * state + kf[:, :, t, :, None] * vf[:, :, t, None, :]
        out[:, :, t] = (qf[:, :, t, None, :] @ state).squeeze(-2)
    return out, state


@_fp32
def lightning_block(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    slope: Tensor,
    initial_state: Tensor | None = None,
    block_size: int = 256,
) -> tuple[Tensor, Tensor]:
    """Block form of lightning attention (Lightning Attention-2 eqs. 8-12); equals `lightning_recurrent`.

    Full blocks are computed together (one batched intra-block product); the inter-block state is then scanned block
    by block. A tail shorter than block_size is handled with its own exponents, so T need not divide block_size.
    """
    _check(q, k, v, slope, initial_state, step=False)
    if block_size < 1:
        raise ValueError(f"lightning_block: block_size must be >= 1, got {block_size}")
    state = _init_state(q, v, initial_state)
    B, H, T, Dk = q.shape
    Dv = v.shape[-1]
    s = slope.to(device=q.device, dtype=torch.float32)
    qf, kf, vf = q.float(), k.float(), v.float()
    out = torch.empty(B, H, T, Dv, dtype=torch.float32, device=q.device)

    def decays(b: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        j = torch.arange(b, device=q.device, dtype=torch.float32)
        q_decay = torch.exp(-s[:, None] * (j + 1))[:, :, None]  # Λ = λ^(j+1)            [H,b,1]
        k_decay = torch.exp(-s[:, None] * (b - 1 - j))[:, :, None]  # λ^(b-1-j)          [H,b,1]
        diff = j[:, None] - j[None, :]
        m = torch.where(diff >= 0, torch.exp(-s[:, None, None] * diff.clamp(min=0)), torch.zeros((), device=q.device))
        block_decay = torch.exp(-s * b)[:, None, None]  # λ^b                               [H,1,1]
        return q_decay, k_decay, m, block_decay

    n_full = T // block_size
    if n_full:
        b = block_size
        span = n_full * b
        qb = qf[:, :, :span].reshape(B, H, n_full, b, Dk)
        kb = kf[:, :, :span].reshape(B, H, n_full, b, Dk)
        vb = vf[:, :, :span].reshape(B, H, n_full, b, Dv)
        q_decay, k_decay, m, block_decay = decays(b)
        # intra-block: [(Q Kᵀ) ⊙ M] V for all full blocks at once
        intra = ((qb @ kb.transpose(-1, -2)) * m[None, :, None]) @ vb
        # each block's own contribution to the state: (λ^(b-1-j) K)ᵀ V
        kv = (kb * k_decay[None, :, None]).transpose(-1, -2) @ vb  # [B,H,N,Dk,Dv]
        qd = qb * q_decay[None, :, None]
        ob = out[:, :, :span].view(B, H, n_full, b, Dv)
        for n in range(n_full):
            ob[:, :, n] = intra[:, :, n] + qd[:, :, n] @ state
            state = block_decay * state + kv[:, :, n]
    tail = T - n_full * block_size
    if tail:
        t0 = n_full * block_size
        qt, kt, vt = qf[:, :, t0:], kf[:, :, t0:], vf[:, :, t0:]
        q_decay, k_decay, m, block_decay = decays(tail)
        out[:, :, t0:] = ((qt @ kt.transpose(-1, -2)) * m) @ vt + (qt * q_decay) @ state
        state = block_decay * state + (kt * k_decay).transpose(-1, -2) @ vt
    return out, state


@_fp32
def lightning_decode(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """One decoding step: S' = λS + kᵀv, o = q S'. q, k [B,H,Dk], v [B,H,Dv], state fp32 [B,H,Dk,Dv]; o fp32."""
    _check(q, k, v, slope, state, step=True)
    lam = torch.exp(-slope.to(device=q.device, dtype=torch.float32))[None, :, None, None]
    new_state = torch.addcmul(lam * state.float(), k.float()[..., :, None], v.float()[..., None, :])
    o = (q.float()[..., None, :] @ new_state).squeeze(-2)
    return o, new_state


# ---------------------------------------------------------------------------------------------------------------------
# KERNEL HOOK: the dispatch registry. llm.kernels calls `register_kernel("cuda", fn)` when CUDA + Triton are available;
# `lightning_attention` routes tensors on that device type to fn. Nothing else in llm/ needs to change.
# ---------------------------------------------------------------------------------------------------------------------


class LightningKernel(Protocol):
    """Signature a registered kernel implements: same contract as `lightning_block` (o fp32, state fp32)."""

    def __call__(
        self, q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None = None
    ) -> tuple[Tensor, Tensor]: ...


_KERNELS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {}
_DECODE_KERNELS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {}

# Below this length the token recurrence is cheaper on CPU than building block decay masks.
RECURRENT_MAX_T = 8
DEFAULT_BLOCK_SIZE = 256


def register_kernel(device_type: str, fn: Callable[..., tuple[Tensor, Tensor]] | None,
                    decode_fn: Callable[..., tuple[Tensor, Tensor]] | None = None) -> None:
    """Route `lightning_attention` (prefill) on tensors of `device_type` (e.g. "cuda") to fn, and optionally
    `lightning_step` (one decode token, same contract as `lightning_decode`) to decode_fn; None removes a route."""
    for table, f in ((_KERNELS, fn), (_DECODE_KERNELS, decode_fn)):
        if f is None:
            table.pop(device_type, None)
        else:
            table[device_type] = f


def registered_kernel(device_type: str) -> Callable[..., tuple[Tensor, Tensor]] | None:
    """The kernel registered for a device type, or None (then the PyTorch reference runs)."""
    return _KERNELS.get(device_type)


def lightning_step(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """Decode dispatch: a registered decode kernel for q's device type, else `lightning_decode`."""
    kernel = _DECODE_KERNELS.get(q.device.type)
    if kernel is not None:
        return kernel(q, k, v, slope, state)
    return lightning_decode(q, k, v, slope, state)


def lightning_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    slope: Tensor,
    initial_state: Tensor | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[Tensor, Tensor]:
    """Prefill dispatch: a registered kernel for q's device type, else recurrence (short T) or block form (CPU)."""
    kernel = _KERNELS.get(q.device.type)
    if kernel is not None:
        return kernel(q, k, v, slope, initial_state)
    if q.shape[2] == 1 and initial_state is not None:
        o, state = lightning_decode(q[:, :, 0], k[:, :, 0], v[:, :, 0], slope, initial_state)
        return o[:, :, None], state
    if q.shape[2] <= RECURRENT_MAX_T:
        return lightning_recurrent(q, k, v, slope, initial_state)
    return lightning_block(q, k, v, slope, initial_state, block_size=block_size)

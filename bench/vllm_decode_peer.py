"""The decode peer of bench/lightning_gpu.py: vLLM's lightning decode kernel, rewritten here with its layout and launch.

vLLM (vllm/model_executor/layers/lightning_attn.py, `_linear_attn_decode_kernel`) cannot be installed on the lent GPU,
so this is our own Triton code with the same work split: grid (B, H, D/32), each program loads q, k and v of its row
and one D×32 column tile of the fp32 state, decays it by exp(−slope), adds kᵀv, stores it and writes q·S for its 32
columns (MiniMax-01 report arXiv:2501.08313 §2.2.1); slot −1 skips a row; Triton's default 4 warps.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor


@triton.jit
def _vllm_layout_decode_kernel(
    Q, K, V, KV, SLOPE, SLOTS, O,
    D: tl.constexpr, s_b, s_h, c_b, c_h, c_d0, c_d1,
    BLOCK: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    pid_d = tl.program_id(2)
    slot = tl.load(SLOTS + pid_b).to(tl.int64)
    if slot == -1:
        return
    offs = tl.arange(0, D)
    offs_v = tl.arange(0, BLOCK) + pid_d * BLOCK
    row = pid_b * s_b + pid_h * s_h
    q = tl.load(Q + row + offs)
    k = tl.load(K + row + offs)
    v = tl.load(V + row + offs_v)
    kv_outer = k[:, None] * v[None, :]
    ratio = tl.exp(-tl.load(SLOPE + pid_h))
    kv = KV + slot * c_b + pid_h * c_h + offs[:, None] * c_d0 + offs_v[None, :] * c_d1
    kv_outer = kv_outer + ratio * tl.load(kv)
    out = tl.sum(q[:, None].to(tl.float32) * kv_outer, axis=0)
    tl.store(kv, kv_outer)
    tl.store(O + row + offs_v, out)


def vllm_layout_decode(q: Tensor, k: Tensor, v: Tensor, kv_cache: Tensor, slope: Tensor, slots: Tensor,
                       out: Tensor) -> Tensor:
    """One step in vLLM's layout: q, k, v [B,H,D] with equal strides, fp32 kv_cache [slots,H,D,D] updated in place at
    slots (int [B]), slope fp32 [H]; writes out [B,H,D] (q's strides) and returns it."""
    B, H, D = q.shape
    if k.stride() != q.stride() or v.stride() != q.stride() or out.stride() != q.stride():
        raise ValueError("vllm_layout_decode: q, k, v and out must share strides (vLLM's qkv_b/h strides)")
    block = 32
    _vllm_layout_decode_kernel[(B, H, D // block)](
        q, k, v, kv_cache, slope, slots, out, D, q.stride(0), q.stride(1),
        kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3), BLOCK=block,
    )
    return out


def _check() -> None:
    """Against the fp64 recurrence on the GPU (used by bench/lightning_gpu.py's correctness section)."""
    from llm.lightning import decay_slopes
    from llm.lightning import lightning_decode as ref_decode

    B, H, D = 3, 8, 128
    q, k, v = (torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    pool = torch.randn(B + 1, H, D, D, device="cuda")
    slots = torch.tensor([2, 0, 3], device="cuda", dtype=torch.int32)
    sl = decay_slopes(H, 0, 8).cuda().float()
    before = pool.clone()
    out = torch.empty(B, H, D, device="cuda", dtype=torch.float32)
    vllm_layout_decode(q, k, v, pool, sl, slots, out)
    ro, rs = ref_decode(q.double(), k.double(), v.double(), sl.double(), before[slots.long()].double())
    err = max(float((out.double() - ro).norm() / ro.norm()),
              float((pool[slots.long()].double() - rs).norm() / rs.norm()))
    print(f"vllm-layout peer vs fp64 reference: rel err {err:.2e}")
    assert err < 2e-3


if __name__ == "__main__":
    _check()

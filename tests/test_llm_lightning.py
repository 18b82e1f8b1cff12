"""Lightning attention reference: block form == recurrence, decode == recurrence, slopes per docs/architecture.md §6."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.lightning import (
    decay_slopes,
    lightning_attention,
    lightning_block,
    lightning_decode,
    lightning_recurrent,
    lightning_step,
    register_kernel,
)


def _qkv(seed: int, B: int, H: int, T: int, Dk: int, Dv: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, T, Dk, generator=g).to(dtype)
    k = torch.randn(B, H, T, Dk, generator=g).to(dtype)
    v = torch.randn(B, H, T, Dv, generator=g).to(dtype)
    return q, k, v, g


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31 - 1),
    T=st.integers(1, 70),
    block=st.integers(1, 32),
    H=st.integers(1, 4),
    Dk=st.sampled_from([1, 3, 8]),
    Dv=st.sampled_from([2, 5, 8]),
    slope_scale=st.floats(0.0, 3.0),
    with_state=st.booleans(),
)
def test_block_equals_recurrence(seed, T, block, H, Dk, Dv, slope_scale, with_state):
    q, k, v, g = _qkv(seed, 2, H, T, Dk, Dv)
    slope = torch.rand(H, generator=g) * slope_scale
    s0 = torch.randn(2, H, Dk, Dv, generator=g) if with_state else None
    o_r, s_r = lightning_recurrent(q, k, v, slope, s0)
    o_b, s_b = lightning_block(q, k, v, slope, s0, block_size=block)
    assert o_b.dtype == torch.float32 and s_b.dtype == torch.float32
    scale = 1.0 + o_r.abs().max().item()
    torch.testing.assert_close(o_b, o_r, atol=2e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(s_b, s_r, atol=2e-5 * (1.0 + s_r.abs().max().item()), rtol=1e-4)


def test_recurrence_matches_definition_by_hand():
    """Two tokens, one head, 1-D keys/values: o_1 = q_1(λ k_0 v_0 + k_1 v_1)."""
    q = torch.tensor([2.0, 3.0]).view(1, 1, 2, 1)
    k = torch.tensor([1.0, 4.0]).view(1, 1, 2, 1)
    v = torch.tensor([5.0, 7.0]).view(1, 1, 2, 1)
    slope = torch.tensor([0.5])
    lam = math.exp(-0.5)
    o, s = lightning_recurrent(q, k, v, slope)
    assert o[0, 0, 0, 0].item() == pytest.approx(2.0 * 5.0)
    assert o[0, 0, 1, 0].item() == pytest.approx(3.0 * (lam * 5.0 + 28.0), rel=1e-6)
    assert s.item() == pytest.approx(lam * 5.0 + 28.0, rel=1e-6)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), T=st.integers(2, 40), split=st.integers(1, 39), block=st.integers(1, 16))
def test_prefill_then_decode_equals_one_prefill(seed, T, split, block):
    split = min(split, T - 1)
    q, k, v, g = _qkv(seed, 1, 3, T, 4, 4)
    slope = torch.rand(3, generator=g)
    o_full, s_full = lightning_block(q, k, v, slope, block_size=block)
    o_pre, state = lightning_block(q[:, :, :split], k[:, :, :split], v[:, :, :split], slope, block_size=block)
    outs = [o_pre]
    for t in range(split, T):
        o_t, state = lightning_decode(q[:, :, t], k[:, :, t], v[:, :, t], slope, state)
        outs.append(o_t[:, :, None])
    torch.testing.assert_close(torch.cat(outs, dim=2), o_full, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(state, s_full, atol=1e-4, rtol=1e-4)


def test_low_precision_inputs_accumulate_in_fp32():
    q, k, v, _g = _qkv(3, 1, 2, 50, 8, 8, dtype=torch.bfloat16)
    slope = decay_slopes(2, 0, 4)
    o_b, s_b = lightning_block(q, k, v, slope, block_size=16)
    o_r, _s_r = lightning_recurrent(q.float(), k.float(), v.float(), slope)
    assert o_b.dtype == torch.float32 and s_b.dtype == torch.float32
    torch.testing.assert_close(o_b, o_r, atol=1e-3, rtol=1e-4)


def test_decay_slopes_formula():
    H, L = 8, 8
    for layer in (0, 3, 7):
        s = decay_slopes(H, layer, L)
        assert s.dtype == torch.float32 and s.shape == (H,)
        for h in range(H):
            want = 2 ** (-8 * (h + 1) / H) * (1 - layer / (L - 1) + 1e-5)
            assert s[h].item() == pytest.approx(want, rel=1e-6)
    assert torch.all(decay_slopes(H, 0, L) > decay_slopes(H, 5, L))  # deeper layers decay more slowly
    assert decay_slopes(4, 7, 8).min().item() > 0.0  # last layer keeps the 1e-5 floor
    assert torch.isfinite(decay_slopes(4, 0, 1)).all()
    with pytest.raises(ValueError, match="layer_idx"):
        decay_slopes(4, 8, 8)


def test_shape_errors_are_clear():
    q, k, v, _ = _qkv(0, 1, 2, 5, 4, 4)
    with pytest.raises(ValueError, match="slope"):
        lightning_block(q, k, v, torch.ones(3))
    with pytest.raises(ValueError, match="state"):
        lightning_recurrent(q, k, v, torch.ones(2), torch.zeros(1, 2, 4, 5))


def test_dispatch_routes_registered_kernel_and_falls_back():
    q, k, v, g = _qkv(1, 1, 2, 20, 4, 4)
    slope = torch.rand(2, generator=g)
    o_ref, _ = lightning_recurrent(q, k, v, slope)
    o_cpu, _ = lightning_attention(q, k, v, slope, block_size=8)
    torch.testing.assert_close(o_cpu, o_ref, atol=1e-4, rtol=1e-4)
    calls = []

    def fake_kernel(q, k, v, slope, initial_state=None):
        calls.append(q.shape)
        return lightning_recurrent(q, k, v, slope, initial_state)

    def fake_step(q, k, v, slope, state):
        calls.append("step")
        return lightning_decode(q, k, v, slope, state)

    register_kernel("cpu", fake_kernel, fake_step)
    try:
        lightning_attention(q, k, v, slope)
        lightning_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], slope, torch.zeros(1, 2, 4, 4))
    finally:
        register_kernel("cpu", None)
    assert calls == [q.shape, "step"]
    lightning_attention(q, k, v, slope)
    lightning_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], slope, torch.zeros(1, 2, 4, 4))
    assert len(calls) == 2


def test_fp32_accumulation_survives_bf16_autocast():
    q, k, v, g = _qkv(4, 1, 2, 30, 8, 8)
    slope = torch.rand(2, generator=g)
    ref, ref_state = lightning_recurrent(q, k, v, slope)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o, state = lightning_block(q, k, v, slope, block_size=8)
        o1, _ = lightning_decode(q[:, :, 0], k[:, :, 0], v[:, :, 0], slope, torch.zeros(1, 2, 8, 8))
    assert o.dtype == state.dtype == o1.dtype == torch.float32
    torch.testing.assert_close(o, ref, atol=1e-4, rtol=1e-4)  # bf16 matmuls would miss this by ~1e-2
    torch.testing.assert_close(state, ref_state, atol=1e-4, rtol=1e-4)

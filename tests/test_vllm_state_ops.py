"""The vLLM state-pool lightning ops (llm.vllm_plugin.state_ops) equal the exact recurrence, slot by slot."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.lightning import decay_slopes, lightning_recurrent
from llm.vllm_plugin.state_ops import decode_slots, prefill_slot

H, D = 2, 8


def _qkv(g: torch.Generator, T: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(torch.nn.functional.silu(torch.randn(H, T, D, generator=g)) for _ in range(3))  # type: ignore[return-value]


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 40), split=st.integers(0, 40), block=st.sampled_from([1, 3, 4, 16]), slot=st.integers(0, 3),
       seed=st.integers(0, 2**16))
def test_chunked_prefill_into_a_slot_equals_the_recurrence(T, split, block, slot, seed):
    """Prefill in two chunks (vLLM's chunked prefill) into pool[slot] == S_t = λS + kᵀv, o = qS over the whole prompt
    (MiniMax-01 §2.2.1); the other slots stay untouched."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = _qkv(g, T)
    slope = decay_slopes(H, 1, 4)
    pool = torch.randn(4, H, D, D, generator=g)
    before = pool.clone()
    pool[slot] = 0  # vLLM zeroes the slot of a new sequence
    s = min(split, T)
    parts = []
    for a, b in ((0, s), (s, T)):
        if b > a:
            parts.append(prefill_slot(q[:, a:b], k[:, a:b], v[:, a:b], pool, slot, slope, block))
    out = torch.cat(parts, 0)
    ref_o, ref_s = lightning_recurrent(q[None], k[None], v[None], slope)
    assert out.shape == (T, H * D)
    torch.testing.assert_close(out, ref_o[0].transpose(0, 1).reshape(T, H * D), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(pool[slot], ref_s[0], rtol=1e-4, atol=1e-5)
    others = [i for i in range(4) if i != slot]
    assert torch.equal(pool[others], before[others])


def test_decode_batch_updates_each_slot_and_skips_padding():
    g = torch.Generator().manual_seed(3)
    slope = decay_slopes(H, 0, 2)
    pool = torch.randn(5, H, D, D, generator=g)
    before = pool.clone()
    slots = torch.tensor([3, -1, 0])  # a padding row between two sequences
    q, k, v = (torch.randn(3, H, D, generator=g) for _ in range(3))
    out = decode_slots(q, k, v, pool, slots, slope)
    lam = torch.exp(-slope)[:, None, None]
    for row, s in ((0, 3), (2, 0)):
        want_s = lam * before[s] + k[row][:, :, None] * v[row][:, None, :]
        torch.testing.assert_close(pool[s], want_s)
        torch.testing.assert_close(out[row], (q[row][:, None, :] @ want_s).reshape(-1))
    assert torch.equal(out[1], torch.zeros(H * D))
    for s in (1, 2, 4):
        assert torch.equal(pool[s], before[s])


def test_prefill_then_decode_matches_one_long_recurrence():
    """vLLM's life of a sequence: prefill 9 tokens into its slot, then decode one token at a time from the pool."""
    g = torch.Generator().manual_seed(7)
    T = 12
    q, k, v = _qkv(g, T)
    slope = decay_slopes(H, 0, 3)
    pool = torch.zeros(2, H, D, D, dtype=torch.float32)
    outs = [prefill_slot(q[:, :9], k[:, :9], v[:, :9], pool, 1, slope, 4)]
    for t in range(9, T):
        outs.append(decode_slots(q[:, t][None], k[:, t][None], v[:, t][None], pool, torch.tensor([1]), slope))
    ref_o, _ = lightning_recurrent(q[None], k[None], v[None], slope)
    torch.testing.assert_close(torch.cat(outs, 0), ref_o[0].transpose(0, 1).reshape(T, H * D), rtol=1e-4, atol=1e-5)


def test_bad_shapes_are_refused():
    import pytest

    pool = torch.zeros(1, H, D, D)
    with pytest.raises(ValueError, match="prefill_slot"):
        prefill_slot(torch.zeros(H, D), torch.zeros(H, D), torch.zeros(H, D), pool, 0, torch.ones(H), 4)
    with pytest.raises(ValueError, match="decode_slots"):
        decode_slots(torch.zeros(2, H, D), torch.zeros(2, H, D), torch.zeros(2, H, D), pool, torch.tensor([0]),
                     torch.ones(H))

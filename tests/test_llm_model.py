"""Model behaviour: incremental decoding == full forward, left padding changes no sequence, MoE routing, precision."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.config import preset
from llm.model import MiniMaxForCausalLM, SparseMoE

# Weights larger than the default 0.02 so every layer visibly shapes the logits (a broken layer cannot hide).
CFG = dataclasses.replace(preset("micro"), initializer_range=0.3)


@pytest.fixture(scope="module")
def model() -> MiniMaxForCausalLM:
    m = MiniMaxForCausalLM(CFG)
    m.init_weights(0)
    return m.eval()


def _ids(seed: int, B: int, T: int) -> torch.Tensor:
    return torch.randint(0, CFG.vocab_size, (B, T), generator=torch.Generator().manual_seed(seed))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), T=st.integers(2, 26), split=st.integers(1, 25))
def test_prefill_then_decode_equals_one_prefill(model, seed, T, split):
    split = min(split, T - 1)
    ids = _ids(seed, 2, T)
    with torch.inference_mode():
        full = model(ids).logits
        cache = model.new_cache()
        parts = [model(ids[:, :split], cache=cache).logits]
        for t in range(split, T):
            parts.append(model(ids[:, t:t + 1], cache=cache).logits)
    assert full.shape == (2, T, CFG.vocab_size)
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-4, rtol=1e-4)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), lens=st.lists(st.integers(1, 14), min_size=2, max_size=3), new=st.integers(0, 3))
def test_left_padding_changes_no_sequence(model, seed, lens, new):
    """Each row of a left-padded batch (prefill, then `new` decode steps) equals that sequence run alone."""
    seqs = [_ids(seed + i, 1, n)[0] for i, n in enumerate(lens)]
    extra = _ids(seed + 99, len(lens), max(new, 1))
    T = max(lens)
    ids = torch.full((len(lens), T), 7, dtype=torch.long)  # padding id is arbitrary: it must not matter
    mask = torch.zeros(len(lens), T, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, T - len(s):] = s
        mask[i, T - len(s):] = 1
    with torch.inference_mode():
        cache = model.new_cache()
        batch = model(ids, attention_mask=mask, cache=cache).logits
        steps = [model(extra[:, j:j + 1], cache=cache).logits for j in range(new)]
        for i, s in enumerate(seqs):
            alone = model(torch.cat([s, extra[i, :new]])[None]).logits[0]
            torch.testing.assert_close(batch[i, T - len(s):], alone[: len(s)], atol=1e-4, rtol=1e-4)
            for j in range(new):
                torch.testing.assert_close(steps[j][i, 0], alone[len(s) + j], atol=1e-4, rtol=1e-4)


def _dense_moe(moe: SparseMoE, x: torch.Tensor) -> torch.Tensor:
    """Reference: every expert on every token, weighted by the renormalized top-k router probabilities."""
    probs = torch.softmax(x @ moe.gate.weight.T, dim=-1)
    top, idx = probs.topk(moe.top_k, dim=-1)
    w = torch.zeros_like(probs).scatter(-1, idx, top / top.sum(-1, keepdim=True))
    inner = moe.inner
    out = torch.zeros_like(x)
    for e in range(moe.num_experts):
        h = F.silu(x @ moe.w13[e, :inner].T) * (x @ moe.w13[e, inner:].T)
        out += w[:, e:e + 1] * (h @ moe.w2[e].T)
    return out


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), k=st.integers(1, 4))
def test_moe_dispatch_equals_dense_reference(seed, n, k):
    cfg = dataclasses.replace(CFG, num_experts_per_tok=k)
    moe = SparseMoE(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in moe.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        x = torch.randn(n, cfg.hidden_size, generator=g)
        torch.testing.assert_close(moe(x), _dense_moe(moe, x), atol=1e-5, rtol=1e-4)
        w, idx = moe.route(x)
        assert w.dtype == torch.float32
        torch.testing.assert_close(w.sum(-1), torch.ones(n))
        assert (idx.unique(dim=-1).shape[-1] == k) if n == 1 else True


def test_layers_matter_and_postnorm_flag_changes_the_model(model):
    ids = _ids(5, 1, 12)
    with torch.inference_mode():
        base = model(ids).logits
        other = MiniMaxForCausalLM(dataclasses.replace(CFG, postnorm=False))
        other.load_state_dict(model.state_dict())
        assert (other.eval()(ids).logits - base).abs().max() > 1e-2
        # zeroing the lightning layer's output projection must change the logits
        saved = model.model.layers[0].self_attn.out_proj.weight.clone()
        model.model.layers[0].self_attn.out_proj.weight.zero_()
        changed = model(ids).logits
        model.model.layers[0].self_attn.out_proj.weight.copy_(saved)
    assert (changed - base).abs().max() > 1e-2


def test_low_precision_weights_keep_fp32_state_and_logits():
    model = MiniMaxForCausalLM(preset("micro"))  # default init: bf16 rounding does not flip expert choices
    model.init_weights(1)
    m16 = MiniMaxForCausalLM(preset("micro"))
    m16.load_state_dict(model.state_dict())
    m16 = m16.to(torch.bfloat16).eval()
    ids = _ids(3, 1, 10)
    with torch.inference_mode():
        cache = m16.new_cache()
        out = m16(ids, cache=cache)
        ref = model.eval()(ids).logits
    assert out.logits.dtype == torch.float32
    assert all(s.dtype == torch.float32 for s in cache.lightning.values())
    assert cache.lightning[0].shape == (1, CFG.num_attention_heads, CFG.head_dim, CFG.head_dim)
    assert (out.logits - ref).abs().max() < 0.05 * ref.abs().max()
    # the decay slopes stay exact fp32 after the cast (bf16 slopes were transformers' 3e-4 logit trap)
    from llm.lightning import decay_slopes

    slope = m16.model.layers[0].self_attn.slope(torch.device("cpu"))
    assert slope.dtype == torch.float32 and torch.equal(slope, decay_slopes(4, 0, 3))


def test_bad_input_shapes_are_reported(model):
    with pytest.raises(ValueError, match="input_ids"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask"):
        model(torch.zeros(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 5))

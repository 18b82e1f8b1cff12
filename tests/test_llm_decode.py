"""The batch-1 decode path (DecodePlan, native and torch backends): each step equals the full forward pass."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from llm import decode_native
from llm.config import preset
from llm.generate import ByteTokenizer, GenerationConfig, generate
from llm.model import DecodePlan, DecodeState, MiniMaxForCausalLM

# Large init so every layer visibly shapes the logits; micro = lightning, softmax, lightning.
CFG = dataclasses.replace(preset("micro"), initializer_range=0.3)
VARIANTS = {
    "micro": CFG,
    "partial-rope-prenorm": dataclasses.replace(CFG, rotary_dim=4, postnorm=False),
    "gqa4-top1": dataclasses.replace(CFG, num_key_value_heads=1, num_experts_per_tok=1,
                                     attn_type_list=[1, 0, 0], num_hidden_layers=3),
    # sizes no SIMD width divides: the kernels' row and column tails
    "odd-sizes": dataclasses.replace(CFG, hidden_size=40, intermediate_size=36, num_attention_heads=3,
                                     num_key_value_heads=1, head_dim=6, rotary_dim=6, num_local_experts=5),
}
STEPS = 44


@pytest.fixture(params=["native", "torch"])
def backend(request, monkeypatch) -> str:
    """Run a test on the C kernels and on the pure-PyTorch plan (the fallback without a C compiler)."""
    if request.param == "torch":
        monkeypatch.setenv("FEP_MOTION_NATIVE_DECODE", "0")
    elif decode_native.load() is None:
        pytest.skip("no C compiler: the native decode kernels cannot be built here")
    return request.param


def _model(cfg, seed: int = 0) -> MiniMaxForCausalLM:
    m = MiniMaxForCausalLM(cfg)
    m.init_weights(seed)
    return m.eval()


def _ids(cfg, seed: int, n: int) -> torch.Tensor:
    return torch.randint(0, cfg.vocab_size, (1, n), generator=torch.Generator().manual_seed(seed))


def _decode(model: MiniMaxForCausalLM, ids: torch.Tensor, prompt: int) -> tuple[torch.Tensor, object]:
    """Prefill ids[:, :prompt], then feed the rest one token at a time; logits of every fed position."""
    cache = model.new_cache()
    parts = [model(ids[:, :prompt], cache=cache).logits]
    for t in range(prompt, ids.shape[1]):
        parts.append(model(ids[:, t:t + 1], cache=cache).logits)
    return torch.cat(parts, 1), cache


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fast_decode_equals_full_forward_over_many_steps(name, backend):
    cfg = VARIANTS[name]
    model = _model(cfg)
    ids = _ids(cfg, 1, 9 + STEPS)
    with torch.inference_mode():
        full = model(ids).logits
        inc, cache = _decode(model, ids, 9)
    assert isinstance(cache.fast, DecodeState), "single-token steps must take the batch-1 decode path"
    assert cache.fast.plan.backend == backend
    assert inc.dtype == torch.float32
    torch.testing.assert_close(inc, full, atol=1e-4, rtol=1e-4)
    assert cache.length == ids.shape[1] and int(cache.next_pos) == ids.shape[1]


def test_fast_and_generic_paths_leave_interchangeable_caches(backend):
    """Switching paths mid-sequence (fast steps, a 3-token chunk, fast steps again) changes no logit."""
    model = _model(CFG)
    ids = _ids(CFG, 2, 60)
    with torch.inference_mode():
        full = model(ids).logits
        cache = model.new_cache()
        parts = [model(ids[:, :5], cache=cache).logits]
        for t in range(5, 30):
            parts.append(model(ids[:, t:t + 1], cache=cache).logits)
        parts.append(model(ids[:, 30:33], cache=cache).logits)  # generic chunk: detaches the fast state
        assert cache.fast is None
        for t in range(33, 60):
            parts.append(model(ids[:, t:t + 1], cache=cache).logits)
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-4, rtol=1e-4)


def test_fast_decode_on_a_left_padded_row_after_the_batch_shrinks(backend):
    """A batch row left-padded at prefill, kept alone by cache.select, decodes as if run without padding."""
    model = _model(CFG)
    short, long_ = _ids(CFG, 3, 4)[0], _ids(CFG, 4, 11)[0]
    extra = _ids(CFG, 5, 40)[0]
    ids = torch.zeros(2, 11, dtype=torch.long)
    mask = torch.zeros(2, 11, dtype=torch.long)
    ids[0, 7:], mask[0, 7:] = short, 1
    ids[1], mask[1] = long_, 1
    with torch.inference_mode():
        cache = model.new_cache()
        model(ids, attention_mask=mask, cache=cache)
        cache.select(torch.tensor([0]))
        steps = [model(extra[None, j:j + 1], cache=cache).logits for j in range(40)]
        alone = model(torch.cat([short, extra])[None]).logits[0, 4:]
    assert isinstance(cache.fast, DecodeState) and cache.fast.key_start == 7
    torch.testing.assert_close(torch.cat(steps, 1)[0], alone, atol=1e-4, rtol=1e-4)


def test_changed_weights_rebuild_the_plan(backend):
    model = _model(CFG)
    ids = _ids(CFG, 6, 30)
    with torch.inference_mode():
        _decode(model, ids, 5)
        first_plan = model._decode_plan
        model.model.layers[0].self_attn.out_proj.weight.mul_(-2.0)  # an in-place update, as an optimizer makes
        full = model(ids).logits
        inc, _ = _decode(model, ids, 5)
    assert model._decode_plan is not first_plan
    torch.testing.assert_close(inc, full, atol=1e-4, rtol=1e-4)


def test_no_grad_mode_and_opt_out_give_the_same_logits(backend):
    model = _model(CFG)
    ids = _ids(CFG, 7, 50)
    with torch.no_grad():
        fast, cache = _decode(model, ids, 6)
    assert isinstance(cache.fast, DecodeState)
    model.fast_decode = False
    with torch.inference_mode():
        generic, cache = _decode(model, ids, 6)
    assert cache.fast is None
    torch.testing.assert_close(fast, generic, atol=1e-4, rtol=1e-4)


def test_grad_mode_and_low_precision_take_the_generic_path():
    model = _model(CFG)
    ids = _ids(CFG, 8, 12)
    cache = model.new_cache()
    model(ids[:, :6], cache=cache)
    out = model(ids[:, 6:7], cache=cache)
    assert cache.fast is None and out.logits.requires_grad  # training-time calls keep autograd
    m16 = _model(CFG).to(torch.bfloat16)
    with torch.inference_mode():
        _, cache = _decode(m16, ids, 6)
    assert cache.fast is False


def test_greedy_generation_is_the_same_with_and_without_the_fast_path(backend):
    tok = ByteTokenizer()
    cfg = dataclasses.replace(CFG, vocab_size=tok.vocab_size)
    model = _model(cfg, seed=3)
    gcfg = GenerationConfig(max_new_tokens=48, temperature=0.0)
    fast = generate(model, tok, "hello there", gcfg)[0]
    model.fast_decode = False
    generic = generate(model, tok, "hello there", gcfg)[0]
    assert len(fast.token_ids) == 48
    assert fast.token_ids == generic.token_ids


def test_native_kernels_fall_back_to_torch_without_a_working_compiler(tmp_path, monkeypatch):
    """No compiler, or one that fails: load() says None and decoding still works (torch backend), same logits."""
    monkeypatch.setattr(decode_native, "_LIBS", {})  # forget this process's loaded libraries
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # and the cached build
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    assert decode_native.load() is None
    monkeypatch.setattr(decode_native, "_LIBS", {})
    monkeypatch.setenv("PATH", str(tmp_path))  # no compiler at all
    assert decode_native.load() is None
    model = _model(CFG)
    ids = _ids(CFG, 9, 50)
    with torch.inference_mode():
        full = model(ids).logits
        inc, cache = _decode(model, ids, 6)
    assert cache.fast.plan.backend == "torch"
    torch.testing.assert_close(inc, full, atol=1e-4, rtol=1e-4)
    assert not list(tmp_path.glob("fep-motion/*.so"))


def test_bf16_weights_take_the_bf16_kernels_with_the_fp32_kernels_logits():
    """A model whose weight matrices are bf16 values (as loaded from a bf16 checkpoint) decodes from bf16 copies of
    them: widening is exact, so the logits equal the fp32 kernels' and the full forward's."""
    if decode_native.load(True) is None:
        pytest.skip("no C compiler here")
    model = _model(CFG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "embed" not in name:
                p.copy_(p.to(torch.bfloat16).float())
    ids = _ids(CFG, 9, 50)
    with torch.inference_mode():
        full = model(ids).logits
        inc, cache = _decode(model, ids, 6)
    assert cache.fast.plan.backend == "native" and cache.fast.plan.weight_dtype == torch.bfloat16
    torch.testing.assert_close(inc, full, atol=1e-4, rtol=1e-4)
    fp32 = _model(CFG)
    assert DecodePlan(fp32).weight_dtype == torch.float32   # random fp32 weights keep the fp32 kernels

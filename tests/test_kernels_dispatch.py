"""CPU side of llm.kernels: the dispatch falls back to the reference, argument checks, and the backward's math.

The training path's backward is written as three scans of the forward recurrence (llm/kernels/lightning_train.py);
run with the PyTorch scan it must equal autograd through the token recurrence, on any shape, decay and state.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import llm.kernels
from llm.errors import LLMError
from llm.kernels.args import check_decode_args, check_prefill_args, squeeze_step
from llm.kernels.errors import KernelInputError
from llm.kernels.lightning_train import lightning_attention_train, reference_scan
from llm.lightning import decay_slopes, lightning_attention, lightning_block, lightning_recurrent, registered_kernel


def _qkv(seed: int, B: int, H: int, T: int, Dk: int, Dv: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, T, Dk, generator=g, dtype=torch.float64),
            torch.randn(B, H, T, Dk, generator=g, dtype=torch.float64),
            torch.randn(B, H, T, Dv, generator=g, dtype=torch.float64), g)


def test_cpu_keeps_the_reference_and_env_switch_removes_the_route(monkeypatch):
    q, k, v, _ = _qkv(0, 1, 2, 40, 16, 16)
    slope = decay_slopes(2, 0, 2)
    o, s = lightning_attention(q.float(), k.float(), v.float(), slope)
    ro, rs = lightning_block(q.float(), k.float(), v.float(), slope)
    assert torch.equal(o, ro) and torch.equal(s, rs)
    if not torch.cuda.is_available():
        assert not llm.kernels.available()
        assert registered_kernel("cuda") is None  # nothing registered where kernels cannot run
    monkeypatch.setenv("FEP_MOTION_NO_KERNELS", "1")
    assert llm.kernels.register(force=True) is False
    assert registered_kernel("cuda") is None
    monkeypatch.delenv("FEP_MOTION_NO_KERNELS")
    assert llm.kernels.register(force=True) is True
    assert registered_kernel("cuda") is llm.kernels.cuda_lightning_attention
    from llm import lightning as lightning_module

    assert lightning_module._DECODE_KERNELS["cuda"] is llm.kernels.cuda_lightning_decode  # the model's decode step
    o2, _ = lightning_attention(q.float(), k.float(), v.float(), slope)  # CPU tensors still take the reference
    assert torch.equal(o2, ro)
    llm.kernels.register()  # back to what this machine supports


def test_unsupported_head_dim_runs_the_reference_through_the_kernel_route():
    q, k, v, _ = _qkv(1, 2, 3, 21, 8, 8)
    slope = decay_slopes(3, 1, 3)
    o, _ = llm.kernels.cuda_lightning_attention(q.float(), k.float(), v.float(), slope)
    ro, _ = lightning_recurrent(q, k, v, slope)
    torch.testing.assert_close(o.double(), ro.double(), rtol=1e-4, atol=1e-4)
    assert [llm.kernels.supported_head_dim(d) for d in (8, 16, 48, 64, 128, 256)] == [
        False, True, False, True, True, False]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"layout": "thd"}, "layout"),
        ({"precision": "fp8"}, "precision"),
        ({"q": torch.zeros(1, 2, 5, 16, dtype=torch.int32)}, "q must be"),
        ({"v": torch.zeros(1, 2, 6, 16)}, "do not agree"),
        ({"q": torch.zeros(1, 2, 5, 24), "k": torch.zeros(1, 2, 5, 24)}, "Dk must be a power of two"),
        ({"slope": torch.zeros(3)}, "slope must be [H=2]"),
        ({"initial_state": torch.zeros(1, 2, 16, 8)}, "initial_state must be (1, 2, 16, 16)"),
        ({"cu_seqlens": torch.tensor([0, 2, 4])}, "cu_seqlens must rise from 0 to T=5"),
        ({"cu_seqlens": torch.tensor([0.0, 5.0])}, "cu_seqlens must be int32/int64"),
    ],
)
def test_prefill_argument_errors_name_the_argument(change, field):
    args = {"q": torch.zeros(1, 2, 5, 16), "k": torch.zeros(1, 2, 5, 16), "v": torch.zeros(1, 2, 5, 16),
            "slope": torch.zeros(2), "initial_state": None, "layout": "bhtd", "cu_seqlens": None, "precision": "fast"}
    args.update(change)
    with pytest.raises(KernelInputError) as exc:
        check_prefill_args(**args)
    assert field in str(exc.value) and "\n" not in str(exc.value)
    assert isinstance(exc.value, LLMError)  # the CLI prints LLMError subclasses on one line, exit code 2


def test_prefill_args_report_shapes_for_both_layouts_and_packed_sequences():
    q = torch.zeros(1, 9, 4, 32)
    assert check_prefill_args(q, q, torch.zeros(1, 9, 4, 64), torch.zeros(4), None, "bthd", None, "exact") == (
        1, 4, 9, 32, 64, 1)
    cu = torch.tensor([0, 3, 3, 9], dtype=torch.int32)
    assert check_prefill_args(q, q, q, torch.zeros(4), torch.zeros(3, 4, 32, 32), "bthd", cu, "fast")[-1] == 3


def test_decode_argument_errors():
    q = squeeze_step(torch.zeros(2, 3, 1, 16), "q")
    assert q.shape == (2, 3, 16)
    pool = torch.zeros(5, 3, 16, 16)
    assert check_decode_args(q, q, q, torch.zeros(3), pool, torch.tensor([0, 4]), None) == (2, 3, 16, 16)
    with pytest.raises(KernelInputError, match="state_pool must be fp32"):
        check_decode_args(q, q, q, torch.zeros(3), pool.double(), torch.tensor([0, 4]), None)
    with pytest.raises(KernelInputError, match="slots must be int32/int64"):
        check_decode_args(q, q, q, torch.zeros(3), pool, torch.tensor([0.0, 1.0]), None)
    with pytest.raises(KernelInputError, match="contiguous in its last two axes"):
        check_decode_args(q, q, q, torch.zeros(3), pool.transpose(2, 3), torch.tensor([0, 4]), None)
    with pytest.raises(KernelInputError, match=r"q must be \[B,H,D\]"):
        squeeze_step(torch.zeros(2, 3, 2, 16), "q")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    T=st.integers(1, 40),
    H=st.integers(1, 3),
    Dk=st.sampled_from([1, 4, 6]),
    Dv=st.sampled_from([2, 5]),
    slope_scale=st.floats(0.0, 2.0),
    with_state=st.booleans(),
    with_dst=st.booleans(),
)
def test_backward_by_scans_equals_autograd_of_the_recurrence(seed, T, H, Dk, Dv, slope_scale, with_state, with_dst):
    q, k, v, g = _qkv(seed, 2, H, T, Dk, Dv)
    slope = (torch.rand(H, generator=g) * slope_scale).float()
    s0 = torch.randn(2, H, Dk, Dv, generator=g, dtype=torch.float64) if with_state else None
    leaves = [x.clone().requires_grad_() for x in (q, k, v)] + ([s0.clone().requires_grad_()] if with_state else [])
    o, s = lightning_recurrent(*leaves[:3], slope, leaves[3] if with_state else None)
    do = torch.randn(o.shape, generator=g, dtype=torch.float64)
    dst = torch.randn(s.shape, generator=g, dtype=torch.float64)
    loss = (o * do).sum() + ((s * dst).sum() if with_dst else 0.0)
    ref = torch.autograd.grad(loss, leaves)
    leaves2 = [x.detach().clone().requires_grad_() for x in leaves]
    o2, s2 = lightning_attention_train(*leaves2[:3], slope, leaves2[3] if with_state else None, scan=reference_scan)
    loss2 = (o2 * do).sum() + ((s2 * dst).sum() if with_dst else 0.0)
    got = torch.autograd.grad(loss2, leaves2)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4 * (1 + b.abs().max().item()))


def test_train_path_on_cpu_uses_the_reference_scan_and_trains():
    """A few SGD steps through the autograd Function lower a regression loss (the gradient points downhill)."""
    q, k, v, g = _qkv(3, 1, 2, 30, 4, 4)
    target = torch.randn(1, 2, 30, 4, generator=g, dtype=torch.float64)
    w = torch.eye(4, dtype=torch.float64).requires_grad_()
    slope = decay_slopes(2, 0, 2)
    losses = []
    for _ in range(5):
        o, _ = lightning_attention_train(q @ w, k, v, slope)
        loss = ((o - target) ** 2).mean()
        losses.append(loss.item())
        (gw,) = torch.autograd.grad(loss, [w])
        with torch.no_grad():
            w -= 1e-3 * gw / (gw.norm() + 1e-12)
    assert losses[-1] < losses[0]


def test_cli_info_reports_the_active_path(capsys):
    from cli import main

    assert main(["kernels", "info"]) == 0
    out = capsys.readouterr().out
    assert "GPU path registered:" in out and "model prefill precision: split-p" in out
    if not torch.cuda.is_available():
        assert "no (the PyTorch reference runs)" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cli_check_without_gpu_is_a_one_line_error_exit_2(capsys):
    from cli import main

    assert main(["kernels", "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fep-motion kernels: error: no CUDA device with triton") and "\n" not in err


def test_the_model_loads_the_kernel_routes_and_untiled_decode_runs_the_reference():
    """Importing the model registers the kernels (no separate import needed); head sizes the decode kernel does not
    tile fall back to the reference with the same contract."""
    import subprocess
    import sys

    code = "import sys, llm.model; print('llm.kernels' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "True"
    from llm.lightning import lightning_decode

    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 3, 8, generator=g) for _ in range(3))
    state = torch.randn(2, 3, 8, 8, generator=g)
    slope = decay_slopes(3, 0, 2)
    o, st = llm.kernels.cuda_lightning_decode(q, k, v, slope, state)
    ro, rst = lightning_decode(q, k, v, slope, state)
    assert torch.equal(o, ro) and torch.equal(st, rst)

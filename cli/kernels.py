"""`fep-motion kernels …`: report and check the Triton lightning-attention kernels on this machine.

`info` says whether the GPU path is active (triton, CUDA device, registration, precision, launch shapes);
`check` runs every kernel against the fp64 PyTorch reference (exit 1 on a failed check, 2 without a GPU).
Import is cheap; torch loads inside the handlers.
"""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `kernels` command group to the fep-motion CLI."""
    p = subparsers.add_parser("kernels", help="Triton lightning-attention kernels: status and self-check",
                              description="Status and self-check of the GPU lightning-attention kernels.")
    sub = p.add_subparsers(dest="kernels_command", metavar="SUBCOMMAND", required=True)
    info = sub.add_parser("info", help="is the GPU path active here, with which precision and shapes")
    info.set_defaults(func=_info)
    chk = sub.add_parser("check", help="run each kernel against the fp64 reference on this GPU")
    chk.add_argument("--seq-len", type=int, default=1000, help="tokens per sequence (default 1000)")
    chk.add_argument("--heads", type=int, default=8, help="heads (default 8)")
    chk.add_argument("--head-dim", type=int, default=128, help="head size, a power of two 16..128 (default 128)")
    chk.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="q, k, v dtype")
    chk.add_argument("--seed", type=int, default=0)
    chk.set_defaults(func=_check)


def _info(args: argparse.Namespace) -> int:
    import importlib.util

    import torch

    from llm import kernels
    from llm.lightning import registered_kernel

    spec = importlib.util.find_spec("triton")
    triton_version = "not installed"
    if spec is not None:
        import triton

        triton_version = triton.__version__
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    active = registered_kernel("cuda") is kernels.cuda_lightning_attention
    print(f"triton: {triton_version}; CUDA device: {device}")
    print(f"GPU path registered: {'yes' if active else 'no (the PyTorch reference runs)'}; "
          f"model prefill precision: {kernels.MODEL_PRECISION}")
    if spec is not None:
        from llm.kernels.lightning_prefill import default_config

        for dt in (torch.bfloat16, torch.float32):
            shapes = [(True, False, "TMA kernel"), (False, False, "pointer kernel (varlen, reverse, strided)")]
            if dt == torch.float32:
                shapes.insert(0, (True, True, "Gluon fold kernel (the TMA path's default)"))
            for tma, fold, kernel in shapes:
                config = default_config(128, 128, dt, tma, fold=fold)
                print(f"prefill launch at D=128, {str(dt)[6:]}, {kernel}: {config}")
    return 0


def _check(args: argparse.Namespace) -> int:
    import torch

    from llm.kernels.selfcheck import run_selfcheck

    dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    results = run_selfcheck(args.seq_len, args.heads, args.head_dim, dtype, args.seed)
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.name:<16s} rel err {r.rel_err:.2e} (tol {r.tol:.0e})")
    failed = [r.name for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} checks passed on {torch.cuda.get_device_name()}")
    return 1 if failed else 0

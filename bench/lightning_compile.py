"""Compile lightning_prefill_ws for sm_90 on a machine without a GPU: registers, stack/local bytes, shared memory.

`PYTHONPATH=<dir with triton 3.6> python bench/lightning_compile.py '{}' '{"mode": "noprep"}' ...` — each JSON
object is one build (keys: mode, num_stages, odt ("fp32" for an fp32 o), full (an initial state, a stored state and
segments), d (head size), T, H, kernel ("fold_ws": lightning_prefill_fold_ws on fp32 inputs, "fold": the
one-warpgroup fp32 fold kernel)). SASS_DIR=<dir> also writes each build's SASS there.
A stub driver stands in for CUDA and each launch only compiles (`warmup`); the
cubin's resource usage comes from the wheel's own cuobjdump. No kernel runs: correctness and timing need the GPU.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _stub_driver() -> None:
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver

    class Stub:  # what JITFunction.run asks of the driver before it compiles
        def get_current_target(self):
            return GPUTarget("cuda", 90, 32)

        def get_current_device(self):
            return 0

        def get_current_stream(self, device=None):
            return 0

        def get_active_torch_device(self):
            import torch

            return torch.device("cpu")

    driver.set_active(Stub())


def _compile_only() -> None:
    from triton.experimental.gluon._runtime import GluonJITFunction
    from triton.runtime.jit import JITFunction

    def getitem(self, grid):
        return lambda *a, **kw: self.run(*a, grid=grid, warmup=True, **kw)

    GluonJITFunction.__getitem__ = getitem
    JITFunction.__getitem__ = getitem


def build(spec: dict):
    import torch

    from llm.kernels import lightning_prefill as lp
    from llm.kernels import lightning_prefill_ws as ws

    T, H, d = spec.get("T", 131072), spec.get("H", 64), spec.get("d", 128)
    full = spec.get("full", False)
    kernel = spec.get("kernel", "ws")
    idt = torch.float32 if kernel in ("fold", "fold_ws") else torch.bfloat16
    q, k, v = (torch.empty(1, T, H, d, dtype=idt) for _ in range(3))
    o = torch.empty(1, T, H, d, dtype=torch.float32 if spec.get("odt") == "fp32" or idt == torch.float32 else idt)
    maps = [lp._row_map(x, "bthd", T, H) for x in (q, k, v, o)]
    s0 = torch.empty(4, H, d, d) if full else None
    n, seg, nseg = (4, T // 4, 4) if full else (1, 0, 0)
    if kernel == "fold_ws":
        from llm.kernels.lightning_prefill_fold_ws import launch_fold_ws

        return launch_fold_ws(q, k, v, o, maps, torch.empty(H), s0, s0, T, H, n, seg, nseg)
    if kernel == "fold":
        from llm.kernels.lightning_prefill_fold import launch_fold

        return launch_fold(q, k, v, o, maps, torch.empty(H), s0, s0, T, H, n, seg, nseg, spec.get("state_only", False))
    return ws.launch_ws(q, k, v, o, maps, torch.empty(H), s0, s0, T, H, n, seg, nseg, spec.get("num_stages", 0),
                        spec.get("mode", ""))


def main(argv: list[str]) -> int:
    import triton

    _stub_driver()
    _compile_only()
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    for text in argv or ["{}"]:
        ck = build(json.loads(text))
        with tempfile.NamedTemporaryFile(suffix=".cubin") as fh:
            fh.write(ck.asm["cubin"])
            fh.flush()
            res = subprocess.run([tool, "-res-usage", fh.name], capture_output=True, text=True, check=False).stdout
            sass = subprocess.run([tool, "-sass", fh.name], capture_output=True, text=True, check=False).stdout
        usage = " ".join(x.strip() for x in res.splitlines() if "REG" in x)
        digest = hashlib.sha256(sass.encode()).hexdigest()[:8]  # as `cuobjdump -sass x.cubin | sha256sum`
        print(f"{text}: shared {ck.metadata.shared} B; {usage}; SASS sha256 {digest}...", flush=True)
        if os.environ.get("SASS_DIR"):  # the whole listing, one file a build
            name = "".join(c if c.isalnum() else "_" for c in text).strip("_") or "default"
            with open(os.path.join(os.environ["SASS_DIR"], name + ".sass"), "w") as out:
                out.write(sass)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

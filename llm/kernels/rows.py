"""Where a lightning prefill program starts in q, k, v and o: one integer helper shared by the Triton TMA kernel and
the Gluon kernels (lightning_prefill, lightning_prefill_fold, lightning_prefill_ws), so none of them imports another
for it."""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def program_rows(bh, iv, T, H, SEG, NSEG, rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o,
                 BV: tl.constexpr, SEGMENTED: tl.constexpr):
    """Where a descriptor kernel's program starts: its head, rows to walk, first row and column of q, k, v, o.

    Program bh is sequence (or segment) n = bh // H, head h = bh % H; lightning_prefill._row_map gives the rb/rh/ch
    row maps. Scalar integer math only, so both DSLs (Triton and Gluon) compile it.
    """
    n = bh // H
    h = bh % H
    if SEGMENTED:  # sequence n // NSEG, its segment n % NSEG of SEG rows (two-level scan, lightning_prefill._segmented)
        seq = n // NSEG
        t0 = (n % NSEG) * SEG
        L = tl.minimum(SEG, T - t0)
    else:
        seq = n
        t0 = 0
        L = T
    return (h, L, seq * rb_q + h * rh_q + t0, seq * rb_k + h * rh_k + t0, seq * rb_v + h * rh_v + t0,
            seq * rb_o + h * rh_o + t0, h * ch_q, h * ch_k, h * ch_v + iv * BV, h * ch_o + iv * BV)

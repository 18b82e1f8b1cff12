"""Native (C) kernels for the batch-1 CPU decode step: runs of lightning layers, the MoE half of a layer, the LM head.

Why: at batch 1 a decode step is weight reads plus per-op overhead; PyTorch's eager ops cost ~1 µs each, and MKL's
row-vector GEMV streams cold weights at ~14 GB/s in nn.Linear's [out, in] layout (~25 GB/s for an [in, out] copy)
where a row-dot loop that prefetches one row block ahead reaches ~40 GB/s on one core here (bench/llm_cpu.py
docstring). These kernels read the [out, in] weights in place (no copies) and do a whole lightning layer per call.
The maths is the model's (llm.model docstring); all of it in fp32, results equal the PyTorch path up to fp32 rounding.

The source is compiled once per machine with the system C compiler (`cc`/`gcc`, -O3 -march=native, well under a
second) into the user cache directory and loaded with ctypes. No compiler, a failed build, or FEP_MOTION_NATIVE_DECODE=0
→ `load()` returns None and the PyTorch decode path runs instead.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["Layer", "NativeBuildError", "build", "cache_dir", "library_path", "load"]

SOURCE = r"""
#include <math.h>
#include <stddef.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));


static inline v16 ld(const float *p) { v16 v; memcpy(&v, p, 64); return v; }
static inline float hsum(v16 v) { float s = 0.f; for (int i = 0; i < 16; i++) s += v[i]; return s; }

/* Weight matrices are fp32, or (built with -DWBF16) bf16 widened to fp32 as they are read: a bf16 value is the top
   half of an fp32 one, so widening is exact and the arithmetic is the fp32 kernel's; only the bytes halve. */
#ifdef WBF16
typedef unsigned short wt;
typedef unsigned short u16x16 __attribute__((vector_size(32)));
typedef unsigned int u32x16 __attribute__((vector_size(64)));
static inline v16 ldw(const wt *p) {
    u16x16 h; memcpy(&h, p, 32);
    u32x16 u = __builtin_convertvector(h, u32x16) << 16;
    v16 f; memcpy(&f, &u, 64); return f;
}
static inline float w1(const wt *p) { unsigned int u = (unsigned int)*p << 16; float f; memcpy(&f, &u, 4); return f; }
#else
typedef float wt;
static inline v16 ldw(const wt *p) { return ld(p); }
static inline float w1(const wt *p) { return *p; }
#endif

typedef struct {
    const float *in_norm;
    const wt *w_qkv, *w_gate;
    const float *attn_norm;
    const wt *w_out;
    const float *decay, *post_norm;
    const wt *router, *w13, *w2;
    float *state;
    int H, D, hid, E, K, I, postnorm;
    float eps, attn_eps, attn_alpha, attn_beta, mlp_alpha, mlp_beta;
} Layer;

static float dot(const float *a, const float *b, int n) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += ld(a + i) * ld(b + i);
    float s = hsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static float wdot(const wt *w, const float *x, int n) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) acc += ldw(w + i) * ld(x + i);
    float s = hsum(acc);
    for (; i < n; i++) s += w1(w + i) * x[i];
    return s;
}

/* y = W x, W [m, n] row-major (nn.Linear layout): four rows streamed at once, x stays in L1. Each block of four
   rows first prefetches the block PREFETCH weights ahead: the weights come from DRAM every step, and this keeps
   enough reads in flight to reach ~40 GB/s on one core (MKL's GEMV reaches ~25 GB/s here). */
#define PREFETCH 2048
static void gemv(const wt *W, const float *x, float *y, int m, int n) {
    const char *end = (const char *)(W + (size_t)m * n);
    int j = 0;
    for (; j + 4 <= m; j += 4) {
        const wt *r0 = W + (size_t)j * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        const char *pf = (const char *)(r0 + PREFETCH), *pf_end = pf + 4 * sizeof(wt) * (size_t)n;
        if (pf_end > end) pf_end = end;
        for (; pf < pf_end; pf += 64) __builtin_prefetch(pf, 0, 0);
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            v16 xv = ld(x + i);
            a0 += ldw(r0 + i) * xv; a1 += ldw(r1 + i) * xv; a2 += ldw(r2 + i) * xv; a3 += ldw(r3 + i) * xv;
        }
        float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
        for (; i < n; i++) {
            s0 += w1(r0 + i) * x[i]; s1 += w1(r1 + i) * x[i]; s2 += w1(r2 + i) * x[i]; s3 += w1(r3 + i) * x[i];
        }
        y[j] = s0; y[j + 1] = s1; y[j + 2] = s2; y[j + 3] = s3;
    }
    for (; j < m; j++) y[j] = wdot(W + (size_t)j * n, x, n);
}

/* RMSNorm (Zhang & Sennrich 2019, eq. 4): out = (x * w) * rsqrt(mean(x^2) + eps) */
static void rmsnorm(const float *x, const float *w, float *out, int n, float eps) {
    float s = 1.0f / sqrtf(dot(x, x, n) / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] * w[i]) * s;
}

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

/* MoE (MiniMax-01 §2.1): softmax router -> top-k -> renormalize; SwiGLU experts w2(silu(w1 h) * w3 h)
   (Shazeer 2020 eq. 6); out += scale * sum_k w_k expert_k(h). scratch >= E + 3I + hid floats. */
static void moe(const Layer *L, const float *h, float *out, float scale, float *scratch) {
    int E = L->E, I = L->I, hid = L->hid;
    float *p = scratch, *ab = p + E, *g = ab + 2 * I, *y = g + I;
    gemv(L->router, h, p, E, hid);
    float mx = p[0];
    for (int e = 1; e < E; e++) mx = p[e] > mx ? p[e] : mx;
    float z = 0.f;
    for (int e = 0; e < E; e++) { p[e] = expf(p[e] - mx); z += p[e]; }
    for (int e = 0; e < E; e++) p[e] /= z;
    int sel[64]; float w[64], wsum = 0.f;
    for (int k = 0; k < L->K; k++) {  /* top-k by repeated argmax; the lowest index wins ties */
        int best = -1;
        for (int e = 0; e < E; e++) {
            int used = 0;
            for (int q = 0; q < k; q++) used |= sel[q] == e;
            if (!used && (best < 0 || p[e] > p[best])) best = e;
        }
        sel[k] = best; w[k] = p[best]; wsum += p[best];
    }
    for (int k = 0; k < L->K; k++) {
        int e = sel[k];
        gemv(L->w13 + (size_t)e * 2 * I * hid, h, ab, 2 * I, hid);
        for (int i = 0; i < I; i++) { float a = ab[i]; g[i] = a * sigmoidf(a) * ab[I + i]; }
        gemv(L->w2 + (size_t)e * hid * I, g, y, hid, I);
        float c = scale * (w[k] / wsum);
        for (int j = 0; j < hid; j++) out[j] += c * y[j];
    }
}

/* The MoE half of a decoder layer with its DeepNorm residual (arXiv:2203.00555 eq. 1), x updated in place. */
void ffn_block(float *x, const Layer *L, float *scratch) {
    int hid = L->hid;
    float *h = scratch, *acc = h + hid;
    rmsnorm(x, L->post_norm, h, hid, L->eps);
    const float *res = L->postnorm ? h : x;
    for (int j = 0; j < hid; j++) acc[j] = L->mlp_alpha * res[j];
    moe(L, h, acc, L->mlp_beta, acc + hid);
    memcpy(x, acc, sizeof(float) * hid);
}

/* n consecutive lightning layers (MiniMax-01 §2.2.1): silu(q,k,v); S <- lambda S + k^T v; o = q S
   (Lightning Attention-2 eq. 2); RMSNorm over all heads; sigmoid gate from the layer input; out_proj; then MoE.
   scratch >= 3*hid + 5*H*D + E + 3*I floats. */
void lightning_layers(float *x, const Layer *layers, int n, float *scratch) {
    for (int l = 0; l < n; l++) {
        const Layer *L = layers + l;
        int H = L->H, D = L->D, hid = L->hid, HD = H * D;
        float *h = scratch, *qkv = h + hid, *o = qkv + 3 * HD, *gate = o + HD, *attn = gate + HD;
        rmsnorm(x, L->in_norm, h, hid, L->eps);
        gemv(L->w_qkv, h, qkv, 3 * HD, hid);
        for (int i = 0; i < 3 * HD; i++) qkv[i] = qkv[i] * sigmoidf(qkv[i]);
        for (int hh = 0; hh < H; hh++) {
            const float *q = qkv + hh * 3 * D, *k = q + D, *v = k + D;
            float *S = L->state + (size_t)hh * D * D, lam = L->decay[hh];
            float *oh = o + hh * D;
            for (int j = 0; j < D; j++) oh[j] = 0.f;
            for (int i = 0; i < D; i++) {
                float *row = S + (size_t)i * D, ki = k[i], qi = q[i];
                for (int j = 0; j < D; j++) { row[j] = lam * row[j] + ki * v[j]; oh[j] += qi * row[j]; }
            }
        }
        rmsnorm(o, L->attn_norm, o, HD, L->attn_eps);
        gemv(L->w_gate, h, gate, HD, hid);
        for (int i = 0; i < HD; i++) o[i] *= sigmoidf(gate[i]);
        gemv(L->w_out, o, attn, hid, HD);
        const float *res = L->postnorm ? h : x;
        for (int j = 0; j < hid; j++) x[j] = L->attn_alpha * res[j] + L->attn_beta * attn[j];
        ffn_block(x, L, attn + hid);
    }
}

/* Final RMSNorm then the fp32 LM head (MiniMax-M1 §3.2): logits = W_lm norm(x). */
void lm_head(const float *x, const float *norm, float eps, const wt *W, float *logits, int hid, int V,
             float *scratch) {
    rmsnorm(x, norm, scratch, hid, eps);
    gemv(W, scratch, logits, V, hid);
}
"""

FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-shared", "-fPIC")
MAX_TOP_K = 64  # the kernel's fixed top-k arrays


class Layer(ctypes.Structure):
    """One decoder layer's weights and settings as the kernels read them (pointers into the model's tensors)."""

    _fields_ = [(name, ctypes.c_void_p) for name in (
        "in_norm", "w_qkv", "w_gate", "attn_norm", "w_out", "decay", "post_norm", "router", "w13", "w2", "state")
    ] + [(name, ctypes.c_int) for name in ("H", "D", "hid", "E", "K", "I", "postnorm")] + [
        (name, ctypes.c_float) for name in ("eps", "attn_eps", "attn_alpha", "attn_beta", "mlp_alpha", "mlp_beta")]


def cache_dir() -> Path:
    """Where the compiled library lives: $XDG_CACHE_HOME/fep-motion (default ~/.cache/fep-motion)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fep-motion"


def _cpu_key() -> str:
    """-march=native code is only valid on this CPU model: key the cached build by its flags."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        flags = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


class NativeBuildError(RuntimeError):
    """The C kernels could not be compiled (no compiler, or it failed); the message says which and why."""


def _flags(bf16: bool) -> tuple[str, ...]:
    return FLAGS + (("-DWBF16",) if bf16 else ())


def library_path(bf16: bool = False) -> Path:
    """The cached library for this source, these flags (fp32 or bf16 weights) and this CPU."""
    key = hashlib.sha256((SOURCE + " ".join(_flags(bf16)) + _cpu_key()).encode()).hexdigest()[:16]
    return cache_dir() / f"decode-{key}.so"


def build(target: Path, bf16: bool = False) -> Path:
    """Compile SOURCE into the shared library `target` (atomically replaced); raises NativeBuildError."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise NativeBuildError("no C compiler found (set CC or install gcc)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src, out = Path(tmp) / "decode.c", Path(tmp) / "decode.so"
        src.write_text(SOURCE, encoding="utf-8")
        try:
            subprocess.run([compiler, *_flags(bf16), "-o", str(out), str(src), "-lm"], check=True,
                           capture_output=True, timeout=120)
        except subprocess.CalledProcessError as exc:
            err = exc.stderr.decode(errors="replace").strip().splitlines()
            raise NativeBuildError(f"{compiler} failed: {err[0] if err else f'exit {exc.returncode}'}") from None
        except (OSError, subprocess.SubprocessError) as exc:
            raise NativeBuildError(f"{compiler} could not run: {exc}") from None
        os.replace(out, target)  # atomic: concurrent builders never load a half-written library
    return target


_LIBS: dict[bool, ctypes.CDLL | None] = {}  # by bf16 weights; absent: not tried yet


def load(bf16: bool = False) -> ctypes.CDLL | None:
    """The compiled kernels for fp32 (or bf16) weight matrices, built on first use and cached on disk; None when
    unavailable or disabled."""
    if os.environ.get("FEP_MOTION_NATIVE_DECODE", "1") == "0":
        return None
    if bf16 in _LIBS:
        return _LIBS[bf16]
    _LIBS[bf16] = None
    target = library_path(bf16)
    try:
        lib = ctypes.CDLL(str(target if target.is_file() else build(target, bf16)))
    except (OSError, NativeBuildError):
        return None
    vp = ctypes.c_void_p
    lib.lightning_layers.argtypes = [vp, vp, ctypes.c_int, vp]
    lib.ffn_block.argtypes = [vp, vp, vp]
    lib.lm_head.argtypes = [vp, vp, ctypes.c_float, vp, vp, ctypes.c_int, ctypes.c_int, vp]
    for f in (lib.lightning_layers, lib.ffn_block, lib.lm_head):
        f.restype = None
    _LIBS[bf16] = lib
    return lib

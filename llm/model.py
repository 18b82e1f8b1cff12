"""The MiniMax hybrid model: lightning + softmax attention layers, MoE FFN, DeepNorm residuals, fp32 LM head, a cache.

Semantics follow MiniMax-01 (arXiv:2501.08313) §2 and transformers' `modeling_minimax.py` (the parity peer):
- lightning layer: silu on q, k, v (no 1/√d), per-head decay, RMSNorm over all heads, sigmoid gate from the layer
  input, output projection;
- softmax layer: GQA, NeoX RoPE on the first `rotary_dim` dims of each head;
- MoE: fp32 softmax router → top-k → renormalize; experts w2(silu(w1 x) · w3 x), dispatched grouped by expert;
- residuals: postnorm (DeepNorm, arXiv:2203.00555 eq. 1) x ← α·LN(x) + β·F(LN(x)), or prenorm x ← α·x + β·F(LN(x)).
Left padding (attention_mask = 0) never enters the lightning state nor any softmax key, so it changes no sequence.
Module names mirror the published tensor names except the stacked experts (llm.checkpoint maps those).
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import llm.kernels  # noqa: F401  registers the Triton prefill/decode routes where CUDA + Triton exist
from llm.config import ModelConfig
from llm.lightning import decay_slopes, lightning_attention, lightning_step

__all__ = ["CausalLMOutput", "DecodePlan", "DecodeState", "MiniMaxForCausalLM", "MiniMaxModel", "ModelCache", "RMSNorm"]

LIGHTNING_NORM_EPS = 1e-6  # the head-concatenated RMSNorm in the lightning layer uses the default eps (MiniMax code)


class RMSNorm(nn.Module):
    """RMSNorm computed in fp32 and cast back (Zhang & Sennrich 2019, eq. 4): w · x / sqrt(mean(x²) + eps)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        normed = F.rms_norm(x.float(), (x.shape[-1],), None, self.eps)  # one fused op; fp32 inside
        return self.weight * normed.to(x.dtype)


def _bf16_exact(model: nn.Module) -> bool:
    """True when every weight matrix the native decode kernels read is exactly representable in bf16."""
    if os.environ.get("FEP_MOTION_NATIVE_BF16", "1") == "0":
        return False
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "embed" not in name and not torch.equal(p, p.to(torch.bfloat16).to(p.dtype)):
                return False
    return True


@dataclass
class ModelCache:
    """Decoding state: per lightning layer an fp32 [B,H,Dk,Dv] state, per softmax layer a preallocated KV cache.

    `key_valid` [B, capacity] marks real (non-padding) cached positions; `next_pos` [B] is each row's next RoPE
    position.
    """

    lightning: dict[int, Tensor] = field(default_factory=dict)
    keys: dict[int, Tensor] = field(default_factory=dict)
    values: dict[int, Tensor] = field(default_factory=dict)
    key_valid: Tensor | None = None
    next_pos: Tensor | None = None
    length: int = 0
    capacity: int = 0
    # The batch-1 decode path's per-cache bookkeeping (DecodeState); reset whenever rows change. Not part of the state.
    fast: object | None = field(default=None, repr=False)

    def reserve(self, extra: int) -> None:
        """Make room for `extra` more positions (grows KV buffers geometrically)."""
        need = self.length + extra
        if need <= self.capacity:
            return
        new_cap = max(need, 2 * self.capacity, 16)
        for store in (self.keys, self.values):
            for i, buf in store.items():
                grown = buf.new_zeros(buf.shape[0], buf.shape[1], new_cap, buf.shape[3])
                grown[:, :, : self.length] = buf[:, :, : self.length]
                store[i] = grown
        if self.key_valid is not None:
            kv = self.key_valid.new_zeros(self.key_valid.shape[0], new_cap)
            kv[:, : self.length] = self.key_valid[:, : self.length]
            self.key_valid = kv
        self.capacity = new_cap

    def select(self, rows: Tensor) -> None:
        """Keep only batch rows `rows` (e.g. drop finished sequences)."""
        self.fast = None
        for store in (self.lightning, self.keys, self.values):
            for i in store:
                store[i] = store[i][rows]
        if self.key_valid is not None:
            self.key_valid = self.key_valid[rows]
        if self.next_pos is not None:
            self.next_pos = self.next_pos[rows]


@dataclass
class CausalLMOutput:
    """Forward result: fp32 logits [B, T, V] (or [B, 1, V] with last_only) and the updated cache (or None)."""

    logits: Tensor
    cache: ModelCache | None = None


class LightningAttention(nn.Module):
    """Lightning attention layer (MiniMax-01 §2.2.1): qkv → silu → decayed linear attention → norm → gate → out."""

    def __init__(self, cfg: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.head_dim
        self.block_size = cfg.block_size
        inner = self.num_heads * self.head_dim
        self.qkv_proj = nn.Linear(cfg.hidden_size, 3 * inner, bias=False)
        self.output_gate = nn.Linear(cfg.hidden_size, inner, bias=False)
        self.norm = RMSNorm(inner, LIGHTNING_NORM_EPS)
        self.out_proj = nn.Linear(inner, cfg.hidden_size, bias=False)
        self.num_layers = cfg.num_hidden_layers
        # Derived, never saved, never cast: exact fp32 slopes per device (a bf16 copy is the transformers trap).
        self._slopes: dict[torch.device, Tensor] = {}

    def slope(self, device: torch.device) -> Tensor:
        """fp32 decay slopes [H] of this layer on `device` (docs/architecture.md §6), unaffected by model.to(dtype)."""
        s = self._slopes.get(device)
        if s is None:
            s = self._slopes[device] = decay_slopes(self.num_heads, self.layer_idx, self.num_layers).to(device)
        return s

    def forward(self, x: Tensor, mask: Tensor | None, cache: ModelCache | None, **_: object) -> Tensor:
        B, T, _h = x.shape
        H, D = self.num_heads, self.head_dim
        qkv = F.silu(self.qkv_proj(x))
        if mask is not None:  # padding must not enter the state: zero its q, k, v
            qkv = qkv * mask[:, :, None].to(qkv.dtype)
        # per head [q_h | k_h | v_h] (MiniMax layout: view(B, T, H, 3D) then split)
        qkv = qkv.view(B, T, H, 3 * D)
        state = cache.lightning.get(self.layer_idx) if cache is not None else None
        if T == 1 and state is not None:
            q, k, v = qkv[:, 0].split(D, dim=-1)
            o, state = lightning_step(q, k, v, self.slope(x.device), state)
            o = o.view(B, 1, H * D)
        else:
            q, k, v = qkv.transpose(1, 2).split(D, dim=-1)
            o, state = lightning_attention(q, k, v, self.slope(x.device), state, block_size=self.block_size)
            o = o.transpose(1, 2).reshape(B, T, H * D)
        if cache is not None:
            cache.lightning[self.layer_idx] = state
        o = self.norm(o).to(x.dtype)  # normalize the fp32 output before any cast: fp16 could overflow
        o = torch.sigmoid(self.output_gate(x)) * o
        return self.out_proj(o)


_INV_FREQ: dict[tuple[int, float, str], Tensor] = {}


def rope_cos_sin(positions: Tensor, rotary_dim: int, theta: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """RoPE tables for positions [B, T] (RoFormer, arXiv:2104.09864, eq. 34; NeoX half-split layout)."""
    key = (rotary_dim, theta, str(positions.device))
    inv_freq = _INV_FREQ.get(key)
    if inv_freq is None:  # θ_i = theta^(-2i/rot), computed once per (rot, theta, device)
        steps = torch.arange(0, rotary_dim, 2, dtype=torch.float32, device=positions.device) / rotary_dim
        inv_freq = _INV_FREQ[key] = 1.0 / (theta ** steps)
    freqs = positions.float()[..., None] * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]  # [B, 1, T, rot]


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first rotary_dim dims of x [B, H, T, D] (NeoX style: pairs (i, i + rot/2)); the rest pass through."""
    rot = cos.shape[-1]
    xr, xp = x[..., :rot], x[..., rot:]
    x1, x2 = xr[..., : rot // 2], xr[..., rot // 2:]
    rotated = torch.cat((-x2, x1), dim=-1)
    out = xr * cos + rotated * sin
    return out if xp.shape[-1] == 0 else torch.cat((out, xp), dim=-1)


class SoftmaxAttention(nn.Module):
    """Softmax attention layer with grouped-query heads and partial NeoX RoPE."""

    def __init__(self, cfg: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = cfg.head_dim
        self.rotary_dim = cfg.rotary_dim
        self.q_proj = nn.Linear(cfg.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, self.num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, self.num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, cfg.hidden_size, bias=False)

    def forward(self, x: Tensor, mask: Tensor | None, cache: ModelCache | None, *, rope: tuple[Tensor, Tensor],
                attn_mask: Tensor | None, **_: object) -> Tensor:
        B, T, _h = x.shape
        D = self.head_dim
        q = self.q_proj(x).view(B, T, self.num_heads, D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.num_kv_heads, D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.num_kv_heads, D).transpose(1, 2)
        cos, sin = rope
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            start = cache.length
            kbuf = cache.keys.get(self.layer_idx)
            if kbuf is None:  # first use; later growth happens in ModelCache.reserve
                kbuf = k.new_zeros(B, self.num_kv_heads, cache.capacity, D)
                vbuf = v.new_zeros(B, self.num_kv_heads, cache.capacity, D)
                cache.keys[self.layer_idx], cache.values[self.layer_idx] = kbuf, vbuf
            vbuf = cache.values[self.layer_idx]
            kbuf[:, :, start:start + T] = k
            vbuf[:, :, start:start + T] = v
            k, v = kbuf[:, :, : start + T], vbuf[:, :, : start + T]
        groups = self.num_heads // self.num_kv_heads
        if attn_mask is None:  # no padding, no past: plain causal
            o = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1, enable_gqa=groups > 1)
        else:
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, enable_gqa=groups > 1)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.num_heads * D))


class SparseMoE(nn.Module):
    """Top-k routed SwiGLU experts (MiniMax-01 §2.1); expert weights stacked for grouped dispatch.

    w13 [E, 2I, h] holds each expert's w1 (rows :I) and w3 (rows I:) so one matmul gives both; w2 [E, h, I].
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        E, h, inner = cfg.num_local_experts, cfg.hidden_size, cfg.intermediate_size
        self.num_experts, self.top_k, self.inner = E, cfg.num_experts_per_tok, inner
        self.gate = nn.Linear(h, E, bias=False)
        self.w13 = nn.Parameter(torch.empty(E, 2 * inner, h))
        self.w2 = nn.Parameter(torch.empty(E, h, inner))

    def route(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """fp32 softmax over expert logits → top-k → renormalize to sum 1 (MiniMax-01 §2.1). x [N, h]."""
        probs = torch.softmax(self.gate(x).float(), dim=-1)
        w, idx = torch.topk(probs, self.top_k, dim=-1)
        return w / w.sum(dim=-1, keepdim=True), idx

    def _expert(self, e: int, x: Tensor) -> Tensor:
        """SwiGLU expert e on rows x: w2(silu(w1 x) · w3 x) (Shazeer 2020, GLU variants, eq. 6)."""
        a, b = F.linear(x, self.w13[e]).split(self.inner, dim=-1)
        return F.linear(F.silu(a) * b, self.w2[e])

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        weights, idx = self.route(x)
        N, k = idx.shape
        if N == 1:  # decoding one token: run its k experts directly on their stored weights (no gather copies)
            w = weights[0].tolist()
            out = None
            for j, e in enumerate(idx[0].tolist()):
                y = self._expert(e, x) * w[j]
                out = y if out is None else out + y
            return out.view(shape)
        # token-grouped dispatch: sort (token, expert) pairs by expert, one matmul per expert on a contiguous slice
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        token_of = order // k
        counts = torch.bincount(flat, minlength=self.num_experts).tolist()
        xs = x[token_of]
        ys = torch.empty_like(xs)
        start = 0
        for e, n in enumerate(counts):  # a loop over experts, never over tokens
            if n:
                ys[start:start + n] = self._expert(e, xs[start:start + n])
                start += n
        ys = ys * weights.reshape(-1)[order, None].to(ys.dtype)
        out = torch.zeros_like(x)
        out.index_add_(0, token_of, ys)
        return out.view(shape)


class DecoderLayer(nn.Module):
    """Attention (lightning or softmax) then MoE, each with a DeepNorm-style scaled residual."""

    def __init__(self, cfg: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        self.lightning = cfg.is_lightning(layer_idx)
        self.self_attn: nn.Module = (LightningAttention(cfg, layer_idx) if self.lightning
                                     else SoftmaxAttention(cfg, layer_idx))
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.block_sparse_moe = SparseMoE(cfg)
        self.postnorm = cfg.postnorm
        if self.lightning:
            self.attn_alpha, self.attn_beta = cfg.layernorm_linear_attention_alpha, cfg.layernorm_linear_attention_beta
        else:
            self.attn_alpha, self.attn_beta = cfg.layernorm_full_attention_alpha, cfg.layernorm_full_attention_beta
        self.mlp_alpha, self.mlp_beta = cfg.layernorm_mlp_alpha, cfg.layernorm_mlp_beta

    def forward(self, x: Tensor, mask: Tensor | None, cache: ModelCache | None, **kw: object) -> Tensor:
        h = self.input_layernorm(x)
        residual = h if self.postnorm else x  # DeepNorm (postnorm) scales the normalized input
        x = residual * self.attn_alpha + self.self_attn(h, mask, cache, **kw) * self.attn_beta
        h = self.post_attention_layernorm(x)
        residual = h if self.postnorm else x
        return residual * self.mlp_alpha + self.block_sparse_moe(h) * self.mlp_beta


class MiniMaxModel(nn.Module):
    """Embedding → decoder layers → final RMSNorm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.has_softmax = not all(cfg.is_lightning(i) for i in range(cfg.num_hidden_layers))

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None, cache: ModelCache | None) -> Tensor:
        cfg = self.config
        B, T = input_ids.shape
        x = self.embed_tokens(input_ids)
        dev = input_ids.device
        past = cache.length if cache is not None else 0
        if attention_mask is not None:
            if tuple(attention_mask.shape) != (B, T):
                raise ValueError(f"attention_mask must be [B, T] = {(B, T)} for the new tokens, "
                                 f"got {tuple(attention_mask.shape)}")
            mask = attention_mask.to(device=dev, dtype=torch.bool)
        else:
            mask = None
        if cache is not None and cache.next_pos is None:
            cache.next_pos = torch.zeros(B, dtype=torch.long, device=dev)
        # RoPE positions count real tokens only, so left padding shifts nothing (positions are per row).
        if mask is None:
            base = cache.next_pos[:, None] if cache is not None else torch.zeros(B, 1, dtype=torch.long, device=dev)
            positions = base + torch.arange(T, device=dev)[None]
        else:
            base = cache.next_pos[:, None] if cache is not None else 0
            positions = base + (mask.long().cumsum(1) - 1).clamp(min=0)
        lightning_mask = None if mask is None or bool(mask.all()) else mask
        attn_mask = None
        rope = None
        if self.has_softmax:
            rope = rope_cos_sin(positions, cfg.rotary_dim, cfg.rope_theta, x.dtype)
            if cache is not None:
                cache.reserve(T)
                new_valid = mask if mask is not None else torch.ones(B, T, dtype=torch.bool, device=dev)
                if cache.key_valid is None:
                    cache.key_valid = torch.zeros(B, cache.capacity, dtype=torch.bool, device=dev)
                cache.key_valid[:, past:past + T] = new_valid
                key_valid = cache.key_valid[:, : past + T]
            else:
                key_valid = mask
            padded = key_valid is not None and not bool(key_valid.all())
            if padded or (past > 0 and T > 1):
                # allowed[b, i, j] = key j is real and j <= past + i; a padded query also sees itself (avoids NaN)
                qpos = torch.arange(past, past + T, device=dev)
                kpos = torch.arange(past + T, device=dev)
                allowed = kpos[None, :] <= qpos[:, None]
                if key_valid is not None:
                    allowed = allowed[None] & key_valid[:, None, :]
                    allowed = allowed | (kpos[None, None, :] == qpos[None, :, None])
                else:
                    allowed = allowed[None].expand(B, T, past + T)
                attn_mask = allowed[:, None]
        for layer in self.layers:
            x = layer(x, lightning_mask, cache, rope=rope, attn_mask=attn_mask)
        if cache is not None:
            cache.length = past + T
            real = mask.long().sum(1) if mask is not None else T
            cache.next_pos = cache.next_pos + real
        return self.norm(x)


# ---------------------------------------------------------------------------------------------------------------------
# Batch-1 decode path. At batch 1 on CPU a step costs weight reads and per-op overhead, not FLOPs: the generic forward
# issues ~600 small eager ops per step (~1 µs each) and reads nn.Linear's [out, in] weights through MKL's GEMV, which
# streams them ~1.8x slower than an [in, out] copy. DecodePlan runs a step either
#   - "native": llm.decode_native's C kernels (one call per run of lightning layers, reading the weights in place), or
#   - "torch": [in, out] weight copies, q/k/v and the output gate fused into one matrix, ~45 eager ops per layer.
# Same maths as the generic path (same cache contents afterwards); results differ from it by fp32 rounding only.
# ---------------------------------------------------------------------------------------------------------------------


def _rms_row(x: Tensor, weight: Tensor, eps: Tensor, inv_n: float) -> Tensor:
    """RMSNorm of one fp32 row x [1, n] in five ops (Zhang & Sennrich 2019, eq. 4): w · x · rsqrt(x·x / n + eps)."""
    v = x.view(-1)
    return (x * weight) * torch.add(eps, torch.dot(v, v), alpha=inv_n).rsqrt_()


@dataclass
class _LayerPlan:
    """One decoder layer's decode-time weights (torch backend: every matrix [in, out] contiguous)."""

    lightning: bool
    in_norm: Tensor
    post_norm: Tensor
    w_in: Tensor | None  # lightning: [h, 4·H·D] = qkv_proj then output_gate; softmax: [h, (H + 2·KV)·D] = q, k, v
    w_out: Tensor | None  # [H·D, h]
    attn_norm: Tensor | None  # lightning: the head-concatenated RMSNorm weight [H·D]
    decay: Tensor | None  # lightning: λ = exp(-slope) [H] fp32 (the native kernels' layout; torch views it [H, 1, 1])
    gate: Tensor | None  # router [h, E]
    w13: list[Tensor]  # per expert [h, 2I]: w1 then w3
    w2: list[Tensor]  # per expert [I, h]
    attn_alpha: float
    attn_beta: float
    mlp_alpha: float
    mlp_beta: float
    native: object | None = None  # decode_native.Layer template (state pointer filled per cache)
    keep: list[Tensor] = field(default_factory=list)  # native: the tensors the template's pointers refer to


@dataclass
class DecodeState:
    """What the batch-1 decode path keeps per cache: the plan, [H, Dk, Dv] views of the lightning states it updates in
    place, where the real keys start (after left padding), the grad mode the states were cloned in, and (native
    backend) the per-layer kernel arguments and scratch memory."""

    plan: DecodePlan
    states: list[Tensor | None]
    key_start: int
    inference: bool
    layers: object | None = None
    scratch: Tensor | None = None


class DecodePlan:
    """Decode-time layout of one fp32 CPU model's weights, and the batch-1 single-token step that uses it.

    Built once per set of weights (a signature of parameter pointers and in-place versions is checked once per cache,
    so optimizer steps, load_state_dict or .to() rebuild it). The native backend reads the model's own tensors; the
    torch backend holds one extra [in, out] copy of the non-embedding weights.
    """

    def __init__(self, model: MiniMaxForCausalLM, native: bool | None = None) -> None:
        from llm import decode_native

        cfg = model.config
        self.signature = DecodePlan.weights_signature(model)
        H, KV, D = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.H, self.KV, self.D, self.I, self.hid = H, KV, D, cfg.intermediate_size, cfg.hidden_size
        self.V = cfg.vocab_size
        self.top_k = cfg.num_experts_per_tok
        self.postnorm = cfg.postnorm
        self.inv_h = 1.0 / cfg.hidden_size
        self.inv_hd = 1.0 / (H * D)
        self.rms_eps = cfg.rms_norm_eps
        self.eps = torch.tensor(cfg.rms_norm_eps, dtype=torch.float32)
        self.eps_lightning = torch.tensor(LIGHTNING_NORM_EPS, dtype=torch.float32)
        self.rot = cfg.rotary_dim
        self.scale = D ** -0.5  # softmax attention's 1/sqrt(d), as scaled_dot_product_attention
        self.has_softmax = model.model.has_softmax
        self.inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, self.rot, 2, dtype=torch.float32) / self.rot))
        # weight matrices read as bf16 when every one of them is exactly a bf16 value (a model loaded from a bf16
        # checkpoint): widening is exact, so the logits are the fp32 kernel's, from half the bytes
        self.weight_dtype = torch.bfloat16 if _bf16_exact(model) else torch.float32
        lib = (decode_native.load(self.weight_dtype == torch.bfloat16)
               if native is not False and self.top_k <= decode_native.MAX_TOP_K else None)
        if native and lib is None:
            raise RuntimeError("native decode kernels unavailable (no C compiler, or FEP_MOTION_NATIVE_DECODE=0)")
        self.lib = lib
        self.backend = "native" if lib is not None else "torch"
        with torch.no_grad():
            self.embed = model.model.embed_tokens.weight
            self.final_norm = model.model.norm.weight
            # fp32 LM head (MiniMax-M1 §3.2); the native kernel reads nn.Linear's layout as stored
            self.lm_head = (model.lm_head.weight.to(self.weight_dtype).contiguous() if lib
                            else model.lm_head.weight.t().contiguous())
            self.layers = [self._layer(layer) for layer in model.model.layers]
        # runs of consecutive lightning layers go to one native call; a softmax layer is its own segment
        self.segments: list[tuple[bool, int, int]] = []  # (lightning, first layer, count)
        for i, lp in enumerate(self.layers):
            if lp.lightning and self.segments and self.segments[-1][0]:
                _, start, n = self.segments[-1]
                self.segments[-1] = (True, start, n + 1)
            else:
                self.segments.append((lp.lightning, i, 1))
        self.scratch_size = 8 * self.hid + 8 * H * D + cfg.num_local_experts + 4 * self.I + 64

    @staticmethod
    def weights_signature(model: nn.Module) -> tuple[tuple[int, int], ...]:
        """(storage pointer, in-place version) of every parameter: changes whenever any weight does."""
        return tuple((p.data_ptr(), p._version) for p in model.parameters())

    @staticmethod
    def supports(model: MiniMaxForCausalLM) -> bool:
        """The plan covers fp32 weights on CPU (other dtypes and devices take the generic path)."""
        return all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())

    def _layer(self, layer: DecoderLayer) -> _LayerPlan:
        attn, moe = layer.self_attn, layer.block_sparse_moe
        native = self.lib is not None
        decay = attn_norm = w_in = w_out = None
        if layer.lightning:
            attn_norm = attn.norm.weight.contiguous()
            decay = torch.exp(-attn.slope(torch.device("cpu"))).contiguous()  # λ = exp(-slope), docs/architecture.md §6
            if not native:
                w_in = torch.cat([attn.qkv_proj.weight, attn.output_gate.weight]).t().contiguous()
                w_out = attn.out_proj.weight.t().contiguous()
        else:  # softmax attention runs in torch on both backends
            w_in = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).t().contiguous()
            w_out = attn.o_proj.weight.t().contiguous()
        lp = _LayerPlan(
            lightning=layer.lightning, in_norm=layer.input_layernorm.weight.contiguous(),
            post_norm=layer.post_attention_layernorm.weight.contiguous(), w_in=w_in, w_out=w_out,
            attn_norm=attn_norm, decay=decay, gate=None if native else moe.gate.weight.t().contiguous(),
            w13=[] if native else [w.t().contiguous() for w in moe.w13],
            w2=[] if native else [w.t().contiguous() for w in moe.w2],
            attn_alpha=layer.attn_alpha, attn_beta=layer.attn_beta, mlp_alpha=layer.mlp_alpha,
            mlp_beta=layer.mlp_beta)
        if native:
            from llm.decode_native import Layer

            wd = self.weight_dtype
            keep = [moe.gate.weight.to(wd).contiguous(), moe.w13.to(wd).contiguous(), moe.w2.to(wd).contiguous()]
            if layer.lightning:
                keep += [attn.qkv_proj.weight.to(wd).contiguous(), attn.output_gate.weight.to(wd).contiguous(),
                         attn.out_proj.weight.to(wd).contiguous()]
            lp.keep = keep
            ptr = [t.data_ptr() for t in keep] + [0, 0, 0]
            lp.native = Layer(
                in_norm=lp.in_norm.data_ptr(), w_qkv=ptr[3], w_gate=ptr[4],
                attn_norm=attn_norm.data_ptr() if attn_norm is not None else 0, w_out=ptr[5],
                decay=decay.data_ptr() if decay is not None else 0, post_norm=lp.post_norm.data_ptr(),
                router=ptr[0], w13=ptr[1], w2=ptr[2], state=0, H=self.H, D=self.D, hid=self.hid,
                E=moe.num_experts, K=self.top_k, I=self.I, postnorm=int(self.postnorm), eps=self.rms_eps,
                attn_eps=LIGHTNING_NORM_EPS, attn_alpha=layer.attn_alpha, attn_beta=layer.attn_beta,
                mlp_alpha=layer.mlp_alpha, mlp_beta=layer.mlp_beta)
        elif decay is not None:
            lp.decay = decay[:, None, None]
        return lp

    def attach(self, cache: ModelCache) -> DecodeState | None:
        """Check a prefilled batch-1 cache can be decoded here; take ownership of its lightning states (cloned in the
        current grad mode, then updated in place). None when it cannot (then the generic path runs)."""
        if cache.length == 0 or cache.next_pos is None or tuple(cache.next_pos.shape) != (1,):
            return None
        states: list[Tensor | None] = []
        key_start = 0
        for i, lp in enumerate(self.layers):
            if lp.lightning:
                s = cache.lightning.get(i)
                if s is None or tuple(s.shape) != (1, self.H, self.D, self.D) or s.dtype != torch.float32:
                    return None
                cache.lightning[i] = s = s.contiguous().clone()
                states.append(s[0])
            else:
                if i not in cache.keys or cache.keys[i].shape[0] != 1:
                    return None
                states.append(None)
        if self.has_softmax:
            if cache.key_valid is None:
                return None
            valid = cache.key_valid[0, : cache.length]
            key_start = int((~valid).long().cumprod(0).sum())  # leading padding (left-padded prompts)
            if not bool(valid[key_start:].all()):
                return None
        ds = DecodeState(self, states, key_start, torch.is_inference_mode_enabled())
        if self.lib is not None:
            from llm.decode_native import Layer

            arr = (Layer * len(self.layers))()
            for i, lp in enumerate(self.layers):
                ctypes.memmove(ctypes.byref(arr, i * ctypes.sizeof(Layer)), ctypes.byref(lp.native),
                               ctypes.sizeof(Layer))
                if states[i] is not None:
                    arr[i].state = states[i].data_ptr()
            ds.layers = (arr, [ctypes.addressof(arr) + i * ctypes.sizeof(Layer) for i in range(len(self.layers))])
            ds.scratch = torch.empty(self.scratch_size, dtype=torch.float32)
        return ds

    def _softmax_attention(self, i: int, lp: _LayerPlan, x: Tensor, h: Tensor, cache: ModelCache, ds: DecodeState,
                           rope: tuple[Tensor, Tensor]) -> Tensor:
        """GQA softmax attention for the new token with NeoX RoPE, its K/V written into the cache; returns the layer's
        residual output α·res + β·o_proj(attn)."""
        H, KV, D, L = self.H, self.KV, self.D, cache.length
        cos, sin = rope
        heads = torch.mm(h, lp.w_in).view(H + 2 * KV, D)
        qk, v = heads[: H + KV], heads[H + KV:]
        rot = self.rot
        if rot == D:  # x·cos + rotate_half(x)·sin, rotate_half as a roll with the sign carried by sin
            qk = torch.addcmul(qk * cos, qk.roll(D // 2, 1), sin)
        else:
            r = qk[:, :rot]
            qk = torch.cat((torch.addcmul(r * cos, r.roll(rot // 2, 1), sin), qk[:, rot:]), dim=1)
        kbuf, vbuf = cache.keys[i][0], cache.values[i][0]  # [KV, capacity, D]
        kbuf[:, L] = qk[H:]
        vbuf[:, L] = v
        keys, vals = kbuf[:, ds.key_start: L + 1], vbuf[:, ds.key_start: L + 1]
        # GQA: query head h reads KV head h // (H / KV)
        scores = torch.bmm(qk[:H].view(KV, H // KV, D), keys.transpose(1, 2)).mul_(self.scale)
        o = torch.bmm(torch.softmax(scores, dim=-1), vals).view(1, H * D)
        # DeepNorm residual (arXiv:2203.00555 eq. 1): α·LN(x) + β·F(LN(x)); prenorm uses x
        return torch.addmm(h if self.postnorm else x, o, lp.w_out, beta=lp.attn_alpha, alpha=lp.attn_beta)

    def step(self, token: Tensor, cache: ModelCache, ds: DecodeState) -> Tensor:
        """One token [1, 1] → fp32 logits [1, 1, V]; extends the cache in place exactly as the generic forward."""
        x = F.embedding(token.view(1), self.embed)
        L = cache.length
        rope = None
        if self.has_softmax:
            cache.reserve(1)
            cache.key_valid[0, L] = True
            # NeoX RoPE at this row's position (RoFormer eq. 34); sin carries rotate_half's sign for the roll form
            freqs = cache.next_pos.float() * self.inv_freq
            c, s = freqs.cos(), freqs.sin()
            rope = torch.cat((c, c)), torch.cat((-s, s))
        if self.lib is not None:
            logits = self._native_layers(x, cache, ds, rope)
        else:
            logits = self._torch_layers(x, cache, ds, rope)
        cache.length = L + 1
        cache.next_pos = cache.next_pos + 1
        return logits.view(1, 1, -1)

    def _native_layers(self, x: Tensor, cache: ModelCache, ds: DecodeState, rope) -> Tensor:
        lib, (_arr, ptrs), scratch = self.lib, ds.layers, ds.scratch.data_ptr()
        for lightning, start, n in self.segments:
            if lightning:
                lib.lightning_layers(x.data_ptr(), ptrs[start], n, scratch)
            else:
                lp = self.layers[start]
                h = _rms_row(x, lp.in_norm, self.eps, self.inv_h)
                x = self._softmax_attention(start, lp, x, h, cache, ds, rope)
                lib.ffn_block(x.data_ptr(), ptrs[start], scratch)
        logits = torch.empty(1, self.V, dtype=torch.float32)
        lib.lm_head(x.data_ptr(), self.final_norm.data_ptr(), self.rms_eps, self.lm_head.data_ptr(),
                    logits.data_ptr(), self.hid, self.V, scratch)
        return logits

    def _torch_layers(self, x: Tensor, cache: ModelCache, ds: DecodeState, rope) -> Tensor:
        H, D, I = self.H, self.D, self.I
        HD = H * D
        for i, lp in enumerate(self.layers):
            h = _rms_row(x, lp.in_norm, self.eps, self.inv_h)
            if lp.lightning:
                y = torch.mm(h, lp.w_in)
                # MiniMax-01 §2.2.1: silu(q, k, v); S ← λS + kᵀv; o = qS (Lightning Attention-2 eq. 2)
                q, k, v = F.silu(y[:, : 3 * HD]).view(H, 3 * D).split(D, dim=1)
                S = ds.states[i]
                S.mul_(lp.decay).addcmul_(k.unsqueeze(2), v.unsqueeze(1))
                o = _rms_row(torch.bmm(q.unsqueeze(1), S).view(1, HD), lp.attn_norm, self.eps_lightning, self.inv_hd)
                o = torch.sigmoid(y[:, 3 * HD:]).mul_(o)
                # DeepNorm residual (arXiv:2203.00555 eq. 1): α·LN(x) + β·F(LN(x)); prenorm uses x
                x = torch.addmm(h if self.postnorm else x, o, lp.w_out, beta=lp.attn_alpha, alpha=lp.attn_beta)
            else:
                x = self._softmax_attention(i, lp, x, h, cache, ds, rope)
            h = _rms_row(x, lp.post_norm, self.eps, self.inv_h)
            # MoE (MiniMax-01 §2.1): fp32 softmax router → top-k → renormalize; SwiGLU experts on their own weights
            weights, experts = torch.topk(torch.softmax(torch.mm(h, lp.gate), dim=-1), self.top_k, dim=-1)
            weights = (weights / weights.sum(dim=-1, keepdim=True))[0].tolist()
            acc, alpha = (h if self.postnorm else x), lp.mlp_alpha
            for e, w in zip(experts[0].tolist(), weights):
                a, b = torch.mm(h, lp.w13[e]).split(I, dim=1)
                acc = torch.addmm(acc, F.silu(a).mul_(b), lp.w2[e], beta=alpha, alpha=w * lp.mlp_beta)
                alpha = 1.0
            x = acc
        x = _rms_row(x, self.final_norm, self.eps, self.inv_h)
        return torch.mm(x, self.lm_head)


class MiniMaxForCausalLM(nn.Module):
    """Causal LM: `model(input_ids, attention_mask=None, cache=None)` → CausalLMOutput with fp32 logits [B, T, V]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = MiniMaxModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        # Batch-1 single-token steps on an fp32 CPU model take DecodePlan.step (same results up to fp32 rounding);
        # set False to force the generic forward everywhere.
        self.fast_decode = True
        self._decode_plan: DecodePlan | None = None

    def init_weights(self, seed: int) -> None:
        """Random init, normal(0, initializer_range) for matrices and ones for norms, reproducible from `seed`."""
        g = torch.Generator().manual_seed(seed)
        std = self.config.initializer_range
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(("norm.weight", "layernorm.weight")):
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * std)

    def new_cache(self) -> ModelCache:
        """An empty cache; pass it to forward to prefill, then feed one token at a time."""
        return ModelCache()

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        cache: ModelCache | None = None,
        last_only: bool = False,
    ) -> CausalLMOutput:
        """Logits for every position (or only the last with last_only); a given cache is extended in place."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [B, T], got shape {tuple(input_ids.shape)}")
        if cache is not None:
            if (self.fast_decode and input_ids.shape == (1, 1) and attention_mask is None and cache.length > 0
                    and not torch.is_grad_enabled() and input_ids.device.type == "cpu"
                    and not torch.is_autocast_enabled("cpu")):
                ds = cache.fast
                if ds is None or (ds and ds.inference != torch.is_inference_mode_enabled()):
                    ds = cache.fast = self._attach_fast(cache)  # False: this cache stays on the generic path
                if ds:
                    return CausalLMOutput(logits=ds.plan.step(input_ids, cache, ds), cache=cache)
            else:
                cache.fast = None  # the generic path may replace cached tensors: re-attach before the next fast step
        h = self.model(input_ids, attention_mask, cache)
        if last_only:
            h = h[:, -1:]
        # fp32 LM head (MiniMax-M1 §3.2: low-precision heads distort token probabilities), also under autocast
        with torch.autocast(device_type=h.device.type, enabled=False):
            logits = F.linear(h.float(), self.lm_head.weight.float())
        return CausalLMOutput(logits=logits, cache=cache)

    def _attach_fast(self, cache: ModelCache) -> DecodeState | bool:
        """The batch-1 decode state for `cache` (building or rebuilding the DecodePlan if the weights changed), or
        False when this model or cache needs the generic path."""
        plan = self._decode_plan
        if plan is None or plan.signature != DecodePlan.weights_signature(self):
            if not DecodePlan.supports(self):
                return False
            plan = self._decode_plan = DecodePlan(self)
        return plan.attach(cache) or False

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

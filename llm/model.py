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

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llm.config import ModelConfig
from llm.lightning import decay_slopes, lightning_attention, lightning_step

__all__ = ["CausalLMOutput", "MiniMaxForCausalLM", "MiniMaxModel", "ModelCache", "RMSNorm"]

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


@dataclass
class ModelCache:
    """Decoding state: per lightning layer an fp32 [B,H,Dk,Dv] state, per softmax layer a preallocated KV cache.

    `key_valid` [B, capacity] marks real (non-padding) cached positions; `next_pos` [B] is each row's next RoPE position.
    """

    lightning: dict[int, Tensor] = field(default_factory=dict)
    keys: dict[int, Tensor] = field(default_factory=dict)
    values: dict[int, Tensor] = field(default_factory=dict)
    key_valid: Tensor | None = None
    next_pos: Tensor | None = None
    length: int = 0
    capacity: int = 0

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
        """fp32 decay slopes [H] of this layer on `device` (DESIGN §6), unaffected by model.to(dtype)."""
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


class MiniMaxForCausalLM(nn.Module):
    """Causal LM: `model(input_ids, attention_mask=None, cache=None)` → CausalLMOutput with fp32 logits [B, T, V]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = MiniMaxModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

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
        h = self.model(input_ids, attention_mask, cache)
        if last_only:
            h = h[:, -1:]
        # fp32 LM head (MiniMax-M1 §3.2: low-precision heads distort token probabilities), also under autocast
        with torch.autocast(device_type=h.device.type, enabled=False):
            logits = F.linear(h.float(), self.lm_head.weight.float())
        return CausalLMOutput(logits=logits, cache=cache)

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

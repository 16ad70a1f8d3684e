"""The DeiT block of the family: full precision (``block="deit"``, the distillation teacher) or
binarized as Bi-ViT does it (``block="bivit"``).

Bi-ViT (Li et al., "Bi-ViT: Pushing the Limit of Vision Transformer Quantization", AAAI 2024,
arXiv 2305.12354) binarizes a plain DeiT: every linear layer of the blocks, Q, K, V and the
attention probabilities; patch embedding and classifier stay full precision. Its two additions
are a learnable scaling factor in the binary attention (against the vanished gradients of the
binarized self-attention) and a ranking-aware distillation loss (model/distill.py). The released
code (github.com/YanjingLi0202/Bi-ViT, commit c4fff79) does not run as published (it imports
modules that are not in the repository: Binary_plus, lsq_plus, _quan_base_plus); it was read for
intent only. What we take from it, and the choices the paper leaves open, are marked "choice".

Binary block (x: tokens, LN = LayerNorm):
  h = LN1(x); qkv = alpha W_b . sign(h)   (one xnor matmul, N = 3 dim; weights sign(W) scaled
      per row by alpha = mean|W|, no centring, no bias: the release's BiLinearBiReal, which
      ignores the bias it is built with)
  q, k per head through a LayerNorm over the head dim (release: norm_q, norm_k)
  s = sign(q) . sign(k)^T                      (xnor, integers in [-d, d])
  p = softmax(gamma_h * s / sqrt(d))           (gamma_h: the learnable scaling factor, one per
                                                head, init 1; choice: it multiplies the binary
                                                scores before the softmax, i.e. a learnable
                                                temperature)
  a = {0, clip_h} quantization of p            (choice: BiT's round(p / clip) clamped to [0, 1]
                                                times clip, with one learnable clip per head
                                                like the release's per-head attention
                                                quantizer; the mask maps to the AND array mode)
  c = a . sign(v)                              (and-mode: clip_h * (mask . Vb))
  x = x + alpha W_b . sign(c)                  (attention projection, xnor)
  x = x + alpha W_b2 . sign(GELU(alpha W_b1 . sign(LN2(x))))   (FFN: two xnor matmuls)
Choice: the release clips the GELU output to [-10, 10] before the sign; the sign makes that a
no-op (and GELU itself: sign(GELU(y)) = sign(y)), so only the gradient sees the GELU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .distill import record_attention
from .layers import trace_attention_products, trace_xnor_matmul
from .quant import (_clamp_ste, binarize_activation, linear_weight_scale, quantize_attention_probs,
                    sign_pm1)
from .trace import active_trace


class SignLinear(nn.Module):
    """alpha * sign(W) . sign(x): Bi-Real-style binary linear (no centring, no bias, no learnable
    threshold); ApproxSign for the activations, clamp STE for the weights."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.trunc_normal_(self.weight, std=0.02)
        self.op_name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xb = binarize_activation(x)
        w = _clamp_ste(self.weight, linear_weight_scale(self.weight) * sign_pm1(self.weight))
        y = F.linear(xb, w)
        if active_trace() is not None:
            trace_xnor_matmul(self.op_name, xb, sign_pm1(self.weight))
        return y


def _linear(in_features: int, out_features: int, binary: bool) -> nn.Module:
    if binary:
        return SignLinear(in_features, out_features)
    layer = nn.Linear(in_features, out_features)          # DeiT: qkv_bias=True, biases zero
    nn.init.trunc_normal_(layer.weight, std=0.02)
    nn.init.zeros_(layer.bias)
    return layer


class DeiTAttention(nn.Module):
    """Multi-head self-attention of DeiT, full precision or binarized as in Bi-ViT."""

    def __init__(self, dim: int, heads: int, eps: float, binary: bool):
        super().__init__()
        self.heads, self.head_dim, self.binary = heads, dim // heads, binary
        self.qkv = _linear(dim, 3 * dim, binary)
        if binary:
            self.q_norm = nn.LayerNorm(self.head_dim, eps=eps)
            self.k_norm = nn.LayerNorm(self.head_dim, eps=eps)
            self.score_scale = nn.Parameter(torch.ones(heads))      # Bi-ViT's scaling factor
            self.prob_clip = nn.Parameter(torch.full((heads,), 0.05))
        self.proj = _linear(dim, dim, binary)
        self.op_name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if not self.binary:
            logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
            record_attention(self.op_name, logits, margin=0.0)
            context = F.softmax(logits, dim=-1) @ v
        else:
            qb = binarize_activation(self.q_norm(q))
            kb = binarize_activation(self.k_norm(k))
            vb = binarize_activation(v)
            scores = qb @ kb.transpose(-1, -2)
            # ranking values: scores / d (steps of 2 / d); see model/distill.py
            record_attention(self.op_name, scores / self.head_dim, margin=2.0 / self.head_dim)
            scale = self.score_scale.view(1, -1, 1, 1) / math.sqrt(self.head_dim)
            probs = F.softmax(scores * scale, dim=-1)
            probs = torch.stack([quantize_attention_probs(probs[:, h], self.prob_clip[h])
                                 for h in range(self.heads)], dim=1)
            context = probs @ vb
            trace_attention_products(self.op_name, qb, kb, vb, scores, probs)
        return self.proj(context.transpose(1, 2).reshape(b, n, c))


class DeiTBlock(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + FC2(GELU(FC1(LN(x))))."""

    def __init__(self, cfg, stage: int):
        super().__init__()
        dim, ffn, eps, binary = cfg.dims[stage], cfg.ffn_sizes[stage], cfg.norm_eps, cfg.binary
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = DeiTAttention(dim, cfg.heads[stage], eps, binary)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = _linear(dim, ffn, binary)
        self.fc2 = _linear(ffn, dim, binary)

    def forward(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

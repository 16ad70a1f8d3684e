"""BinaryViT (Le & Li, "BinaryViT: Pushing Binary Vision Transformers Towards Convolutional
Models", CVPR 2023 Workshops), written from the paper and the behaviour of the official code
(github.com/Phuoc-Hoan-Le/BinaryViT, transformer/modeling_vit_extra_res_pyramid.py).

Every binary layer computes y = BN(alpha * Wb . sign(x + move)) and gets a real-valued shortcut;
norms are BatchNorms over channels; activations are RPReLU; attention binarizes Q, K, V (no
scale), quantizes the softmax probabilities to {0, clip}; stages are joined by binary 2x2 patch
merges with an AvgPool shortcut; the head is global average pooling, BatchNorm, FP linear.

The same classes build the rest of the model family (model/variants.py): the official plain-ViT
baselines (one stage, optional class token, no stem BatchNorm), full-precision patch merges
(--some-fp) and, with the DeiT block of model/deit.py, Bi-ViT and the full-precision teacher.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BinaryViTConfig
from .deit import DeiTBlock
from .layers import (BinaryLinear, BinaryMergeConv, LayerScale, RPReLU, TokenBatchNorm,
                     avg_pool_channels, avg_pool_planes, planes_to_tokens, tokens_to_planes,
                     trace_attention_products)
from .quant import binarize_activation, quantize_attention_probs


class BinaryAttention(nn.Module):
    """Binary multi-head self-attention with optional spatial reduction of K and V."""

    def __init__(self, dim: int, heads: int, sr_ratio: int, eps: float):
        super().__init__()
        self.heads, self.head_dim, self.sr_ratio = heads, dim // heads, sr_ratio
        self.q = BinaryLinear(dim, dim, eps)
        self.k = BinaryLinear(dim, dim, eps)
        self.v = BinaryLinear(dim, dim, eps)
        if sr_ratio > 1:
            self.sr = BinaryLinear(dim, dim, eps)
            self.sr_act = RPReLU(dim)
        self.q_act, self.k_act, self.v_act = RPReLU(dim), RPReLU(dim), RPReLU(dim)
        # RSign thresholds of the binarized Q, K, V that enter the two attention products.
        self.q_sign_move = nn.Parameter(torch.zeros(dim))
        self.k_sign_move = nn.Parameter(torch.zeros(dim))
        self.v_sign_move = nn.Parameter(torch.zeros(dim))
        self.prob_clip = nn.Parameter(torch.tensor(0.005))
        self.context_norm = TokenBatchNorm(dim, eps=eps)
        self.context_act = RPReLU(dim)
        self.op_name = ""

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        """x: (B, N, C) normalised tokens on a grid x grid raster."""
        q_mix = self.q(x) + x
        kv_in = x
        if self.sr_ratio > 1:
            r = self.sr_ratio
            pooled = planes_to_tokens(avg_pool_planes(tokens_to_planes(x, grid), r, r, 0,
                                                      f"{self.op_name}.sr_pool"))
            kv_in = self.sr_act(self.sr(pooled) + pooled)
        k_mix = self.k(kv_in) + kv_in
        v_mix = self.v(kv_in) + kv_in
        q_mix, k_mix, v_mix = self.q_act(q_mix), self.k_act(k_mix), self.v_act(v_mix)

        qb = self._split_heads(binarize_activation(q_mix + self.q_sign_move))
        kb = self._split_heads(binarize_activation(k_mix + self.k_sign_move))
        vb = self._split_heads(binarize_activation(v_mix + self.v_sign_move))
        scores = torch.matmul(qb, kb.transpose(-1, -2))
        probs = F.softmax(scores / math.sqrt(self.head_dim), dim=-1)
        probs = quantize_attention_probs(probs, self.prob_clip)
        context = torch.matmul(probs, vb)
        trace_attention_products(self.op_name, qb, kb, vb, scores, probs)
        context = context.transpose(1, 2).reshape(x.shape)

        if self.sr_ratio > 1:  # nearest-neighbour upsampling of K, V back to the token grid
            k_mix = self._upsample(k_mix, grid)
            v_mix = self._upsample(v_mix, grid)
        return self.context_act(self.context_norm(context) + q_mix + k_mix + v_mix)

    def _upsample(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        r = self.sr_ratio
        img = tokens_to_planes(x, grid // r)
        return planes_to_tokens(img.repeat_interleave(r, dim=2).repeat_interleave(r, dim=3))


class Block(nn.Module):
    """One BinaryViT block: attention and FFN with binary projections, LayerScales, and the four
    multi-pooling branches (1x3, 3x1, 1x5, 5x1 average pools) added in parallel with the FFN."""

    BRANCHES = {"h3": (3, 1), "w3": (1, 3), "h5": (5, 1), "w5": (1, 5)}  # official add order

    def __init__(self, cfg: BinaryViTConfig, stage: int):
        super().__init__()
        dim, ffn, eps = cfg.dims[stage], cfg.ffn_sizes[stage], cfg.norm_eps
        self.ffn_ratio = ffn // dim
        self.norm1 = TokenBatchNorm(dim, eps=eps)
        self.attn = BinaryAttention(dim, cfg.heads[stage], cfg.sr_ratios[stage], eps)
        self.attn_proj = BinaryLinear(dim, dim, eps)
        self.attn_proj_act = RPReLU(dim)
        self.norm2 = TokenBatchNorm(dim, eps=eps)
        self.fc1 = BinaryLinear(dim, ffn, eps)
        self.fc1_act = RPReLU(ffn)
        self.fc2 = BinaryLinear(ffn, dim, eps)
        self.fc2_act = RPReLU(dim)
        self.attn_scale = LayerScale(dim, 0.1) if cfg.layerscale else nn.Identity()
        self.ffn_scale = LayerScale(dim, 0.1) if cfg.layerscale else nn.Identity()
        self.branch_scales = nn.ModuleDict(
            {name: LayerScale(dim, 0.0) for name in self.BRANCHES} if cfg.pool_branches else {})
        self.op_name = ""

    def forward(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        h = self.norm1(x)
        a = self.attn(h, grid)
        x = self.attn_scale(self.attn_proj_act(self.attn_proj(a) + a)) + x

        h = self.norm2(x)
        f = self.fc1_act(self.fc1(h) + torch.cat([h] * self.ffn_ratio, dim=-1))
        f = self.fc2_act(self.fc2(f) + avg_pool_channels(f, self.ffn_ratio,
                                                         f"{self.op_name}.fc2_shortcut_pool"))
        out = self.ffn_scale(f) + x
        extra = h.shape[1] - grid * grid     # a class token (first) has no place on the grid
        planes = tokens_to_planes(h[:, extra:] if extra else h, grid)
        for name, scale in self.branch_scales.items():
            kh, kw = self.BRANCHES[name]
            pooled = avg_pool_planes(planes, (kh, kw), 1, (kh // 2, kw // 2),
                                     f"{self.op_name}.pool_{name}")
            branch = scale(planes_to_tokens(pooled))
            if extra:   # our choice (the official code cannot run it): no branch term for it
                branch = F.pad(branch, (0, 0, extra, 0))
            out = out + branch
        return out


class PatchMerge(nn.Module):
    """Binary 2x2/stride-2 conv that halves the grid and widens the channels, with an
    AvgPool 2x2 shortcut repeated to the new width, then RPReLU and a position embedding."""

    def __init__(self, in_dim: int, out_dim: int, out_tokens: int, eps: float):
        super().__init__()
        self.norm_in = TokenBatchNorm(in_dim, eps=eps)
        self.conv = BinaryMergeConv(in_dim, out_dim)
        self.norm = TokenBatchNorm(out_dim, eps=eps)
        self.act = RPReLU(out_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, out_tokens, out_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.op_name = ""

    def forward(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        h = tokens_to_planes(self.norm_in(x), grid)
        shortcut = planes_to_tokens(avg_pool_planes(h, 2, 2, 0, f"{self.op_name}.shortcut_pool"))
        y = planes_to_tokens(self.conv(h))
        shortcut = torch.cat([shortcut] * (y.shape[-1] // shortcut.shape[-1]), dim=-1)
        return self.act(self.norm(y) + shortcut) + self.pos_embed


class FPPatchMerge(nn.Module):
    """Full-precision patch merging (official --some-fp, `PatchEmbed` of
    modeling_vit_extra_res_pyramid.py): BatchNorm, float Conv 2x2/stride 2 without bias on the
    float input, BatchNorm, position embedding; no move, RPReLU or shortcut. Host work."""

    def __init__(self, in_dim: int, out_dim: int, out_tokens: int, eps: float):
        super().__init__()
        self.norm_in = TokenBatchNorm(in_dim, eps=eps)
        self.conv = nn.Conv2d(in_dim, out_dim, 2, 2, bias=False)
        self.norm = TokenBatchNorm(out_dim, eps=eps)
        self.pos_embed = nn.Parameter(torch.zeros(1, out_tokens, out_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor, grid: int) -> torch.Tensor:
        y = planes_to_tokens(self.conv(tokens_to_planes(self.norm_in(x), grid)))
        return self.norm(y) + self.pos_embed


class Stem(nn.Module):
    """Full-precision patch embedding: Conv(k=s=patch, bias), BatchNorm (unless
    ``stem_norm`` is false, as in the official plain ViT), optional class token, position
    embedding."""

    def __init__(self, cfg: BinaryViTConfig):
        super().__init__()
        dim = cfg.dims[0]
        self.proj = nn.Conv2d(cfg.in_channels, dim, cfg.patch_size, cfg.patch_size)
        if cfg.stem_norm:
            self.norm = TokenBatchNorm(dim, eps=cfg.norm_eps)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.extra_tokens + cfg.stage_tokens[0], dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if cfg.cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = planes_to_tokens(self.proj(images))
        if hasattr(self, "norm"):
            x = self.norm(x)
        if hasattr(self, "cls_token"):
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos_embed


class Stage(nn.Module):
    """Optional patch merge (every stage but the first) followed by `depth` blocks."""

    def __init__(self, cfg: BinaryViTConfig, stage: int):
        super().__init__()
        if stage > 0:
            merge = FPPatchMerge if cfg.fp_merge else PatchMerge
            self.merge = merge(cfg.dims[stage - 1], cfg.dims[stage], cfg.stage_tokens[stage],
                               cfg.norm_eps)
        block = Block if cfg.block == "binaryvit" else DeiTBlock
        self.blocks = nn.ModuleList(block(cfg, stage) for _ in range(cfg.depths[stage]))


class BinaryViT(nn.Module):
    """The whole network: images (B, in_channels, S, S) -> logits (B, num_classes)."""

    def __init__(self, cfg: BinaryViTConfig):
        super().__init__()
        self.config = cfg
        self.stem = Stem(cfg)
        self.stages = nn.ModuleList(Stage(cfg, s) for s in range(cfg.num_stages))
        if cfg.block == "binaryvit":
            self.norm = TokenBatchNorm(cfg.dims[-1], eps=cfg.norm_eps)
        else:
            self.norm = nn.LayerNorm(cfg.dims[-1], eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.dims[-1], cfg.num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        for name, module in self.named_modules():
            if hasattr(module, "op_name"):
                module.op_name = name

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        expected = (cfg.in_channels, cfg.image_size, cfg.image_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"expected images of shape (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(images.shape)}")
        x = self.stem(images)
        for s, stage in enumerate(self.stages):
            grid = cfg.stage_grids[s]
            if s > 0:
                x = stage.merge(x, cfg.stage_grids[s - 1])
            for block in stage.blocks:
                x = block(x, grid)
        x = self.norm(x)
        if cfg.cls_token:
            return self.head(x[:, 0])
        g = cfg.stage_grids[-1]
        pooled = avg_pool_planes(tokens_to_planes(x, g), g, g, 0, "gap")
        return self.head(pooled.flatten(1))

"""BinaryViT building blocks: norms, RPReLU, LayerScale, binary linear / merge conv, pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .quant import (binarize_activation, binarize_conv_weight, binarize_linear_weight,
                    linear_weight_signs, sign_pm1, to_bits)
from .trace import active_trace


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channel (last) axis of (batch, tokens, channels) activations; the
    official --replace-ln-bn norm. At inference it is a per-channel affine."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(-1, -2)).transpose(-1, -2)


class RPReLU(nn.Module):
    """ReActNet's RPReLU: PReLU(x - shift_in) + shift_out with a per-channel slope."""

    def __init__(self, channels: int):
        super().__init__()
        self.shift_in = nn.Parameter(torch.zeros(channels))
        self.slope = nn.Parameter(torch.full((channels,), 0.25))
        self.shift_out = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x - self.shift_in
        return torch.where(y >= 0, y, self.slope * y) + self.shift_out


class LayerScale(nn.Module):
    """Per-channel affine before a residual add: x * scale + shift."""

    def __init__(self, channels: int, init: float):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(init)))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def trace_xnor_matmul(op_name: str, a: torch.Tensor, w: torch.Tensor) -> None:
    """Record a binary layer's product as an xnor op of the active trace (none: nothing):
    the +-1 activations ``a`` (rows along its last axis, any leading axes) against the +-1
    weight rows ``w`` (out_features, K), with the integer product a . w^T."""
    trace = active_trace()
    if trace is None:
        return
    a = a.reshape(-1, a.shape[-1])
    trace.matmul(op_name, "xnor", to_bits(a), to_bits(w), F.linear(a, w))


class BinaryLinear(nn.Module):
    """norm(alpha * sign(W - rowmean W) . sign(x + move)): RSign, a binary linear (no bias) with
    per-output-row scale, then BatchNorm. The caller adds the real-valued shortcut."""

    def __init__(self, in_features: int, out_features: int, eps: float):
        super().__init__()
        self.move = nn.Parameter(torch.zeros(in_features))
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.trunc_normal_(self.weight, std=0.02)
        self.norm = TokenBatchNorm(out_features, eps=eps)
        self.op_name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xb = binarize_activation(x + self.move)
        y = F.linear(xb, binarize_linear_weight(self.weight))
        if active_trace() is not None:
            trace_xnor_matmul(self.op_name, xb, linear_weight_signs(self.weight))
        return self.norm(y)


class BinaryMergeConv(nn.Module):
    """The patch-merge convolution: sign(x + move) convolved 2x2/stride 2 with alpha * sign(W)
    (alpha per output channel, no centring, no bias)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 2):
        super().__init__()
        self.kernel = kernel
        self.move = nn.Parameter(torch.zeros(in_channels))
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel, kernel))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)   # nn.Conv2d's default init
        self.op_name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, out, H/2, W/2)."""
        xb = binarize_activation(x + self.move.view(1, -1, 1, 1))
        y = F.conv2d(xb, binarize_conv_weight(self.weight), stride=self.kernel)
        if active_trace() is not None:
            # im2col: one row per output pixel (batch-major, row-major), K ordered (c, kh, kw)
            # like weight.reshape(out, -1).
            cols = F.unfold(xb, self.kernel, stride=self.kernel).transpose(1, 2)
            trace_xnor_matmul(self.op_name, cols,
                              sign_pm1(self.weight).reshape(self.weight.shape[0], -1))
        return y


def tokens_to_planes(x: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, N, C) tokens on a grid x grid raster -> (B, C, grid, grid) image."""
    b, n, c = x.shape
    return x.transpose(1, 2).reshape(b, c, grid, grid)


def planes_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C)."""
    b, c = x.shape[:2]
    return x.reshape(b, c, -1).transpose(1, 2)


def avg_pool_planes(x: torch.Tensor, kernel, stride, padding, op_name: str) -> torch.Tensor:
    """AvgPool2d (zero padding counted) of (B, C, H, W), recorded as a pooling op."""
    y = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=True)
    trace = active_trace()
    if trace is not None:
        planes = x.reshape(-1, *x.shape[2:])
        trace.pool(op_name, planes, kernel, stride, padding, y.reshape(-1, *y.shape[2:]))
    return y


def avg_pool_channels(x: torch.Tensor, group: int, op_name: str) -> torch.Tensor:
    """Average of every `group` consecutive channels of (B, N, C) (the FFN output shortcut)."""
    y = F.avg_pool1d(x, group) if group > 1 else x
    trace = active_trace()
    if trace is not None and group > 1:
        planes = x.reshape(-1, 1, x.shape[-1])
        trace.pool(op_name, planes, (1, group), (1, group), (0, 0),
                   y.reshape(-1, 1, y.shape[-1]))
    return y


def trace_attention_products(op_name, qb, kb, vb, scores, probs):
    """Record the two attention products of every image and head: Qb.Kb^T (xnor) and
    mask.Vb (and; the mask is where the quantized probabilities are not 0)."""
    trace = active_trace()
    if trace is None:
        return
    mask = (probs != 0).to(probs.dtype)
    for b in range(qb.shape[0]):
        for h in range(qb.shape[1]):
            tag = f"{op_name}.b{b}.h{h}"
            trace.matmul(f"{tag}.scores", "xnor", to_bits(qb[b, h]), to_bits(kb[b, h]),
                         scores[b, h])
            trace.matmul(f"{tag}.context", "and", to_bits(mask[b, h]),
                         to_bits(vb[b, h].T), mask[b, h] @ vb[b, h])

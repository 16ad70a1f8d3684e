"""Binarizers and their straight-through estimators.

Tie rule (used by the model, the export and the hardware alike): sign(0) = +1. A binary value
is +1 when its argument is >= 0 and -1 otherwise; bit 1 encodes +1. The official code uses
torch.sign, whose sign(0) = 0 cannot be stored in one bit; the two agree everywhere except on
exact zeros.
"""

from __future__ import annotations

import torch


def sign_pm1(x: torch.Tensor) -> torch.Tensor:
    """+1 where x >= 0, -1 elsewhere (the project's tie rule), in x's dtype."""
    return (x >= 0).to(x.dtype) * 2 - 1


def to_bits(x_pm1: torch.Tensor) -> torch.Tensor:
    """+-1 (or 0/1 mask) tensor -> uint8 bits (1 for +1 / 1, 0 for -1 / 0)."""
    return (x_pm1 > 0).to(torch.uint8)


class ApproxSign(torch.autograd.Function):
    """Forward sign_pm1; backward the ApproxSign STE of Bi-Real Net (Liu et al., ECCV'18):
    d/dx = 2 + 2x on [-1, 0], 2 - 2x on (0, 1], 0 elsewhere."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return sign_pm1(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # 2 + 2x on [-1, 0] and 2 - 2x on (0, 1] are both 2 - 2|x|; negative outside [-1, 1].
        return grad * (2 - 2 * x.abs()).clamp_min(0)


def binarize_activation(x: torch.Tensor) -> torch.Tensor:
    """RSign output (+-1) with the ApproxSign gradient; add the learnable `move` before calling."""
    return ApproxSign.apply(x)


class ClampSTE(torch.autograd.Function):
    """Forward: `binary` exactly. Backward: the gradient of clamp(real, -1, 1) w.r.t. `real`
    (1 inside [-1, 1], 0 outside); nothing flows into `binary` (its scale alpha is detached)."""

    @staticmethod
    def forward(ctx, real, binary):
        ctx.save_for_backward(real.abs() <= 1)
        return binary.detach().clone()

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None


def _clamp_ste(real: torch.Tensor, binary: torch.Tensor) -> torch.Tensor:
    return ClampSTE.apply(real, binary)


def linear_weight_scale(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-row alpha = mean |W| of the uncentred weight, shape (out, 1), no gradient."""
    return weight.abs().mean(dim=1, keepdim=True).detach()


def binarize_linear_weight(weight: torch.Tensor) -> torch.Tensor:
    """alpha * sign(W - rowmean(W)) with the clamp STE (ReActNet-style centred sign)."""
    centred = weight - weight.mean(dim=-1, keepdim=True)
    return _clamp_ste(centred, linear_weight_scale(weight) * sign_pm1(centred))


def linear_weight_signs(weight: torch.Tensor) -> torch.Tensor:
    """The +-1 matrix of a binary linear layer (what the hardware stores)."""
    return sign_pm1(weight - weight.mean(dim=-1, keepdim=True))


def conv_weight_scale(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-channel alpha = mean |W| over (in, kh, kw), shape (out, 1, 1, 1), no grad."""
    return weight.abs().mean(dim=(1, 2, 3), keepdim=True).detach()


def binarize_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """alpha * sign(W) (no centring) with the clamp STE, for the patch-merge convolutions."""
    return _clamp_ste(weight, conv_weight_scale(weight) * sign_pm1(weight))


class AttentionProbQuantizer(torch.autograd.Function):
    """Probabilities -> {0, clip}: round(p / clip) clamped to [0, 1], times clip (BiT, Liu et al.
    NeurIPS'22). Backward: straight-through for 0 <= p/clip <= 1; the clip's gradient is
    sum((round(q) - q) * g) inside plus sum(g) above."""

    @staticmethod
    def forward(ctx, p, clip):
        ctx.save_for_backward(p, clip)
        return torch.round(p / clip).clamp(0.0, 1.0) * clip

    @staticmethod
    def backward(ctx, grad):
        p, clip = ctx.saved_tensors
        q = p / clip
        inside = ((q >= 0) & (q <= 1)).to(grad.dtype)
        above = (q > 1).to(grad.dtype)
        grad_clip = ((inside * (q.round() - q) + above) * grad).sum().reshape(clip.shape)
        return inside * grad, grad_clip


def quantize_attention_probs(p: torch.Tensor, clip: torch.Tensor) -> torch.Tensor:
    """Attention probabilities quantized to {0, clip}."""
    return AttentionProbQuantizer.apply(p, clip)

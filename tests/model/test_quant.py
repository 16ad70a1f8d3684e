"""Binarizers: the tie rule, and every straight-through estimator's gradient, against formulas
written out independently here."""

import torch

from model.quant import (binarize_activation, binarize_conv_weight, binarize_linear_weight,
                         quantize_attention_probs, sign_pm1)


def test_sign_tie_rule_zero_is_plus_one():
    x = torch.tensor([-2.0, -1e-30, 0.0, -0.0, 1e-30, 3.0])
    assert sign_pm1(x).tolist() == [-1, -1, 1, 1, 1, 1]


def test_approx_sign_gradient():
    x = torch.tensor([-1.5, -1.0, -0.75, -0.25, 0.0, 0.25, 0.5, 1.0, 1.2], requires_grad=True)
    y = binarize_activation(x)
    assert y.tolist() == [-1, -1, -1, -1, 1, 1, 1, 1, 1]
    y.backward(torch.ones_like(x))
    # Bi-Real ApproxSign: 2 + 2x on [-1, 0], 2 - 2x on (0, 1], 0 outside.
    expected = [0.0, 0.0, 0.5, 1.5, 2.0, 1.5, 1.0, 0.0, 0.0]
    assert torch.allclose(x.grad, torch.tensor(expected))


def test_linear_weight_binarizer_forward_and_clamp_ste():
    w = torch.tensor([[0.5, -0.1, 0.2, 2.6], [-3.0, 0.1, 0.3, 0.2]], requires_grad=True)
    wb = binarize_linear_weight(w)
    centred = w.detach() - w.detach().mean(dim=1, keepdim=True)
    alpha = w.detach().abs().mean(dim=1, keepdim=True)          # of the *uncentred* W
    assert torch.equal(wb.detach(), alpha * torch.where(centred >= 0, 1.0, -1.0))
    g = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    wb.backward(g)
    # d/dW of clamp(W - rowmean W, -1, 1): inside the clamp, g - mean(g_inside); no alpha grad.
    inside = (centred.abs() <= 1).float()
    gi = g * inside
    expected = gi - gi.sum(dim=1, keepdim=True) / w.shape[1]
    assert torch.allclose(w.grad, expected)


def test_conv_weight_binarizer_has_no_centring():
    w = torch.tensor([0.3, 0.1, 0.2, 0.4, -0.5, 0.6, 0.7, -0.8]).reshape(2, 1, 2, 2)
    wb = binarize_conv_weight(w)
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    assert torch.equal(wb, alpha * torch.where(w >= 0, 1.0, -1.0))
    assert (wb[0] > 0).all()     # centring would have made some of row 0 negative


def test_attention_prob_quantizer_forward_and_gradients():
    clip = torch.tensor(0.2, requires_grad=True)
    p = torch.tensor([0.0, 0.09, 0.1, 0.11, 0.2, 0.29, 0.35], requires_grad=True)
    q = quantize_attention_probs(p, clip)
    # round(p / clip) clamped to [0, 1]: 0.1 / 0.2 = 0.5 rounds half-to-even to 0.
    assert torch.equal(q.detach(), torch.tensor([0.0, 0, 0, 1, 1, 1, 1]) * clip.detach())
    g = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    q.backward(g)
    ratio = p.detach() / 0.2
    inside = ((ratio >= 0) & (ratio <= 1)).float()
    assert torch.allclose(p.grad, g * inside)
    expected_clip = ((inside * (ratio.round() - ratio) + (ratio > 1).float()) * g).sum()
    assert torch.allclose(clip.grad, expected_clip)

"""The integer primitives of the integer-only BinaryViT (every op between the binary matmuls and
pools). numpy int64 in, int64 out; nothing here touches a float.

Rounding everywhere: **round half up** (towards +infinity): a right shift by s > 0 computes
floor((v + 2**(s-1)) / 2**s) (an arithmetic shift of v + 2**(s-1)); a shift s <= 0 is a left
shift by -s (exact). Clamping saturates to the signed two's-complement range of ``bits``.
Hardware widths are stated per function; model/INTEGER.md lists every op of the network.
"""

from __future__ import annotations

import numpy as np

#: width of the stored activations (residual stream, norms, pre-activations, RPReLU outputs)
ACT_BITS = 16
#: width of the per-channel multipliers of an affine (signed; fits a 25 x 18 DSP multiplier)
MULT_BITS = 24
#: width of the RPReLU slopes (signed)
SLOPE_BITS = 16
#: the exp table of the attention mask: E[i] = round(EXP_ONE * exp(-2i / sqrt(d)))
EXP_ONE = (1 << 16) - 1


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def clamp_bits(x, bits: int = ACT_BITS) -> np.ndarray:
    """Saturate ``x`` to the signed ``bits``-bit range [-2**(bits-1), 2**(bits-1) - 1]."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(_i64(x), lo, hi)


def round_shift(x, shift) -> np.ndarray:
    """x * 2**-shift rounded half up (shift > 0: (x + 2**(shift-1)) >> shift, arithmetic);
    shift <= 0: x << -shift (exact). ``shift`` is a scalar or broadcasts against x (one per
    channel, last axis). Widths: the caller's accumulator (model/INTEGER.md: 48 bits)."""
    x, s = _i64(x), _i64(shift)
    pos = np.maximum(s, 0)
    half = np.where(pos > 0, np.left_shift(np.int64(1), np.maximum(pos - 1, 0)), 0)
    right = np.right_shift(x + half, pos)
    left = np.left_shift(x, np.maximum(-s, 0))
    return np.where(s > 0, right, left)


def requant(x, mult, shift, bias=0, bits: int = ACT_BITS) -> np.ndarray:
    """One-term affine: clamp_bits(round_shift(x * mult + bias, shift), bits).

    x: int16/int32 values; mult: per-channel signed 24-bit multiplier (broadcast on the last
    axis); bias: per-channel (or per token and channel) integer at the scale of x * mult;
    shift: per-channel 0..30. Accumulator: 48-bit signed."""
    return affine([(x, mult)], bias, shift, bits)


def affine(terms, bias, shift, bits: int = ACT_BITS) -> np.ndarray:
    """Multi-term affine: clamp_bits(round_shift(sum_i x_i * m_i + bias, shift), bits).

    ``terms``: (x_i, m_i) pairs, x_i integer tensors of the same shape (..., C) (int16
    activations, int32 matmul results or pool sums), m_i per-channel signed 24-bit multipliers
    (C,); ``bias``: (C,) or (T, C) integers at the accumulator's scale; ``shift``: (C,) or a
    scalar. One rounding (half up) and one saturation to ``bits``. Accumulator: 48-bit signed
    (the fold bounds every product and bias; see model/INTEGER.md)."""
    acc = _i64(bias)
    for x, m in terms:
        acc = acc + _i64(x) * _i64(m)
    return clamp_bits(round_shift(acc, shift), bits)


def sign_bits(x, move) -> np.ndarray:
    """The RSign: bit = 1 (+1) iff x + move >= 0, else 0 (-1); the tie rule sign(0) = +1.

    x: int16 activation (or a pool window sum); move: per-channel integer threshold
    (= floor(move_real * 2**frac * window), so the compare equals the float one on x's grid).
    Returns uint8 0/1."""
    return ((_i64(x) + _i64(move)) >= 0).astype(np.uint8)


def prelu_wide(x, shift_in, slope, slope_shift) -> np.ndarray:
    """The PReLU part of RPReLU in a wide accumulator: d = x + shift_in; d << slope_shift where
    d >= 0 (exact), d * slope where d < 0. x int16, shift_in per-channel int (scale of x),
    slope per-channel signed 16-bit (value slope * 2**-slope_shift), slope_shift 0..20.
    Result: scale of x times 2**slope_shift, 17 + 16 = 33 bits signed."""
    d = _i64(x) + _i64(shift_in)
    return np.where(d >= 0, np.left_shift(d, _i64(slope_shift)), d * _i64(slope))


def rprelu(x, shift_in, slope, slope_shift, bias, shift, bits: int = ACT_BITS) -> np.ndarray:
    """RPReLU on integers: clamp_bits(round_shift(prelu_wide(x, shift_in, slope, slope_shift)
    + bias, shift), bits). bias is RPReLU's shift_out (plus a position embedding where one
    follows) at the wide scale; shift = frac_in + slope_shift - frac_out. One rounding."""
    return clamp_bits(round_shift(prelu_wide(x, shift_in, slope, slope_shift) + _i64(bias),
                                  shift), bits)


def exp_table(head_dim: int) -> np.ndarray:
    """E[i] = round(EXP_ONE * exp(-2i / sqrt(head_dim))) for i = 0..head_dim: the softmax
    numerator of a score 2i below the row maximum, unsigned 16-bit (E[0] = 65535). Built once
    at fold time (the only float arithmetic, as a constant table)."""
    i = np.arange(head_dim + 1, dtype=np.float64)
    return np.round(EXP_ONE * np.exp(-2.0 * i / np.sqrt(head_dim))).astype(np.int64)


def attention_mask(scores, table, clip_mult: int, clip_shift: int) -> np.ndarray:
    """Kept-probability mask of binary attention without softmax or division.

    scores (..., Tk): Qb.Kb^T, integers with scores = head_dim (mod 2) in [-d, d]. Per row:
    delta_j = max_k scores_k - scores_j (even, 0..2d); e_j = table[delta_j / 2];
    S = sum_j e_j; keep j iff e_j * 2**clip_shift > S * clip_mult, where
    clip_mult = round(clip / 2 * 2**clip_shift) (15-16 significant bits). Equals the float rule
    round(softmax(s / sqrt d)_j / clip) >= 1 (keep iff p_j > clip / 2) up to the table's and the
    clip's rounding. clip_mult <= 0 (clip <= 0) keeps nothing, as the float model does.
    Widths: S < Tk * 2**16; both sides < 2**48. Returns uint8 0/1."""
    s = _i64(scores)
    if clip_mult <= 0:
        return np.zeros(s.shape, dtype=np.uint8)
    delta = s.max(axis=-1, keepdims=True) - s
    if (delta % 2).any():
        raise ValueError("attention scores of one row must all have the same parity")
    e = _i64(table)[delta // 2]
    total = e.sum(axis=-1, keepdims=True)
    return (np.left_shift(e, int(clip_shift)) > total * int(clip_mult)).astype(np.uint8)


def pm1_matmul(a_bits, w_bits, mode: str) -> np.ndarray:
    """The binary matmul on integers: (M, K) x (N, K) bits -> (M, N) int64 sum of a * w, with
    w = 2 * bit - 1 (+-1) and a = 2 * bit - 1 (xnor) or the 0/1 bit itself (and)."""
    a, w = _i64(a_bits), 2 * _i64(w_bits) - 1
    if mode == "xnor":
        a = 2 * a - 1
    elif mode != "and":
        raise ValueError(f"unknown matmul mode {mode!r}")
    return np.dot(a, w.T)


def window_sum(x, kernel, stride, padding) -> np.ndarray:
    """Exact integer window sums of planes x (P, H, W) with zero padding, from a 2-D prefix sum
    (integral image): S[i, j] = sum of the padded plane above and left of (i, j); a window sum
    is S[i+kh, j+kw] - S[i, j+kw] - S[i+kh, j] + S[i, j]. Width: bits + ceil(log2(kh * kw))."""
    x = _i64(x)
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    p, h, w = x.shape
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    s = np.zeros((p, h + 2 * ph + 1, w + 2 * pw + 1), dtype=np.int64)
    s[:, 1:, 1:] = xp.cumsum(axis=1).cumsum(axis=2)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    i = np.arange(ho)[:, None] * sh
    j = np.arange(wo)[None, :] * sw
    return s[:, i + kh, j + kw] - s[:, i, j + kw] - s[:, i + kh, j] + s[:, i, j]


def int_matmul(x, weight) -> np.ndarray:
    """(M, K) x (N, K) integer matmul (the int8 x int8 -> int32 stem and classifier)."""
    return np.dot(_i64(x), _i64(weight).T)

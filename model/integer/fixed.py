"""Fold-time fixed-point helpers: real coefficients -> the integer constants of the primitives in
:mod:`model.integer.ops`. This is the only place (with the calibration) where floats are used;
the integer model that comes out holds integers only."""

from __future__ import annotations

import math

import numpy as np

from .ops import ACT_BITS, MULT_BITS, SLOPE_BITS

#: upper bound of the per-channel shifts of an affine (bounds the accumulator to 48 bits)
MAX_SHIFT = 30
#: bound of the slope shift of an RPReLU
MAX_SLOPE_SHIFT = 20
MULT_LIMIT = (1 << (MULT_BITS - 1)) - 1
SLOPE_LIMIT = (1 << (SLOPE_BITS - 1)) - 1


def frac_bits_for(max_abs: float, bits: int = ACT_BITS, headroom: float = 2.0) -> int:
    """The power-of-two scale of a tensor: the largest F with max_abs * headroom * 2**F <=
    2**(bits-1) - 1 (values are q * 2**-F). A zero tensor gets F = bits."""
    limit = (1 << (bits - 1)) - 1
    if not max_abs > 0:
        return bits
    return int(math.floor(math.log2(limit / (max_abs * headroom))))


def _as_channels(c: np.ndarray | float, channels: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(c, dtype=np.float64), (channels,)).copy()


def fold_affine(terms, bias, frac_out: int, channels: int) -> dict:
    """Integer constants of out = sum_i r_i * x_i + b at scale 2**-frac_out.

    ``terms``: (r_i, frac_i) pairs, r_i the real per-channel coefficient ((C,) or scalar) of an
    input with scale 2**-frac_i; ``bias``: real (C,) or (T, C). Per channel c, the shift S_c is
    the largest in 0..MAX_SHIFT with every |m_i[c]| = |round(r_i[c] * 2**(frac_out - frac_i +
    S_c))| <= 2**15 - 1; bias_int = round(b * 2**(frac_out + S_c)). Returns {"m0", "m1", ...,
    "bias", "shift"} (int64)."""
    coeffs = [(_as_channels(r, channels), f) for r, f in terms]
    shift = np.full(channels, MAX_SHIFT, dtype=np.int64)
    for r, f in coeffs:
        with np.errstate(divide="ignore"):
            cap = np.floor(np.log2(MULT_LIMIT / np.abs(r))) - (frac_out - f)
        cap = np.where(np.isfinite(cap), cap, MAX_SHIFT)
        shift = np.minimum(shift, np.clip(cap, 0, MAX_SHIFT).astype(np.int64))
    out = {}
    for _ in range(4):       # round() may push a multiplier one past the limit: back off
        mults = [np.round(r * np.exp2(frac_out - f + shift)).astype(np.int64) for r, f in coeffs]
        over = np.zeros(channels, dtype=bool)
        for m in mults:
            over |= np.abs(m) > MULT_LIMIT
        if not (over & (shift > 0)).any():
            break
        shift = np.where(over & (shift > 0), shift - 1, shift)
    for i, m in enumerate(mults):
        out[f"m{i}"] = m
    out["bias"] = np.round(np.asarray(bias, dtype=np.float64) * np.exp2(frac_out + shift)
                           ).astype(np.int64)
    out["shift"] = shift
    return out


def fold_rprelu(shift_in, slope, shift_out, frac_in: int, frac_out: int,
                extra_bias=None) -> dict:
    """Integer constants of RPReLU (y = x - shift_in; y >= 0 ? y : slope * y; + shift_out
    [+ extra_bias, e.g. a position embedding (T, C)]) from scale 2**-frac_in to 2**-frac_out:
    shift_in = round(-shift_in * 2**frac_in); slope = round(slope * 2**SL) with SL the largest
    in 0..MAX_SLOPE_SHIFT keeping |slope| <= 2**15 - 1; shift = frac_in + SL - frac_out;
    bias = round((shift_out + extra) * 2**(frac_out + shift))."""
    slope = np.asarray(slope, dtype=np.float64)
    top = float(np.abs(slope).max(initial=0.0))
    sl = MAX_SLOPE_SHIFT if top == 0 else int(min(MAX_SLOPE_SHIFT,
                                                  math.floor(math.log2(SLOPE_LIMIT / top))))
    sl = max(sl, 0)
    shift = frac_in + sl - frac_out
    real_bias = np.asarray(shift_out, dtype=np.float64)
    if extra_bias is not None:
        real_bias = real_bias + np.asarray(extra_bias, dtype=np.float64)
    return {"shift_in": np.round(-np.asarray(shift_in, dtype=np.float64) * 2.0 ** frac_in
                                 ).astype(np.int64),
            "slope": np.round(slope * 2.0 ** sl).astype(np.int64),
            "slope_shift": np.int64(sl), "shift": np.int64(shift),
            "bias": np.round(real_bias * 2.0 ** (frac_out + shift)).astype(np.int64)}


def fold_move(move, frac: int, window: int = 1) -> np.ndarray:
    """Threshold of sign(x + move) on integers q = x * 2**frac * window (a pool sum has
    window > 1): floor(move * 2**frac * window), so q + move_int >= 0 iff q >= -move * 2**frac
    * window exactly."""
    return np.floor(np.asarray(move, dtype=np.float64) * 2.0 ** frac * window).astype(np.int64)


def fold_clip(clip: float) -> tuple[int, int]:
    """(clip_mult, clip_shift) of the attention mask: clip / 2 = clip_mult * 2**-clip_shift with
    clip_mult in [2**14, 2**15] (15 significant bits); (0, 0) for clip <= 0 (keep nothing)."""
    half = float(clip) / 2
    if not half > 0:
        return 0, 0
    shift = 14 - math.floor(math.log2(half))
    return int(round(half * 2.0 ** shift)), int(shift)


def quantize_weights_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-row symmetric int8 weights: scale_r = max|w_r| / 127 (1 for an all-zero row),
    w_int = round(w / scale_r) in [-127, 127]. Returns (w_int int8, scale float64)."""
    w = np.asarray(w, dtype=np.float64)
    top = np.abs(w).max(axis=1)
    scale = np.where(top > 0, top / 127.0, 1.0)
    return np.round(w / scale[:, None]).astype(np.int8), scale

"""The integer primitives of the integer-only BinaryViT (model/integer/ops.py) and the fold-time
helpers, against hand-computed values: rounding (half up, ties), clamps, negative shifts, the
RSign tie rule, RPReLU, the attention mask rule and window sums."""

import numpy as np
import pytest
import torch

from model.integer import ops
from model.integer.fixed import fold_affine, fold_clip, fold_move, fold_rprelu, frac_bits_for
from model.quant import quantize_attention_probs


@pytest.mark.parametrize("x, shift, want", [
    (5, 1, 3), (-5, 1, -2),          # ties 2.5 -> 3, -2.5 -> -2: half up (towards +inf)
    (7, 2, 2), (-6, 2, -1), (-7, 2, -2), (6, 2, 2),
    (3, 0, 3), (3, -2, 12), (-3, -1, -6),   # shift <= 0: exact left shift
    (2 ** 40 + 2 ** 19, 20, 2 ** 20 + 1),
])
def test_round_shift(x, shift, want):
    assert int(ops.round_shift(x, shift)) == want


def test_round_shift_per_channel():
    got = ops.round_shift(np.array([[10, 10, 10, 10]]), np.array([0, 1, 2, -1]))
    assert got.tolist() == [[10, 5, 3, 20]]          # 10/4 = 2.5 -> 3


def test_requant_and_clamps():
    assert int(ops.requant(100, 3, 4, bias=8)) == 19          # (300 + 8 + 8) >> 4 = 316 >> 4
    assert int(ops.requant(40000, 1, 0)) == 32767
    assert int(ops.requant(-40000, 1, 0)) == -32768
    assert int(ops.requant(200, 1, 0, bits=8)) == 127
    assert int(ops.requant(-129, 1, 0, bits=8)) == -128
    assert int(ops.requant(-1, 1, 1)) == 0                    # -0.5 -> 0 (half up)


def test_affine_two_terms_one_rounding():
    # 3 * 5 + 4 * (-2) + 1 = 8; 8 / 2**4 = 0.5 -> 1
    assert int(ops.affine([(3, 5), (4, -2)], 1, 4)) == 1
    x = np.array([[1, 2], [3, 4]])
    got = ops.affine([(x, np.array([2, 3])), (x, np.array([1, -1]))], np.array([0, 2]), 1)
    assert got.tolist() == [[2, 3], [5, 5]]      # [3, 6]/2 -> 2, 3 (1.5 -> 2, 3); [9, 10]/2


def test_sign_tie_rule():
    assert ops.sign_bits(np.array([-3, -2, -1, 0, 5]), 2).tolist() == [0, 1, 1, 1, 1]
    assert ops.sign_bits(np.array([0]), 0).tolist() == [1]        # sign(0) = +1


def test_fold_move_equals_float_compare():
    for frac, window in ((0, 1), (3, 1), (5, 4)):
        for move in (0.3, -0.3, 0.0, 1.25, -2.0, 1e-9):
            mi = int(fold_move(move, frac, window))
            for q in range(-200, 201):
                real = q / (2.0 ** frac * window)
                assert (q + mi >= 0) == (real + move >= 0), (frac, window, move, q)


def test_rprelu_hand_values():
    # slope 0.25 = 64 / 2**8; negative: d = -10 + 2 = -8 -> -8 * 64 = -512 -> /2**8 = -2
    assert int(ops.rprelu(-10, 2, 64, 8, 0, 8)) == -2
    # positive: d = 12 -> 12 << 8 = 3072; + 128 = 3200 -> 12.5 -> 13 (half up)
    assert int(ops.rprelu(10, 2, 64, 8, 128, 8)) == 13
    # d = 0 takes the positive branch
    assert int(ops.rprelu(-2, 2, 64, 8, 0, 8)) == 0
    assert int(ops.rprelu(30000, 0, 64, 8, 0, 7)) == 32767      # clamp


def test_fold_rprelu_matches_float():
    rng = np.random.default_rng(0)
    c = 6
    s_in, slope, s_out = rng.normal(0, 0.5, c), rng.uniform(-0.5, 1.5, c), rng.normal(0, 0.5, c)
    fi, fo = 10, 9
    k = fold_rprelu(s_in, slope, s_out, fi, fo)
    q = rng.integers(-3000, 3000, (50, c))
    got = ops.rprelu(q, k["shift_in"], k["slope"], k["slope_shift"], k["bias"], k["shift"])
    y = q / 2.0 ** fi - s_in
    want = np.where(y >= 0, y, slope * y) + s_out
    assert np.abs(got / 2.0 ** fo - want).max() <= 2.0 ** -fo        # within one output LSB


def test_fold_affine_matches_float():
    rng = np.random.default_rng(1)
    c = 5
    r0, r1, b = rng.normal(0, 0.3, c), rng.normal(0, 1, c), rng.normal(0, 1, c)
    k = fold_affine([(r0, 0), (r1, 11)], b, 10, c)
    assert max(np.abs(k["m0"]).max(), np.abs(k["m1"]).max()) <= 2 ** 23 - 1
    acc, x = rng.integers(-64, 65, (40, c)), rng.integers(-4000, 4000, (40, c))
    got = ops.affine([(acc, k["m0"]), (x, k["m1"])], k["bias"], k["shift"]) / 2.0 ** 10
    want = r0 * acc + r1 * x / 2.0 ** 11 + b
    assert np.abs(got - want).max() <= 1.01 * 2.0 ** -10


def test_frac_bits_for():
    assert frac_bits_for(1.0, 16, 1.0) == 14          # 2**14 <= 32767 < 2**15
    assert frac_bits_for(1.0, 16, 2.0) == 13
    assert frac_bits_for(4.63, 8, 1.0) == 4           # 4.63 * 16 = 74 <= 127
    assert frac_bits_for(0.0, 16) == 16


def test_exp_table():
    t = ops.exp_table(4)
    assert t.tolist() == [65535, 24109, 8869, 3263, 1200]     # round(65535 * e**-i)


def test_attention_mask_hand_row():
    table = ops.exp_table(4)
    mult, shift = fold_clip(0.4)
    assert (mult, shift) == (26214, 17)                       # 0.2 = 26214 * 2**-17
    # row [4, 2, 0]: e = [65535, 24109, 8869], S = 98513; keep iff e > 0.2 * S = 19702.6
    assert ops.attention_mask(np.array([[4, 2, 0]]), table, mult, shift).tolist() == [[1, 1, 0]]
    # the float rule on the same row: softmax([4, 2, 0] / 2) / 0.4 = [1.66, 0.61, 0.22]
    p = torch.softmax(torch.tensor([[4.0, 2.0, 0.0]]) / 2, -1)
    assert (quantize_attention_probs(p, torch.tensor(0.4)) != 0).int().tolist() == [[1, 1, 0]]
    assert ops.attention_mask(np.array([[4, 2, 0]]), table, 0, 0).tolist() == [[0, 0, 0]]
    with pytest.raises(ValueError, match="parity"):
        ops.attention_mask(np.array([[4, 1]]), table, mult, shift)


def test_attention_mask_equals_float_rule_on_random_rows():
    rng = np.random.default_rng(2)
    d = 16
    table = ops.exp_table(d)
    for clip in (0.005, 0.03, 0.2):
        mult, shift = fold_clip(clip)
        scores = 2 * rng.integers(0, d + 1, (400, 49)) - d
        p = torch.softmax(torch.from_numpy(scores).double() / d ** 0.5, -1)
        want = (quantize_attention_probs(p, torch.tensor(clip, dtype=torch.float64)) != 0).numpy()
        got = ops.attention_mask(scores, table, mult, shift)
        assert (got != want).mean() < 1e-3, clip


def test_window_sum_hand_and_against_hw():
    from hw.ops import window_sums

    x = np.array([[[1, 2], [3, 4]]])
    assert ops.window_sum(x, (2, 2), (1, 1), (1, 1)).tolist() == [[[1, 3, 2], [4, 10, 6],
                                                                    [3, 7, 4]]]
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, (3, 7, 6))
    for k, s, p in (((3, 1), (1, 1), (1, 0)), ((1, 5), (1, 1), (0, 2)), ((2, 2), (2, 2), (0, 0)),
                    ((7, 6), (7, 6), (0, 0))):
        assert np.array_equal(ops.window_sum(x, k, s, p), window_sums(x, k, s, p))


def test_pm1_matmul():
    a, w = np.array([[1, 0, 1]]), np.array([[1, 1, 0]])
    assert ops.pm1_matmul(a, w, "xnor").tolist() == [[-1]]     # (1, -1, 1).(1, 1, -1)
    assert ops.pm1_matmul(a, w, "and").tolist() == [[0]]       # (1, 0, 1).(1, 1, -1)
    with pytest.raises(ValueError):
        ops.pm1_matmul(a, w, "or")

"""Data beats of a matmul job (hw/rtl/formats.py) against a bit-by-bit reference."""

import numpy as np
import pytest

from hw.config import ArrayConfig, ceil_div
from hw.ops import MatmulOp
from hw.rtl.formats import matmul_words


def reference_beats(bits: np.ndarray, simd: int, g: int) -> list[int]:
    """Beat k of the group of rows g*i .. g*i+g-1: bit b of word k of its row j at bit
    j*simd + b; bits past K and rows past the last are 0."""
    rows, k = bits.shape
    beats = []
    for first in range(0, rows, g):
        for word in range(ceil_div(k, simd)):
            beat = 0
            for j in range(g):
                for b in range(simd):
                    col = word * simd + b
                    if first + j < rows and col < k and bits[first + j, col]:
                        beat |= 1 << (j * simd + b)
            beats.append(beat)
    return beats


@pytest.mark.parametrize("rows, cols, g, m, n, k", [
    (4, 4, 1, 3, 5, 20), (4, 4, 2, 3, 5, 20), (4, 4, 4, 7, 9, 33), (2, 4, 2, 1, 1, 8),
    (8, 8, 8, 9, 17, 64)])
def test_matmul_beats_group_g_rows_per_word(rows, cols, g, m, n, k):
    cfg = ArrayConfig(rows=rows, cols=cols, simd=16, load_rows=g)
    rng = np.random.default_rng(m * n * k)
    job = MatmulOp.from_bits("x", "xnor", rng.integers(0, 2, (m, k)), rng.integers(0, 2, (n, k)))
    want = reference_beats(job.w_bits, 16, g) + reference_beats(job.a_bits, 16, g)
    assert matmul_words(cfg, job) == want
    assert len(want) == (ceil_div(n, g) + ceil_div(m, g)) * ceil_div(k, 16)


def test_random_padding_stays_out_of_the_rows_and_words():
    """With a padding generator, only bits the hardware ignores differ: past K in a word, in
    the slots of rows past N or M of a last group, above G words."""
    cfg = ArrayConfig(rows=4, cols=4, simd=16, load_rows=4, pool_bits=2)
    rng = np.random.default_rng(1)
    job = MatmulOp.from_bits("x", "and", rng.integers(0, 2, (5, 21)), rng.integers(0, 2, (6, 21)))
    clean = matmul_words(cfg, job)
    padded = matmul_words(cfg, job, np.random.default_rng(7))
    assert clean != padded
    # W: 6 rows = groups of 4 and 2, A: 5 rows = 4 and 1; K = 21: 2 words (16 and 5 bits)
    assert len(clean) == len(padded) == 8
    for i, (c, p) in enumerate(zip(clean, padded)):
        group_rows = 6 if i < 4 else 5
        word = i % 2
        first = (i % 4) // 2 * 4
        care = 0
        for j in range(4):
            if first + j < group_rows:
                care |= ((1 << (16 if word == 0 else 5)) - 1) << (16 * j)
        assert c & care == p & care and c & ~care == 0, i

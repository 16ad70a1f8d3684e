"""The cycle model's tile spacing (hw.cost.cycles.tile_gaps, matmul_cycles) against a direct
greedy simulation of the tile reader's two rules, for 2 to 6 hold banks."""

import random

import numpy as np
import pytest

from hw.config import ArrayConfig, ceil_div, drain_beats
from hw.cost.cycles import matmul_cycles, matmul_terms, tile_gaps


def greedy(count, window, period, lead, bank):
    """The gaps one by one: d_j = max(P, Q_j - (the n - 1 gaps before))."""
    n = len(window) + 1
    hist, gaps = list(window), []
    for j in range(count):
        q = lead[j] if j < len(lead) else bank
        d = max(period, q - sum(hist[len(hist) - (n - 1):]))
        hist.append(d)
        gaps.append(d)
    return sum(gaps), hist[len(hist) - (n - 1):]


def test_tile_gaps_equals_the_greedy_rule():
    rng = random.Random(7)
    for _ in range(5000):
        n = rng.randint(2, 6)
        p, q = rng.randint(1, 12), rng.randint(1, 70)
        window = [rng.randint(p, p + 40) for _ in range(n - 1)]
        lead = [rng.randint(1, 70) for _ in range(rng.choice([0, n - 1]))]
        count = rng.randint(0, 3 * n + 20)
        total, last = tile_gaps(count, window, p, q, lead)
        assert (int(total), [int(v) for v in last]) == greedy(count, window, p, lead, q), \
            (n, p, q, window, lead, count)


def test_tile_gaps_is_elementwise():
    rng = np.random.default_rng(3)
    p = rng.integers(1, 9, 200)
    q = rng.integers(1, 60, 200)
    count = rng.integers(0, 40, 200)
    window = [p + rng.integers(0, 20, 200) for _ in range(2)]
    total, last = tile_gaps(count, window, p, q, lead=[q + 3, q + 1])
    for i in range(200):
        one = tile_gaps(int(count[i]), [int(w[i]) for w in window], int(p[i]), int(q[i]),
                        lead=[int(q[i]) + 3, int(q[i]) + 1])
        assert int(total[i]) == int(one[0]) and [int(v[i]) for v in last] == \
            [int(v) for v in one[1]]


def schedule_cycles(cfg: ArrayConfig, m: int, n: int, k: int, overlap: bool = True,
                    ends_out: list | None = None) -> int:
    """Matmul cycles from the tile reader's rules applied tile by tile: the last read of tile
    i + 1 >= that of tile i + tile_period(m_i), of tile i + n >= that of tile i +
    bank_period(m_i) (n = hold_banks), and the first tile of tile row t no earlier than its A
    rows allow: W (N rows) then A load one beat per cycle, and tile row t waits for A rows up
    to min(M, (t + 1) R) when N > (R - 1) C, else for all M (its first read load_to_read
    cycles after their last beat). ``overlap=False``: every tile row waits for all of A.
    ``ends_out``: a list that receives every tile's last read."""
    kw = ceil_div(k, cfg.simd)
    tm, tn = ceil_div(m, cfg.rows), ceil_div(n, cfg.cols)
    rows = [cfg.rows] * (tn * (tm - 1)) + [m - (tm - 1) * cfg.rows] * tn
    per_row = overlap and n > (cfg.rows - 1) * cfg.cols

    def ready(i):
        """Earliest last read of tile i if it starts a tile row (else 0)."""
        if i % tn:
            return 0
        loaded = min(m, (i // tn + 1) * cfg.rows) if per_row else m
        return (n + loaded) * kw + cfg.load_to_read - 1 + kw

    ends = [ready(0)]
    for i in range(1, len(rows)):
        t = max(ends[-1] + cfg.tile_period(rows[i - 1], kw), ready(i))
        if i >= cfg.hold_banks:
            j = i - cfg.hold_banks
            t = max(t, ends[j] + cfg.bank_period(rows[j]))
        ends.append(t)
    if ends_out is not None:
        ends_out.extend(ends)
    return (ends[-1] + cfg.tile_flush + drain_beats(rows[-1], cfg.drain_rows_eff) - 1
            + cfg.result_latency + cfg.job_start_cycles)


@pytest.mark.parametrize("banks", [2, 3, 4, 5])
def test_matmul_cycles_equal_the_tile_by_tile_schedule(banks):
    rng = random.Random(banks)
    for _ in range(300):
        cfg = ArrayConfig(rows=rng.randint(1, 8), cols=rng.randint(1, 8),
                          simd=rng.choice([8, 16, 64]), drain_rows=rng.randint(1, 4),
                          hold_banks=banks)
        m, n, k = rng.randint(1, 60), rng.randint(1, 60), rng.randint(1, 200)
        assert matmul_cycles(cfg, m, n, k) == schedule_cycles(cfg, m, n, k), (cfg, m, n, k)


def test_matmul_terms_from_the_tile_by_tile_schedule():
    """Each term against the schedule: reads = tiles * KW, the loads before the first tile, the
    gaps beyond KW between the first and the last tile's last reads, the rest fixed."""
    rng = random.Random(11)
    for _ in range(400):
        cfg = ArrayConfig(rows=rng.randint(1, 8), cols=rng.randint(1, 8),
                          simd=rng.choice([8, 16, 64]), drain_rows=rng.randint(1, 4),
                          hold_banks=rng.randint(2, 5))
        m, n, k = rng.randint(1, 60), rng.randint(1, 60), rng.randint(1, 200)
        ends = []
        total = schedule_cycles(cfg, m, n, k, ends_out=ends)
        kw = ceil_div(k, cfg.simd)
        first = min(m, cfg.rows) if n > (cfg.rows - 1) * cfg.cols else m
        t = matmul_terms(cfg, m, n, k)
        assert t["reads"] == len(ends) * kw
        assert (t["w_load"], t["a_load"]) == (n * kw, first * kw)
        assert t["spacing"] == ends[-1] - ends[0] - (len(ends) - 1) * kw >= 0
        assert sum(t.values()) == total, (cfg, m, n, k)


def test_load_overlaps_the_tiles_only_with_r_tile_columns():
    """With N > (R - 1) C the rows past the first tile row load while tiles run: the job is
    (M - R) KW cycles shorter than if every tile waited for all of A; with fewer tile columns
    it is not."""
    cfg = ArrayConfig(rows=4, cols=4, simd=32)
    m, k = 64, 256                              # KW = 8
    for n, saved in ((16, (64 - 4) * 8), (13, (64 - 4) * 8), (12, 0), (5, 0)):
        full = schedule_cycles(cfg, m, n, k, overlap=False)
        assert full - matmul_cycles(cfg, m, n, k) == saved, n


def test_more_banks_never_slow_a_matmul_and_speed_up_small_k():
    cfg = ArrayConfig(rows=8, cols=8, simd=64, drain_rows=2)
    base = matmul_cycles(cfg, 197, 384, 64)
    faster = [matmul_cycles(ArrayConfig(rows=8, cols=8, simd=64, drain_rows=2, hold_banks=b),
                            197, 384, 64) for b in (3, 4)]
    assert base > faster[0] > faster[1]

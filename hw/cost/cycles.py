"""Analytical cycle count of a job on an :class:`ArrayConfig` (no stalls: input always valid,
output always ready). Equal to what the RTL takes, cycle for cycle, from the first accepted
input beat (the command) to the last accepted result beat, both counted
(tests/sim/test_cycles.py checks it in simulation).

Matmul (M x K activations, N x K weights, KW = ceil(K/simd), Tm = ceil(M/R), Tn = ceil(N/C),
m_l = M - (Tm - 1) * R rows in the last tile row, P(m) = max(KW, R + C + m - 2)):

    cycles = (M + N) * KW                          load, one data beat per cycle
           + KW                                    reads of the first tile
           + Tn * (Tm - 1) * P(R) + (Tn - 1) * P(m_l)   last read to last read of later tiles
           + tile_flush + m_l - 1                  the last tile's flush and drain
           + result_latency + job_start_cycles     result registers and FIFO; command beat, setup (2)

    tile_flush = mm_read_latency + R + C + pe_latency - 1, pe_latency = popcount_latency(simd) + 2

Tiles stream back to back through the array: a tile's sums are captured into per-PE hold
registers and drained (one beat per row) while the next tile accumulates; P(m) is the spacing
that keeps the next tile's first capture behind the last drain shift.

Pool (P x H x W, kernel kh x kw, stride sh x sw, padding ph x pw, Ho x Wo outputs; the pool
unit takes L = pool_lanes = C planes per position, one position per data beat; it walks the rows and columns up to the last window's end, at least MIN =
pool_min_row_positions positions per row, except after the job's last output):

    Xn = (Wo - 1) * sw - pw + kw      columns walked up to the last window's end
    Yn = (Ho - 1) * sh - ph + kh      rows walked
    Xt = max(Xn, MIN)                 positions per row
    G  = ceil(P / L)                  plane groups
    positions = G * Yn * Xt - (Xt - Xn)
    cycles = positions + job_start_cycles + pool_start_cycles + pool_latency + result_latency

(job_start_cycles = 2: the command beat and the setup cycle, which starts the pool unit;
pool_start_cycles = 1: the pool unit latches its derived values)

The latencies (tile_flush, pool_latency, result_latency and what they are made of) are
:class:`ArrayConfig` properties, each computed from the register counts that the RTL module
building the structure exports (``hw/rtl``: ``Popcount``, ``PipelinedMemory``, ``PE``,
``SystolicArray``, ``PoolUnit``, ``BinaryCore``); tests/hw/rtl measures each one in simulation.
"""

from __future__ import annotations

import numpy as np

from ..config import ArrayConfig, ceil_div
from ..ops import pool_extent  # the one formula of the rows and columns walked


def matmul_cycles(cfg: ArrayConfig, m: int, n: int, k: int) -> int:
    """Cycles of an M x N x K matmul job (either mode: the timing does not depend on it)."""
    for what, v in (("M", m), ("N", n), ("K", k)):
        if v < 1:
            raise ValueError(f"{what} must be >= 1, got {v}")
    kw = ceil_div(k, cfg.simd)
    tm, tn = ceil_div(m, cfg.rows), ceil_div(n, cfg.cols)
    m_l = m - (tm - 1) * cfg.rows
    spacing = (tn * (tm - 1) * cfg.tile_period(cfg.rows, kw)
               + (tn - 1) * cfg.tile_period(m_l, kw))
    return ((m + n) * kw + kw + spacing + cfg.tile_flush + m_l - 1
            + cfg.result_latency + cfg.job_start_cycles)


def pool_cycles(cfg: ArrayConfig, planes: int, h: int, w: int, kernel, stride,
                padding=(0, 0)) -> int:
    """Cycles of a pool job over (planes, h, w) inputs (elementwise on numpy arrays of
    config values: the design-space sweep passes a grid)."""
    yn, xn = pool_extent(h, w, kernel, stride, padding)
    xt = np.maximum(xn, cfg.pool_min_row_positions)
    groups = -(-planes // cfg.pool_lanes)
    positions = groups * yn * xt - (xt - xn)
    cycles = (positions + cfg.job_start_cycles + cfg.pool_start_cycles + cfg.pool_latency
              + cfg.result_latency)
    return cycles if isinstance(cycles, np.ndarray) else int(cycles)

"""Analytical cycle count of a job on an :class:`ArrayConfig` (no stalls: input always valid,
output always ready). Equal to what the RTL takes, cycle for cycle, from the first accepted
input beat (the command) to the last accepted result beat, both counted
(tests/sim/test_cycles.py checks it in simulation).

Matmul (M x K activations, N x K weights, KW = ceil(K/simd), Tm = ceil(M/R), Tn = ceil(N/C),
m_l = M - (Tm - 1) * R rows in the last tile row, D = drain_rows_eff result rows per beat,
b(m) = ceil(m/D) beats of a tile of m rows):

    cycles = (M + N) * KW                          load, one data beat per cycle
           + KW                                    reads of the first tile
           + sum of the gaps d_i                   last read to last read of later tiles
           + tile_flush + b(m_l) - 1               the last tile's flush and drain
           + result_latency + job_start_cycles     result registers and FIFO; command beat, setup (2)

    tile_flush = mm_read_latency + R + C + pe_latency - 1, pe_latency = popcount_latency(simd) + 2

Tiles stream back to back through the array and are captured into two hold banks in turn
(tile i into bank i mod 2), each drained (b(m) beats, one per cycle) while later tiles
accumulate. The tile reader starts a tile as soon as two rules allow (:func:`tile_gaps`):

    d_i = t_{i+1} - t_i = max(P(m_i), Q(m_{i-1}) - d_{i-1})     (d_0 = P(m_0))
    P(m) = max(KW, b(m))                 tile_period: KW reads; one drain at a time
    Q(m) = R + C - 2 + b(m)              bank_period: the tile after next (same bank) has its
                                         PE (0, 0) capture, R + C - 2 cycles before its drain
                                         could start, no earlier than this tile's last shift

over the Tn * (Tm - 1) tiles of R rows, then the Tn tiles of m_l rows. In steady state a tile
costs max(KW, b(m), Q(m) / 2) cycles.

Pool (P x H x W, kernel kh x kw, stride sh x sw, padding ph x pw, Ho x Wo outputs; the pool
unit takes L = pool_lanes_eff planes per position (``pool_lanes``, C by default), one position
per data beat; it walks the rows and columns up to the last window's end, at least MIN =
pool_min_row_positions positions per row, except after the job's last output):

    Xn = (Wo - 1) * sw - pw + kw      columns walked up to the last window's end
    Yn = (Ho - 1) * sh - ph + kh      rows walked
    Xt = max(Xn, MIN)                 positions per row
    G  = ceil(P / L)                  plane groups
    positions = G * Yn * Xt - (Xt - Xn)
    cycles = positions + job_start_cycles + pool_start_cycles + pool_latency + result_latency

(job_start_cycles = 2: the command beat and the setup cycle, which starts the pool unit;
pool_start_cycles = 3: the pool unit derives its job values in two register stages, then loads its sequencer)

The latencies (tile_flush, capture skew, pool_latency, result_latency and what they are made
of) are :class:`ArrayConfig` properties, each computed from the register counts that the RTL
module building the structure exports (``hw/rtl``: ``Popcount``, ``PipelinedMemory``, ``PE``,
``SystolicArray``, ``PoolUnit``, ``BinaryCore``); tests/hw/rtl measures each one in simulation.
Every formula here works elementwise on numpy arrays too (:class:`hw.cost.dse.ConfigGrid`).
"""

from __future__ import annotations

import numpy as np

from ..config import ArrayConfig, ceil_div, drain_beats
from ..ops import pool_extent  # the one formula of the rows and columns walked


def tile_gaps(count, first, period, bank):
    """(sum, last) of ``count`` >= 0 consecutive gaps between tiles' last reads whose source
    tiles all have the same tile period ``period`` (P) and bank period ``bank`` (Q), the first
    gap being ``first`` (>= P): the greedy rule d_{i+1} = max(P, Q - d_i). After the first gap
    the gaps alternate u = max(P, Q - first), v = max(P, Q - u) (then u again), so the sum is
    first + floor((count - 1) / 2) * (u + v) + u if count - 1 is odd. ``last`` is the last gap
    (``first`` when ``count`` <= 1; meaningless when ``count`` is 0). Elementwise on arrays."""
    u = np.maximum(period, bank - first)
    v = np.maximum(period, bank - u)
    rest = np.maximum(count - 1, 0)
    total = np.where(count > 0, first + rest // 2 * (u + v) + rest % 2 * u, 0)
    last = np.where(rest == 0, first, np.where(rest % 2 == 1, u, v))
    return total, last


def matmul_cycles(cfg: ArrayConfig, m: int, n: int, k: int) -> int:
    """Cycles of an M x N x K matmul job (either mode: the timing does not depend on it)."""
    for what, v in (("M", m), ("N", n), ("K", k)):
        if v < 1:
            raise ValueError(f"{what} must be >= 1, got {v}")
    kw = ceil_div(k, cfg.simd)
    tm, tn = ceil_div(m, cfg.rows), ceil_div(n, cfg.cols)
    m_l = m - (tm - 1) * cfg.rows
    full_p, full_q = cfg.tile_period(cfg.rows, kw), cfg.bank_period(cfg.rows)
    last_p, last_q = cfg.tile_period(m_l, kw), cfg.bank_period(m_l)
    # the gaps after the tiles of R rows (the last one leads into the last tile row), then
    # those after the tiles of the last tile row but its last tile
    n_full = tn * (tm - 1)
    full_sum, full_last = tile_gaps(n_full, full_p, full_p, full_q)
    first = np.where(n_full > 0, np.maximum(last_p, full_q - full_last), last_p)
    last_sum, _ = tile_gaps(tn - 1, first, last_p, last_q)
    total = ((m + n) * kw + kw + full_sum + last_sum + cfg.tile_flush
             + drain_beats(m_l, cfg.drain_rows_eff) - 1 + cfg.result_latency
             + cfg.job_start_cycles)
    return total if isinstance(total, np.ndarray) and total.ndim else int(total)


def pool_cycles(cfg: ArrayConfig, planes: int, h: int, w: int, kernel, stride,
                padding=(0, 0)) -> int:
    """Cycles of a pool job over (planes, h, w) inputs (elementwise on numpy arrays of
    config values: the design-space sweep passes a grid)."""
    yn, xn = pool_extent(h, w, kernel, stride, padding)
    xt = np.maximum(xn, cfg.pool_min_row_positions)
    groups = -(-planes // cfg.pool_lanes_eff)
    positions = groups * yn * xt - (xt - xn)
    cycles = (positions + cfg.job_start_cycles + cfg.pool_start_cycles + cfg.pool_latency
              + cfg.result_latency)
    return cycles if isinstance(cycles, np.ndarray) else int(cycles)

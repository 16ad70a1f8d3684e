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

Pool (P x H x W, kernel kh x kw, V = simd / pool_bits lanes, WW = ceil(W/V),
S = ceil((kw - 1)/V) + 1 words per window row):

    cycles = P * H * WW + P * Ho * Wo * kh * S + pool_latency + result_latency
           + job_start_cycles + pool_start_cycles

(job_start_cycles = 2: the command beat and the setup cycle; pool_start_cycles = 2: the
pool-start cycle and the sequencer's priming cycle)

The latencies (tile_flush, pool_latency, result_latency and what they are made of) are
:class:`ArrayConfig` properties, each computed from the register counts that the RTL module
building the structure exports (``hw/rtl``: ``Popcount``, ``PipelinedMemory``, ``PE``,
``SystolicArray``, ``PoolUnit``, ``BinaryCore``); tests/hw/rtl measures each one in simulation.
"""

from __future__ import annotations

from ..config import ArrayConfig, ceil_div
from ..ops import pool_out_shape  # the one output-shape formula


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
    """Cycles of a pool job over (planes, h, w) inputs."""
    v = cfg.pool_lanes
    ho, wo = pool_out_shape(h, w, kernel, stride, padding)
    s = ceil_div(kernel[1] - 1, v) + 1
    words = planes * h * ceil_div(w, v)
    steps = planes * ho * wo * kernel[0] * s
    return (words + steps + cfg.pool_latency + cfg.result_latency + cfg.job_start_cycles
            + cfg.pool_start_cycles)

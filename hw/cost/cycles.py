"""Analytical cycle count of a job on an :class:`ArrayConfig` (no stalls: input always valid,
output always ready). Equal to what the RTL takes, cycle for cycle, from the first accepted
input beat (the command) to the last accepted result beat, both counted
(tests/sim/test_cycles.py checks it in simulation).

Matmul (M x K activations, N x K weights, KW = ceil(K/simd), Tm = ceil(M/R), Tn = ceil(N/C),
m_l = M - (Tm - 1) * R rows in the last tile row, D = drain_rows_eff result rows per beat,
b(m) = ceil(m/D) beats of a tile of m rows):

    cycles = (ceil(N/G) + ceil(M0/G)) * KW         load of W, then of the first tile's A rows
                                                   (one data beat per cycle, G = load_rows_eff
                                                   rows per beat; no W term for a job that
                                                   keeps the previous job's weights)
           + load_to_read - 1 + KW                 the first tile's reads
           + sum of the gaps d_i                   last read to last read of later tiles
           + tile_flush + b(m_l) - 1               the last tile's flush and drain
           + result_latency + job_start_cycles     result registers and FIFO; command beat, setup (2)

    M0 = min(M, R) if N > (R/G - 1) * C else M     (:func:`hw.config.rows_before_first_read`)
    load_to_read = 2                               last beat of a tile row's A rows to its
                                                   first read

W loads first, then A; with Tn >= R/G tile columns the rows of later tile rows load while the
earlier tile rows run (tile row t starts load_to_read cycles after its last A row's last beat
at the earliest; it reads for Tn * KW >= R/G * KW cycles, the time R rows take to load, so
only the first tile row ever waits on the load), else the first tile waits for all of A.

    tile_flush = mm_read_latency + R + C + pe_latency - 1, pe_latency = popcount_latency(simd) + 1

Tiles stream back to back through the array and are captured into n = hold_banks hold banks
in turn (tile i into bank i mod n), each drained (b(m) beats, one per cycle) while later tiles
accumulate. The tile reader starts a tile as soon as two rules allow (:func:`tile_gaps`):

    d_i = t_{i+1} - t_i = max(P(m_i), Q(m_{i+1-n}) - (d_{i-1} + ... + d_{i+1-n}))
                                         (no bank term while i + 1 < n)
    P(m) = max(KW, b(m))                 tile_period: KW reads; one drain at a time
    Q(m) = R + C - 2 + b(m)              bank_period: the next tile of the same bank (n tiles
                                         later) has its PE (0, 0) capture, R + C - 2 cycles
                                         before its drain could start, no earlier than this
                                         tile's last shift

over the Tn * (Tm - 1) tiles of R rows, then the Tn tiles of m_l rows. In steady state a tile
costs max(KW, b(m), Q(m) / n) cycles.

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
pool_start_cycles = 4: the pool unit derives its job values in three register stages, then loads its
sequencer)

The latencies (tile_flush, capture skew, pool_latency, result_latency and what they are made
of) are :class:`ArrayConfig` properties, each computed from the register counts that the RTL
module building the structure exports (``hw/rtl``: ``Popcount``, ``PipelinedMemory``, ``PE``,
``SystolicArray``, ``PoolUnit``, ``BinaryCore``); tests/hw/rtl measures each one in simulation.
Every formula here works elementwise on numpy arrays too (:class:`hw.cost.dse.ConfigGrid`).
"""

from __future__ import annotations

import numpy as np

from ..config import ArrayConfig, ceil_div, drain_beats, load_beats
from ..ops import pool_extent  # the one formula of the rows and columns walked


def tile_gaps(count, window, period, bank, lead=()):
    """(sum, window) of ``count`` >= 0 consecutive gaps between tiles' last reads under the
    greedy rule with n = len(window) + 1 hold banks:

        d_j = max(P, Q_j - (d_{j-1} + ... + d_{j-n+1}))

    ``window``: the n - 1 gaps before the first one, oldest first (each >= P; gaps of no tile
    are any value >= max(P, Q)); P = ``period`` for every gap; Q_j = ``lead[j]`` for the first
    len(lead) gaps (tiles before this run), ``bank`` after. Returns the sum and the last n - 1
    gaps (the ``window`` of a following run). Elementwise on numpy arrays (n is an int).

    Exact, in O(n) array operations whatever ``count``: with Q constant, once a window sum
    d_{j-n+1} + ... + d_j reaches Q it stays Q (the next gap is max(P, d_{j-n+1}) =
    d_{j-n+1}), and until then every gap is P; so n gaps after Q became constant the sequence
    is periodic with period n (d_j = d_{j-n}). The first len(lead) + n gaps are computed one by
    one, the rest are whole periods plus a part of one.
    """
    n = len(window) + 1
    qs = list(lead) + [bank] * n
    steps = len(qs)
    hist = list(window)            # hist[n - 1 + j] is gap j
    total = 0
    for j, q in enumerate(qs):
        d = np.maximum(period, q - sum(hist[len(hist) - (n - 1):]))
        hist.append(d)
        total = total + np.where(j < count, d, 0)
    pattern = hist[-n:]            # gaps steps - n .. steps - 1, repeating
    rest = np.maximum(count - steps, 0)
    total = total + rest // n * sum(pattern) + sum(
        np.where(rest % n > k, pattern[k], 0) for k in range(n))
    out = []
    for k in range(n - 1):         # gap g = count - (n - 1) + k, at hist[count + k]
        h = count + k
        in_hist = sum(np.where(h == i, v, 0) for i, v in enumerate(hist))
        phase = (h - (n - 1) - (steps - n)) % n
        periodic = sum(np.where(phase == i, v, 0) for i, v in enumerate(pattern))
        out.append(np.where(h < len(hist), in_hist, periodic))
    return total, out


#: the terms of a matmul job's cycles (:func:`matmul_terms`), in the order they are printed
MATMUL_TERMS = ("reads", "w_load", "a_load", "spacing", "fixed")


def matmul_terms(cfg: ArrayConfig, m: int, n: int, k: int, keep_w: bool = False) -> dict:
    """The cycles of an M x N x K matmul job split into where they go; they add up to
    :func:`matmul_cycles`. Elementwise on numpy arrays of config values.

    - ``reads``: Tm * Tn * KW, one tile read per cycle: the compute limit
      ceil(M/R) ceil(N/C) ceil(K/simd).
    - ``w_load``: ceil(N/G) * KW, the W load before the first tile (no tile hides it); 0 for
      a job that keeps the previous job's weights (``keep_w``, ``cfg.keep_weights``: its A
      rows load from the cycle after setup, as they would after the last W beat).
    - ``a_load``: ceil(M0/G) * KW, the A rows the first tile waits for.
    - ``spacing``: tile gaps beyond KW (the drain's and the hold banks' rules, :func:`tile_gaps`).
    - ``fixed``: load_to_read - 1 + tile_flush + b(m_l) - 1 + result_latency +
      job_start_cycles: the first read's wait, the last tile's flush and drain, the result
      registers and the job's start.
    """
    for what, v in (("M", m), ("N", n), ("K", k)):
        if v < 1:
            raise ValueError(f"{what} must be >= 1, got {v}")
    kw = ceil_div(k, cfg.simd)
    tm, tn = ceil_div(m, cfg.rows), ceil_div(n, cfg.cols)
    m_l = m - (tm - 1) * cfg.rows
    full_p, full_q = cfg.tile_period(cfg.rows, kw), cfg.bank_period(cfg.rows)
    last_p, last_q = cfg.tile_period(m_l, kw), cfg.bank_period(m_l)
    banks = cfg.hold_banks
    # the gaps after the tiles of R rows (the last one leads into the last tile row; before
    # the first tile, gaps of no tile that bind nothing), then those after the tiles of the
    # last tile row but its last tile (the first n - 1 of them bound by full tiles' banks)
    no_tile = [np.maximum(full_p, full_q)] * (banks - 1)
    n_full = tn * (tm - 1)
    full_sum, window = tile_gaps(n_full, no_tile, full_p, full_q)
    last_sum, _ = tile_gaps(tn - 1, window, last_p, last_q, lead=[full_q] * (banks - 1))
    first_rows = cfg.rows_before_first_read(m, n)
    g = cfg.load_rows_eff
    tiles = tm * tn
    terms = {
        "reads": tiles * kw,
        "w_load": 0 if keep_w else load_beats(n, g) * kw,
        "a_load": load_beats(first_rows, g) * kw,
        "spacing": full_sum + last_sum - (tiles - 1) * kw,
        "fixed": (cfg.load_to_read - 1 + cfg.tile_flush + drain_beats(m_l, cfg.drain_rows_eff)
                  - 1 + cfg.result_latency + cfg.job_start_cycles),
    }
    return {key: (v if isinstance(v, np.ndarray) and v.ndim else int(v))
            for key, v in terms.items()}


def matmul_cycles(cfg: ArrayConfig, m: int, n: int, k: int, keep_w: bool = False) -> int:
    """Cycles of an M x N x K matmul job (either mode: the timing does not depend on it): the
    sum of its :func:`matmul_terms` (the formula in the module docstring; ``keep_w``: a job
    that keeps the previous job's weights, no W load)."""
    if keep_w and not cfg.keep_weights:
        raise ValueError("keep_w needs a config with keep_weights 1")
    return sum(matmul_terms(cfg, m, n, k, keep_w).values())


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


def frame_cycles(matmul_cycles, pool_cycles, pool_port):
    """Array cycles per frame of a network whose matmul jobs take ``matmul_cycles`` and pool jobs
    ``pool_cycles`` (sums of the job cycles above; ints or numpy arrays).

    One core (``pool_port`` 0): one job at a time, so the sum. A pool core of its own
    (``pool_port`` 1): the two cores run their job streams at once, so the larger of the two,
    with frames streamed (the host keeps both cores fed: the pools of frame f run beside the
    matmuls of frame f + 1 where a pool waits on a matmul of its own frame; every job keeps
    the cycles above, the cores share nothing). One frame alone still takes up to the sum.
    """
    if isinstance(pool_port, np.ndarray) or isinstance(matmul_cycles, np.ndarray):
        return np.where(pool_port, np.maximum(matmul_cycles, pool_cycles),
                        matmul_cycles + pool_cycles)
    return max(matmul_cycles, pool_cycles) if pool_port else matmul_cycles + pool_cycles

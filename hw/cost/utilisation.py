"""The array utilisation formula, in one place: useful binary MACs over the MACs the array could
have done in the cycles spent, MACs / (R * C * SIMD * cycles).

Used by the network cost model (:mod:`hw.cost.network`), the memory-bound model
(:mod:`hw.cost.memory_bound`), the design-space sweep (:mod:`hw.cost.dse`, on numpy arrays of
configs) and the SCALE-Sim side-by-side benchmark (:mod:`hw.cost.baseline`).
"""

from __future__ import annotations


def peak_macs_per_cycle(rows, cols, simd):
    """Binary MACs the array does per cycle when every PE is busy: R * C * SIMD (ints or numpy
    arrays, elementwise)."""
    return rows * cols * simd


def utilisation(macs, cycles, rows, cols, simd):
    """MACs / (R * C * SIMD * cycles): the share of the array's peak that ``macs`` useful binary
    MACs reach in ``cycles`` cycles (ints, floats or numpy arrays, elementwise)."""
    return macs / (peak_macs_per_cycle(rows, cols, simd) * cycles)


def config_utilisation(macs, cycles, cfg) -> float:
    """:func:`utilisation` on an :class:`~hw.config.ArrayConfig`'s R, C and SIMD."""
    return utilisation(macs, cycles, cfg.rows, cfg.cols, cfg.simd)

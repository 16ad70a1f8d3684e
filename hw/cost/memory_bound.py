"""Off-chip (DRAM) traffic and the memory-bound cycles of a network: the array's compute cycles
(:mod:`hw.cost.cycles`, as the network model sums them) against the cycles the chip boundary
needs to move each op's data, at a given bandwidth and batch size.

What crosses the chip boundary, per op (:func:`op_traffic`; counted once, here):

- *weights*: the N x K weight bits of a weight layer (linear or patch merge), loaded once per
  batch and kept on chip while every frame of the batch passes through the op (a layer-by-layer
  schedule), so ``N * K / batch`` bits per frame. Attention products and pools have no weights.
- *activations in*: the op's activation operand bits, once per frame: M x K bits of a matmul,
  plus the N x K bits of the second operand of an attention product (both are activations);
  P x H x W values at ``pool_bits`` (the op's own width when it has one) of a pool.
- *results out*: the op's results at the array's output lane width (``cfg.lane_width``), once
  per frame: M x N per K chunk of a matmul (a matmul split along K sends every chunk's partial
  sums out to be added), P x Ho x Wo of a pool.

Why activations cross: the per-element work between ops (norm affines, thresholds, softmax,
residual adds; :class:`hw.cost.network.ElementwiseWork`) is taken to run off the array's chip,
on the host, so every op's results go out and the next op's operands come back in. On-chip
re-reads are not off-chip traffic: the array's own loads (one SIMD word per cycle, every legal
sub-job, weight re-loads of M chunks included) are already in its compute cycles.

Per op: ``memory cycles = bytes per frame / bytes per cycle`` and, assuming the off-chip loads
of an op are overlapped with its compute (double-buffered; prefetch of the next op's data while
this one computes, nothing overlapped across more than one op), ``cycles = max(compute cycles,
memory cycles)``; ``bound`` says which one wins ("memory" only when strictly larger). Memory
cycles are fractional (bytes / rate); they are not rounded. Per frame: the sum over the ops
with one core; with a pool core of its own (``pool_port``) the larger of the matmul ops' and
the pool ops' sums (:func:`hw.cost.cycles.frame_cycles`), and no less than the frame's bytes
over the bandwidth (both cores share the chip boundary).

The bandwidth is given either in GB/s (1e9 bytes/s; then bytes per cycle depend on the clock:
``GB/s * 1e3 / clock MHz``) or in bytes per cycle of the array's clock (then they do not).
:data:`DEFAULT_BANDWIDTH` is an assumption, stated with :data:`DEFAULT_BANDWIDTH_SOURCE`. With
no bandwidth (None: unlimited) every op is compute-bound and the totals equal the compute-only
numbers of :func:`hw.cost.network.network_cost`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..ops import OpKind
from .cycles import frame_cycles
from .utilisation import config_utilisation


class BandwidthError(ValueError):
    """A bandwidth or batch size that is not a finite number > 0 / an integer >= 1
    (``python -m hw``: exit status 2); the message says which value."""


#: bandwidth units: GB/s (1e9 bytes per second) or bytes per cycle of the array clock
UNITS = ("GB/s", "B/cycle")

#: the default off-chip bandwidth: a 16-bit DDR3 interface at the ECP5's DDR3 limit
DEFAULT_BANDWIDTH_GBS = 1.6
DEFAULT_BANDWIDTH_SOURCE = (
    "assumption: one 16-bit DDR3 chip (as on ECP5 evaluation boards) at the ECP5's DDR3 "
    "interface maximum of 400 MHz, i.e. DDR3-800 (Lattice FPGA-TN-02035, ECP5 and ECP5-5G "
    "High-Speed I/O Interface, Table 6.1: DDR3 Fmax 400 MHz): 800e6 transfers/s x 2 bytes = "
    "1.6 GB/s peak; a controller reaches less (refresh, row misses, read/write turnaround)")


@dataclass(frozen=True)
class Bandwidth:
    """Off-chip bandwidth: ``value`` in ``unit`` (:data:`UNITS`) and where the figure comes
    from. Raises BandwidthError unless ``value`` is a finite number > 0."""

    value: float
    unit: str = "GB/s"
    source: str = ""

    def __post_init__(self):
        if self.unit not in UNITS:
            raise BandwidthError(f"bandwidth unit {self.unit!r}: use one of {', '.join(UNITS)}")
        flag = "--bandwidth-gbs" if self.unit == "GB/s" else "--bandwidth-bpc"
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            raise BandwidthError(f"{flag} {v!r}: the bandwidth must be a finite number > 0 "
                                 f"({self.unit})")
        object.__setattr__(self, "value", float(v))

    def bytes_per_cycle(self, clock_mhz: float) -> float:
        """Bytes per cycle of an array clocked at ``clock_mhz``."""
        if self.unit == "B/cycle":
            return self.value
        return self.value * 1e3 / clock_mhz

    @property
    def label(self) -> str:
        """The bandwidth in words: ``1.6 GB/s`` or ``8 B/cycle``."""
        return f"{self.value:g} {self.unit}"

    def to_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit, "label": self.label,
                "source": self.source}


#: the default bandwidth of the commands (``--bandwidth-gbs``), an assumption
DEFAULT_BANDWIDTH = Bandwidth(DEFAULT_BANDWIDTH_GBS, "GB/s", DEFAULT_BANDWIDTH_SOURCE)


def check_batch(batch) -> int:
    """``batch`` as an int, or BandwidthError unless it is a whole number >= 1."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise BandwidthError(f"--batch {batch!r}: the batch must be a whole number of frames "
                             ">= 1")
    return int(batch)


@dataclass(frozen=True)
class OpTraffic:
    """Off-chip bits of one op (what is counted: the module docstring)."""

    weight_bits: int     # per batch: N x K of a weight layer, else 0
    input_bits: int      # per frame: activation operands in
    output_bits: int     # per frame: results out at the lane width

    def weight_bytes_per_frame(self, batch: int) -> float:
        return self.weight_bits / batch / 8

    def bytes_per_frame(self, batch: int) -> float:
        """Bytes crossing the chip boundary per frame at ``batch`` frames per batch."""
        return (self.weight_bits / batch + self.input_bits + self.output_bits) / 8


def op_traffic(op, cfg) -> OpTraffic:
    """The off-chip bits of ``op`` (a :mod:`hw.ops` op) on ``cfg`` (module docstring)."""
    if op.kind is OpKind.MATMUL:
        second = op.n * op.k if op.group == "attention" else 0   # A.V, Q.K^T: both activations
        return OpTraffic(op.weight_bits, op.m * op.k + second,
                         op.m * op.n * op.k_splits(cfg) * cfg.lane_width)
    bits = op.bits or cfg.pool_bits
    return OpTraffic(0, op.planes * op.h * op.w * bits, op.outputs * cfg.lane_width)


def memory_bound_cost(op_cycles: Sequence[tuple], cfg, bandwidth: Bandwidth | None = None,
                      batch: int = 1, clock_mhz: float | None = None) -> dict:
    """Per-op and total memory-bound cost of a network on ``cfg``.

    ``op_cycles``: (op, compute cycles) per op of one frame, in execution order (the network
    model's sums of :mod:`hw.cost.cycles` over legal jobs); ``bandwidth``: None for unlimited;
    ``batch``: frames per batch (weights loaded once per batch); ``clock_mhz``: the clock for
    frames/s and for converting GB/s to bytes per cycle (default ``cfg.clock_mhz``).

    Returns ``{"ops": [...], "totals": {...}}`` (JSON-able): per op its bytes per frame
    (weights, activations in, results out), compute and memory cycles, ``cycles`` = the larger
    and ``bound``; totals: cycles per frame, utilisation (binary MACs / (R*C*SIMD*cycles),
    :func:`hw.cost.utilisation.utilisation`), frames/s at the clock, bytes per frame and the
    number of memory-bound ops.
    """
    batch = check_batch(batch)
    clock = float(clock_mhz if clock_mhz is not None else cfg.clock_mhz)
    bpc = bandwidth.bytes_per_cycle(clock) if bandwidth is not None else None
    rows = []
    for op, compute in op_cycles:
        t = op_traffic(op, cfg)
        total = t.bytes_per_frame(batch)
        memory = total / bpc if bpc else 0.0
        rows.append({"name": op.name, "kind": op.kind.value, "group": op.group,
                     "compute_cycles": int(compute),
                     "weight_bytes_per_frame": t.weight_bytes_per_frame(batch),
                     "input_bytes_per_frame": t.input_bits / 8,
                     "output_bytes_per_frame": t.output_bits / 8,
                     "bytes_per_frame": total, "memory_cycles": memory,
                     "cycles": max(float(compute), memory),
                     "bound": "memory" if memory > compute else "compute"})
    # one core: the ops one after another; a pool core of its own (pool_port): each core's ops
    # one after another, both at once, and never faster than the chip boundary moves the bytes
    mm = sum(r["cycles"] for r in rows if r["kind"] == OpKind.MATMUL.value)
    cycles = frame_cycles(mm, sum(r["cycles"] for r in rows) - mm, cfg.pool_port)
    if cfg.pool_port and bpc:
        cycles = max(cycles, sum(r["bytes_per_frame"] for r in rows) / bpc)
    macs = sum(op.macs for op, _ in op_cycles if op.kind is OpKind.MATMUL)
    fps = clock * 1e6 / cycles if cycles else None
    totals = {
        "batch": batch, "clock_mhz": clock,
        "bandwidth": bandwidth.to_dict() if bandwidth is not None else None,
        "bytes_per_cycle": bpc,
        "compute_cycles": sum(r["compute_cycles"] for r in rows),
        "memory_cycles": sum(r["memory_cycles"] for r in rows),
        "cycles_per_frame": cycles,
        "weight_bytes_per_frame": sum(r["weight_bytes_per_frame"] for r in rows),
        "input_bytes_per_frame": sum(r["input_bytes_per_frame"] for r in rows),
        "output_bytes_per_frame": sum(r["output_bytes_per_frame"] for r in rows),
        "bytes_per_frame": sum(r["bytes_per_frame"] for r in rows),
        "memory_bound_ops": sum(r["bound"] == "memory" for r in rows),
        "ops": len(rows),
        "binary_macs": macs,
        "utilisation": config_utilisation(macs, cycles, cfg) if cycles else None,
        "frames_per_s": fps,
        "latency_ms_per_batch": batch * cycles / (clock * 1e3) if cycles else None,
    }
    return {"ops": rows, "totals": totals}


#: batch sizes every report lists (with the one asked for)
REPORT_BATCHES = (1, 2, 4, 8, 16, 32)


def batch_table(op_cycles: Sequence[tuple], cfg, bandwidth: Bandwidth | None,
                batches: Iterable[int], fmax_mhz: float | None = None) -> list[dict]:
    """Network totals per batch size: cycles per frame, utilisation, memory-bound ops and
    frames/s at ``cfg.clock_mhz`` and, when ``fmax_mhz`` is given, at that clock (a GB/s
    bandwidth then gives fewer bytes per cycle, so the memory cycles are recomputed)."""
    out = []
    for b in sorted({check_batch(b) for b in batches}):
        at_clock = memory_bound_cost(op_cycles, cfg, bandwidth, b)["totals"]
        at_fmax = (memory_bound_cost(op_cycles, cfg, bandwidth, b, fmax_mhz)["totals"]
                   if fmax_mhz else None)
        out.append({"batch": b, "cycles_per_frame": at_clock["cycles_per_frame"],
                    "utilisation": at_clock["utilisation"],
                    "memory_bound_ops": at_clock["memory_bound_ops"],
                    "bytes_per_frame": at_clock["bytes_per_frame"],
                    "frames_per_s": at_clock["frames_per_s"],
                    "cycles_per_frame_at_fmax": at_fmax["cycles_per_frame"] if at_fmax else None,
                    "memory_bound_ops_at_fmax": at_fmax["memory_bound_ops"] if at_fmax else None,
                    "frames_per_s_at_fmax": at_fmax["frames_per_s"] if at_fmax else None})
    return out

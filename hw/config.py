"""The array configuration: the one source of truth the RTL, the testbenches and the cost model
elaborate from (README.md, Architecture).

Every width, depth and latency of the hardware is a read-only property of :class:`ArrayConfig`.
Each latency is exported by the RTL module that builds the structure (register-count constants and
``latency_of``-style class methods in ``hw/rtl``); the properties here combine those, and the RTL,
the testbenches and the cost model read them from here.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass

import numpy as np


class ConfigError(ValueError):
    """An array configuration is invalid; the message says which field and how to fix it."""


def ceil_div(a: int, b: int) -> int:
    """Integer ceil(a / b) for a >= 0, b > 0."""
    return -(-a // b)


def ceil_log2(n: int) -> int:
    """Smallest e with 2**e >= n (0 for n <= 1)."""
    return max(0, (int(n) - 1).bit_length())


def popcount_latency(width: int, group: int = 8) -> int:
    """Register stages of :class:`hw.rtl.popcount.Popcount` for ``width`` input bits
    (:meth:`~hw.rtl.popcount.Popcount.latency_of`)."""
    from .rtl.popcount import Popcount

    return Popcount.latency_of(width, group)


def drain_beats(m_valid, drain_rows):
    """Output beats of a tile with ``m_valid`` rows: ceil(m_valid / D), D result rows per beat
    (one beat per drain shift). Elementwise on numpy arrays."""
    return -(-m_valid // drain_rows)


def capture_skew(rows, cols):
    """Cycles from PE (0, 0) capturing a tile's sums to PE (R - 1, C - 1) capturing them
    (:meth:`hw.rtl.array.SystolicArray.capture_skew`; R + C - 2). Elementwise on numpy arrays."""
    from .rtl.array import SystolicArray

    return SystolicArray.capture_skew(rows, cols)


def tile_period(rows, cols, drain_rows, m_valid, kw):
    """Fewest cycles between the last reads of a tile with ``m_valid`` rows and of the next tile
    on an R x C array with D = ``drain_rows`` result rows per beat: the tile reader reads KW
    words per tile and one tile drains at a time (ceil(m_valid / D) shifts), so
    max(KW, ceil(m_valid / D)). (The hold banks add a second rule over n = ``hold_banks``
    tiles: :func:`bank_period`.)

    Elementwise on numpy arrays (the design-space sweep passes arrays of R, C and D); of ints,
    an int. :meth:`ArrayConfig.tile_period` is this function on the config's R, C and D.
    """
    period = np.maximum(kw, drain_beats(m_valid, drain_rows))
    return period if isinstance(period, np.ndarray) else int(period)


def bank_period(rows, cols, drain_rows, m_valid):
    """Fewest cycles between the last reads of a tile with ``m_valid`` rows and of the next
    tile captured into the same hold bank (with n = ``hold_banks`` banks in turn, the tile n
    places later): PE (0, 0) captures the later tile no earlier than the cycle of the earlier
    tile's last drain shift, and it captures :func:`capture_skew` cycles before its tile's drain
    could start, so R + C - 2 + ceil(m_valid / D) (whatever n).

    Elementwise on numpy arrays, like :func:`tile_period`; of ints, an int.
    """
    period = capture_skew(rows, cols) + drain_beats(m_valid, drain_rows)
    return period if isinstance(period, np.ndarray) else int(period)


def rows_before_first_read(rows, cols, m, n, load_rows=1):
    """A rows the first tile waits for: R (or M, if smaller) when the job has at least R / G
    tile columns (N > (R / G - 1) * C, G = ``load_rows``, rows per load beat), else all M. A
    tile row reads for Tn * KW cycles and its R rows take R / G * KW load beats, so with that
    many tile columns the later rows load while the earlier tile rows run (the RTL starts tile
    row t once rows up to (t + 1) * R are in: :class:`hw.rtl.core.BinaryCore`); with fewer,
    the first tile waits for the whole of A. Elementwise on numpy arrays; of ints, an int."""
    first = np.where(n > (rows // load_rows - 1) * cols, np.minimum(m, rows), m)
    return first if isinstance(first, np.ndarray) and first.ndim else int(first)


def load_beats(count, load_rows):
    """Load beats per row word of ``count`` operand rows, G = ``load_rows`` rows per beat:
    ceil(count / G) (a group of G consecutive rows shares a beat, one SIMD word each).
    Elementwise on numpy arrays."""
    return -(-count // load_rows)


def largest_load_rows(rows, cols):
    """The largest power of two that divides both R and C: what ``load_rows`` 0 means (a load
    beat's G rows go to G different banks at one address). Elementwise on numpy arrays."""
    g = np.gcd(rows, cols)
    v = g & -g
    return v if isinstance(v, np.ndarray) and v.ndim else int(v)


#: (words, bits) aspect ratios of one ECP5 DP16KD block RAM in true dual-port mode
#: (Lattice FPGA-TN-02204, "ECP5 and ECP5-5G Memory Usage Guide", DP16KD data widths 1/2/4/9/18).
BLOCK_RAM_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))

#: (words, bits) of one DP16KD in pseudo-dual-port mode, one read and one write port (PDPW16KD;
#: same guide, "Pseudo Dual Port RAM": data width 36 at 512 words).
PSEUDO_DUAL_PORT_SHAPE = (512, 36)


def mem_piece_words(depth: int, piece_depth: int = 16384) -> int:
    """Words per piece of :class:`hw.rtl.memory.PipelinedMemory`: ``piece_depth``, or the memory's
    depth rounded up to a power of two if that is smaller."""
    return min(piece_depth, 1 << ceil_log2(depth))


def mem_slice_bits(piece_words: int) -> int:
    """Bits per slice of a piece: the widest block-RAM shape at least ``piece_words`` deep
    (1 bit beyond 16384 words: the tools then stack block RAMs in depth)."""
    fits = [bits for words, bits in BLOCK_RAM_SHAPES if words >= piece_words]
    return max(fits) if fits else 1


def read_write_slice_bits(depth: int) -> int:
    """Bits per slice of a memory with one read and one write port and ``depth`` words: the
    pseudo-dual-port width (36) up to its depth (512), else :func:`mem_slice_bits`."""
    words, bits = PSEUDO_DUAL_PORT_SHAPE
    return bits if depth <= words else mem_slice_bits(mem_piece_words(depth))


@functools.lru_cache(maxsize=4096)
def mem_read_latency(depth: int, piece_depth: int = 16384) -> int:
    """Read latency of :class:`hw.rtl.memory.PipelinedMemory`
    (:meth:`~hw.rtl.memory.PipelinedMemory.read_latency`)."""
    from .rtl.memory import PipelinedMemory

    return PipelinedMemory.read_latency(depth, piece_depth)


def _round8(n: int) -> int:
    return ceil_div(n, 8) * 8


# ---- upper bounds ------------------------------------------------------------------------------
# Every field has one (checked in ArrayConfig.__post_init__, before anything is computed or
# elaborated), from the devices of hw/cost/devices.py or from what the Verilog writer elaborates
# in reasonable time and memory; each message states the value, the bound and the reason.

#: R and C: every PE row has its own activation bank and every column its own weight bank, each
#: at least one block RAM; the device with the most block RAMs here, xc7a100t, has 270 of
#: 18 kbit (135 RAMB36), so R + C <= 269 on any of them.
MAX_ROWS_COLS = 256
#: SIMD: a 1x1 array already has 2 PEs (with the AND-offset PE) of SIMD bits each, and every PE
#: bit costs about 4 LUTs or more (hw/synth/data/resource_model.json: 3.9 to 5.6): SIMD 16384
#: needs over 128,000 LUTs, more than the largest device here (ecp5-85: 83,640 LUT4).
MAX_SIMD = 8192
#: largest M, N, K of one job and words of the pool memory: a larger op is split into legal jobs
#: (hw/ops.py legal_jobs); the memories these size are also bounded by MAX_MEMORY_BITS.
MAX_JOB_DIM = 1 << 20
#: largest P, H, W of one pool job (larger pools are split into jobs, hw/ops.py).
MAX_POOL_DIM = 1 << 16
#: largest pool kernel, stride and padding (window sums of up to 256 x 256 values; the networks
#: here use 8 at most).
MAX_POOL_KERNEL = 256
#: on-chip memory of a config (R activation banks, C weight banks and the pool memory, all
#: ``simd`` bits wide): 64 Mbit, 13x the block RAM of the largest device here (xc7a100t,
#: 135 x 36 kbit = 4.9 Mbit); every word is an Amaranth memory word at elaboration.
MAX_MEMORY_BITS = 1 << 26
#: clock: FPGA fabric clocks of these devices stay far below 1 GHz (the fitted Fmax of the
#: synthesis records is below 300 MHz).
MAX_CLOCK_MHZ = 1000.0
#: hold banks per PE: each is one more accumulator-wide register in every PE (R*C + R of them)
#: and one more countdown in the tile reader; a bound that keeps the bank index at 4 bits (with
#: KW = 1 a tile costs max(1, ceil(m/D), bank_period / n) cycles: bank_period is R + C - 2 +
#: ceil(m/D), 15 on 8 x 8 with D = 8, so 15 or 16 banks make such tiles one cycle each)
MAX_HOLD_BANKS = 16
#: what the Verilog writer is asked to elaborate (:func:`check_elaboration`): R*C*SIMD PE bits.
#: Measured on the 2-core development machine: 16x16x32 (8,192) elaborates in 16 s and 0.3 GB,
#: 32x32x64 (65,536) in 96 s and 1.3 GB, growing linearly; 65,536 PE bits is also over 3x the
#: largest array that fits any device here (about 21,000 PE bits at >= 3.9 LUTs per PE bit).
MAX_ELABORATED_PE_BITS = 1 << 16
#: operand memory bits the Verilog writer is asked to elaborate (:func:`check_elaboration`):
#: 8 Mbit, 1.7x the block RAM of the largest device here (xc7a100t: 4.9 Mbit). Measured: 1x1x512
#: (6.3 Mbit) in 27 s and 0.4 GB, 1x1x4096 (36 Mbit) in 270 s and 2.5 GB.
MAX_ELABORATED_MEMORY_BITS = 1 << 23

#: fields added after synthesis records, reports and build plans were first written, each with
#: the value every config had before it existed: :meth:`ArrayConfig.to_dict` leaves a field out
#: while it holds that value, and :meth:`ArrayConfig.from_dict` puts it back (``core_parts``
#: was 0 then; its default is 1 since 2026-12-05, so a config written without it is a
#: single-module core, and one of the core built from parts says so)
LATER_FIELDS = {"load_rows": 1, "pool_port": 0, "core_parts": 0, "keep_weights": 0,
                "w_buffers": 1, "ctl_regs": 0, "pe_flag_regs": 0, "loader_regs": 0,
                "a_buffers": 1}


def memory_bits(cfg) -> int:
    """Bits of on-chip memory of ``cfg``: R activation banks and C weight banks (``simd`` bits
    per word) and the pool unit's open-row banks (``pool_open_rows`` x ``pool_row_depth`` words
    of L = ``pool_lanes_eff`` sums)."""
    return ((cfg.rows * cfg.a_bank_depth + cfg.cols * cfg.w_bank_depth) * cfg.simd
            + cfg.pool_open_rows * cfg.pool_row_depth * cfg.pool_lanes_eff * cfg.pool_sum_width)


def check_elaboration(cfg) -> None:
    """ConfigError unless the Verilog writer elaborates ``cfg`` in reasonable time and memory
    (:data:`MAX_ELABORATED_PE_BITS`, :data:`MAX_ELABORATED_MEMORY_BITS`); the commands that
    elaborate (``python -m hw verilog``, ``synth``) call it before elaborating. The cost model
    (network, report, DSE) has no such bound."""
    mem = memory_bits(cfg)
    if mem > MAX_ELABORATED_MEMORY_BITS:
        raise ConfigError(
            f"the operand memories need {mem:,} bits, above the {MAX_ELABORATED_MEMORY_BITS:,} "
            f"that the Verilog writer elaborates (1.7x the block RAM of the largest device here; "
            f"36 Mbit takes about 270 s and 2.5 GB); lower --max-m/--max-n/--max-k/--pool-row-depth "
            f"or --simd")
    bits = cfg.rows * cfg.cols * cfg.simd
    if bits > MAX_ELABORATED_PE_BITS:
        raise ConfigError(
            f"R x C x SIMD = {cfg.rows} x {cfg.cols} x {cfg.simd} = {bits:,} PE bits is above "
            f"the {MAX_ELABORATED_PE_BITS:,} that the Verilog writer elaborates (32x32x64 takes "
            f"about 100 s and 1.3 GB; no device here holds more than about 21,000 PE bits); "
            f"use a smaller --rows/--cols/--simd")


@dataclass(frozen=True)
class ArrayConfig:
    """An R x C XNOR-popcount systolic array with its controller, pool unit and limits.

    Parameters (all validated in ``__post_init__``):

    rows, cols          R x C processing elements (output-stationary).
    simd                bits per PE per cycle = width of a data-stream beat.
    max_k               largest K of a matmul job (sizes the accumulators).
    max_m, max_n        largest M (activation rows) and N (weight rows) of a matmul job.
    pool_bits           width of a pool input value (two's complement); the pool unit sums
                        L planes at once (``pool_lanes``), one position (L values) per data
                        beat, so a data beat is ``data_width`` = L * pool_bits bits or
                        ``simd``, whichever is more (rounded up to whole ``simd`` words).
    pool_lanes          L, planes the pool unit sums at once; 0 (the default) means C
                        (:attr:`pool_lanes_eff`), the value that follows ``cols`` in a sweep.
                        A pool output position fills one result beat, so L <= D * C
                        (D = :attr:`drain_rows_eff`): pool lane l goes to row slot l // C,
                        lane l % C.
    pool_max_dim        largest H and W of a pool job.
    pool_max_planes     largest P of a pool job.
    pool_max_kernel     largest kh, kw, stride and padding of a pool job.
    pool_open_rows      output rows a pool may have open at once (one memory bank each):
                        ceil(kh / sh) <= it.
    pool_row_depth      words per open-row bank: the widest output row Wo of a pool whose
                        windows span more than one input row (kh > 1); wider ones are split.
    mem_piece_depth     words per piece of every operand memory (a power of two); pieces are
                        selected by registered 4:1 mux levels. 16384 (the default) is the
                        deepest DP16KD shape, so memories up to 16384 words need no mux.
    drain_rows          D, tile rows per result beat: the drain moves D rows per cycle and
                        every matmul result beat carries D rows of C lanes. A value above
                        ``rows`` is allowed and means R (:attr:`drain_rows_eff`), so one
                        setting fits every array size of a sweep.
    hold_banks          n, hold registers per PE (>= 2): tile i captures into bank i mod n, so
                        a tile may end its reads only when the tile n places earlier (same
                        bank) has drained (:func:`bank_period`). More banks let small-K tiles
                        (few data words per row) follow each other faster, at n + 1
                        accumulator-wide registers per PE and a deeper output FIFO.
    load_rows           G, operand rows per matmul load beat: a beat carries the same word
                        k of G consecutive W (or A) rows, one ``simd`` word each, written to
                        G banks at once, so a job loads in ceil(N / G) + ceil(M / G) beats per
                        word instead of N + M. A power of two dividing R and C; 1 (the
                        default) is one row per beat; 0 means the largest power of two that
                        divides both (:attr:`load_rows_eff`), the value that follows R and C
                        in a sweep. The data beat widens to G words (:attr:`data_width`).
    pool_port           1: the pool unit is a core of its own (:class:`hw.rtl.pool_core.PoolCore`)
                        with its own command, data and result streams, beside a matmul-only
                        core, so pool jobs run while matmul jobs do (the top has both port
                        sets, hw/README.md); 0 (the default): one core takes both kinds of job
                        on one set of streams, one job at a time.
    core_parts          1 (the default since 2026-12-05): the matmul core is built from parts,
                        each owning its latency (:class:`hw.rtl.composed_core.ComposedCore`:
                        job control, operand loader, operand banks, tile reader, drain
                        control, result path); 0: the single-module core
                        (:class:`hw.rtl.core.BinaryCore`), with the same streams, results and
                        cycles, which the records written before the change measure.
    keep_weights        1: a matmul command may say ``keep_w``: the job uses the weights
                        already in the weight banks (the previous matmul job's, same N and K)
                        and its data beats are its A rows only, so the M chunks of one layer
                        load their weights once (:func:`hw.ops.keep_flags` says when a host may
                        keep them); needs ``core_parts`` 1. 0 (the default): no such field,
                        every job loads its W.
    w_buffers           2: the weight banks hold the weights of two jobs; the next matmul's
                        command is taken as soon as the current job's operands are all
                        loaded, and its W loads into the other half while the current job
                        computes (its A once the current job's reads are done), so a job's W
                        load hides behind the job before (:func:`hw.cost.sequence.sequence_cycles`
                        gives a sequence's cycles); needs ``core_parts`` 1 and
                        ``keep_weights`` 0. 1 (the default): one job's weights, every job's
                        command waits for the job before to end.
    a_buffers           2 (needs ``w_buffers`` 2): the activation banks hold two jobs' A
                        rows; a job taken ahead loads its A rows into the other half right
                        after its W, while the current job computes, and keeps what it has
                        loaded aside (tile rows, the last tile row's sizes) until it runs.
                        1 (the default): its A rows load once it runs.
    ctl_regs            1: control signals that fan out across the die come from registers
                        of their own: job control's IDLE state is also a flip-flop, which
                        drives the command stream's ``ready`` and the job register's enable
                        (not a decode of the state register); the last word's mask loads in
                        the setup cycle from a free-running copy of the payload's K - 1 (not a
                        copy the beat's handshake enables); the loader's padding has its own
                        copy of the last-word flag; the output FIFO's register queue writes
                        each entry from a write-enable flip-flop of its own
                        (:class:`hw.rtl.queue.RegisterQueue` ``free_writes``). Same streams,
                        results and cycles (each was the worst routed path of the 50k-LUT
                        throughput config on some placement). Needs ``core_parts`` 1. 0 (the
                        default): as every record before 2026-12-05 measured.
                        2: as 1, and the result path's AND-mode flag has a copy per column
                        (``and_col<c>``, kept apart in the Verilog), which selects that
                        column's doubling and offset, and the loader's padding its own copy
                        of the W-or-A flag (``in_w_pad``): each was the worst routed path of
                        the 54k-LUT throughput config on a placement with ``loader_regs`` 2.
                        Same streams, results and cycles.
    pe_flag_regs        1: every PE's flags register (``f_out``: the flags one hop east) is
                        its own, kept apart in the Verilog (``flags_own``,
                        :func:`hw.rtl.verilog.keep_replicas`): the PEs of one anti-diagonal
                        see the same flags in the same cycle, and Yosys otherwise merges their
                        flag registers and the delays after them into one that drives the
                        hold-register enables of PEs across the die. Same streams, results
                        and cycles. 0 (the default): as every record before 2026-12-06
                        measured.
    loader_regs         1: the operand loader decodes each command's values itself (K's word
                        count, KW - 2 and KW == 1, N's and M's row groups, ...) into
                        free-running registers from the command stream's payload, and keeps
                        its own copies for the job (:class:`hw.rtl.parts.operand_loader.
                        OperandLoader`, ``next_job``): its control reads neither decodes of
                        job control's job register nor job control's K-derived registers,
                        which Yosys shares with job control's own logic, placed far from the
                        banks. Same streams, results and cycles. Needs ``core_parts`` 1. 0
                        (the default): as every record before 2026-12-06 measured. 2: as 1,
                        and the bank writes' enables and address and the loader's progress
                        outputs take the load beat from a run flag of their own (``idle_wr``,
                        the complement of the loader's ``loading``), so the beat that drives
                        the loader's control does not also drive the write enables across the
                        die (where the placer put it, far from the loader, on every placement
                        of ``loader_regs`` 1). Same streams, results and cycles.
    clock_mhz           target clock (used by the cost model for time).
    """

    rows: int = 4
    cols: int = 4
    simd: int = 32
    max_k: int = 2048
    max_m: int = 512
    max_n: int = 512
    pool_bits: int = 16
    pool_max_dim: int = 1024
    pool_max_planes: int = 1024
    pool_max_kernel: int = 16
    pool_open_rows: int = 5
    pool_row_depth: int = 64
    mem_piece_depth: int = 16384
    drain_rows: int = 2
    hold_banks: int = 2
    pool_lanes: int = 0
    load_rows: int = 1
    pool_port: int = 0
    core_parts: int = 1
    keep_weights: int = 0
    w_buffers: int = 1
    ctl_regs: int = 0
    pe_flag_regs: int = 0
    loader_regs: int = 0
    a_buffers: int = 1
    clock_mhz: float = 150.0

    def __post_init__(self):
        def need_int(name, lo, hint, hi=None, why=""):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, got {v!r}; {hint}")
            if hi is not None and v > hi:
                raise ConfigError(f"{name} must be <= {hi:,}, got {v:,}: {why}; pass a smaller "
                                  f"--{name.replace('_', '-')}")

        def need_choice(name, lo, low_means, high_means):
            """``name`` is ``lo`` or ``lo`` + 1 (an int, not a bool)."""
            v = getattr(self, name)
            if v not in (lo, lo + 1) or isinstance(v, bool):
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{name} must be {lo} or {lo + 1}, got {v!r}; pass {flag} {lo} "
                                  f"({low_means}) or {lo + 1} ({high_means})")

        banks = ("has its own {} bank of at least one block RAM and the device with the most "
                 "block RAMs here (xc7a100t) has 270")
        need_int("rows", 1, "pass --rows 1 or more (R, the PE rows of the array)",
                 MAX_ROWS_COLS, "every PE row " + banks.format("activation"))
        need_int("cols", 1, "pass --cols 1 or more (C, the PE columns of the array)",
                 MAX_ROWS_COLS, "every PE column " + banks.format("weight"))
        need_int("simd", 1, "pass --simd 8 or more (bits per PE per cycle)", MAX_SIMD,
                 "even a 1x1 array (2 PEs of SIMD bits, about 4 LUTs per bit) would need more "
                 "LUTs than the largest device here (ecp5-85: 83,640)")
        if self.simd < 8 or self.simd & (self.simd - 1):
            raise ConfigError(f"simd must be a power of two >= 8 (one data beat is whole bytes "
                              f"and K splits into words by shifting), got {self.simd}; "
                              f"try {max(8, 1 << ceil_log2(self.simd))}")
        split = "the largest {} of one job; larger ops are split into jobs (hw/ops.py)"
        need_int("max_k", 1, "pass --max-k (largest K of a job)", MAX_JOB_DIM, split.format("K"))
        need_int("max_m", 1, "pass --max-m (largest M of a job)", MAX_JOB_DIM, split.format("M"))
        need_int("max_n", 1, "pass --max-n (largest N of a job)", MAX_JOB_DIM, split.format("N"))
        need_int("pool_bits", 2, "pool values are two's complement of at least 2 bits", 32,
                 "pool values are at most 32-bit integers")
        need_int("pool_max_dim", 1, "largest H and W of a pool job", MAX_POOL_DIM,
                 split.format("pool H or W"))
        need_int("pool_max_planes", 1, "largest P of a pool job", MAX_POOL_DIM,
                 split.format("pool P"))
        need_int("pool_max_kernel", 1, "largest kernel/stride/padding of a pool job",
                 MAX_POOL_KERNEL, "the largest pool window, stride and padding (the networks "
                 "here use 8 at most)")
        need_int("pool_open_rows", 1, "output rows a pool may have open at once (e.g. 5 for "
                 "a 5-row window with stride 1)", MAX_POOL_KERNEL, "a window spans at most "
                 f"{MAX_POOL_KERNEL} rows")
        need_int("pool_row_depth", 1, "words per open-row bank (the widest output row of a "
                 "pool with kh > 1)", MAX_POOL_DIM, split.format("pool output row"))
        need_int("mem_piece_depth", 16, "words per memory piece (a power of two, e.g. 512)",
                 MAX_JOB_DIM, "words per memory piece (16384 is the deepest block RAM shape)")
        if self.mem_piece_depth & (self.mem_piece_depth - 1):
            raise ConfigError(f"mem_piece_depth must be a power of two, got "
                              f"{self.mem_piece_depth}; try {1 << ceil_log2(self.mem_piece_depth)}")
        need_int("drain_rows", 1, "pass --drain-rows 1 or more (D, tile rows per result beat; "
                 "values above --rows mean --rows)", MAX_ROWS_COLS,
                 "D, tile rows per result beat, is used as min(D, rows) and rows is at most "
                 f"{MAX_ROWS_COLS}")
        need_int("hold_banks", 2, "pass --hold-banks 2 or more (hold registers per PE: one "
                 "bank captures while the others drain)", MAX_HOLD_BANKS,
                 "each bank is one more accumulator-wide register in every PE (R*C + R of "
                 "them), and the bank index travels with every operand word")
        need_int("pool_lanes", 0, "pass --pool-lanes 0 (C, the default) or the planes the pool "
                 "unit sums at once", MAX_ROWS_COLS * MAX_ROWS_COLS,
                 "a pool position fills one result beat of at most rows x cols lanes")
        beat = self.drain_rows_eff * self.cols
        if self.pool_lanes_eff > beat:
            raise ConfigError(
                f"pool_lanes {self.pool_lanes} exceeds the output beat's {beat} lanes "
                f"(drain_rows {self.drain_rows_eff} x cols {self.cols}): pass --pool-lanes "
                f"{beat} or less or raise "
                + ("--drain-rows" if self.drain_rows_eff < self.rows
                   else "--cols (drain_rows is already rows)"))
        need_int("load_rows", 0, "pass --load-rows 1 (one operand row per load beat), 0 (the "
                 "largest power of two dividing rows and cols) or such a power of two",
                 MAX_ROWS_COLS, "a load beat's rows go to different banks, and there are at "
                 "most that many")
        g = self.load_rows
        if g and (g & (g - 1) or self.rows % g or self.cols % g):
            raise ConfigError(
                f"load_rows {g} must be a power of two dividing rows {self.rows} and cols "
                f"{self.cols} (a load beat's rows go to different banks at one address): pass "
                f"--load-rows {largest_load_rows(self.rows, self.cols)} or 0 (the largest such)")
        need_choice("pool_port", 0, "one core, shared streams",
                    "a pool core of its own beside the matmul core")
        need_choice("core_parts", 0, "the single-module core", "the core built from parts")
        need_choice("keep_weights", 0, "every job loads its W", "a job may keep the previous "
                    "job's W")
        if self.keep_weights and not self.core_parts:
            raise ConfigError("keep_weights 1 needs the core built from parts; pass "
                              "--core-parts 1 or --keep-weights 0")
        need_choice("w_buffers", 1, "one job's weights", "the next job's weights load while "
                    "the current job computes")
        if self.w_buffers == 2 and (not self.core_parts or self.keep_weights):
            raise ConfigError("w_buffers 2 needs the core built from parts and no kept "
                              "weights; pass --core-parts 1 --keep-weights 0, or --w-buffers 1")
        need_choice("a_buffers", 1, "one job's activations", "a job taken ahead loads its A "
                    "rows too while the current job computes")
        if self.a_buffers == 2 and self.w_buffers != 2:
            raise ConfigError("a_buffers 2 needs two weight buffers (a job's A rows load "
                              "ahead after its W); pass --w-buffers 2 or --a-buffers 1")

        def need_level(name, *means):
            """``name`` is 0, 1 or 2 (an int, not a bool), ``means`` what each does, and
            above 0 needs the core built from parts."""
            v, flag = getattr(self, name), "--" + name.replace("_", "-")
            if v not in (0, 1, 2) or isinstance(v, bool):
                raise ConfigError(f"{name} must be 0, 1 or 2, got {v!r}; pass {flag} 0 "
                                  f"({means[0]}), 1 ({means[1]}) or 2 ({means[2]})")
            if v and not self.core_parts:
                raise ConfigError(f"{name} {v} needs the core built from parts; pass "
                                  f"--core-parts 1 or {flag} 0")

        need_level("ctl_regs", "control from the state decode",
                   "die-wide control signals from registers of their own",
                   "1, and copies of the AND-mode flag and the loader's W flag where they fan "
                   "out")
        need_choice("pe_flag_regs", 0, "flag registers Yosys may merge",
                    "every PE's flags register its own")
        need_level("loader_regs", "the loader reads job control's job values",
                   "the loader decodes each command's values into registers of its own",
                   "1, and the bank writes take the load beat from a run flag of their own")
        clk = self.clock_mhz
        if isinstance(clk, bool) or not isinstance(clk, (int, float)) or not math.isfinite(clk) \
                or not 0 < clk <= MAX_CLOCK_MHZ:
            raise ConfigError(f"clock_mhz must be a finite number in (0, {MAX_CLOCK_MHZ:g}] MHz "
                              f"(FPGA fabric clocks of these devices stay far below 1 GHz), got "
                              f"{clk!r}; pass e.g. --clock-mhz 150")
        bits = memory_bits(self)
        if bits > MAX_MEMORY_BITS:
            raise ConfigError(
                f"the operand memories need {bits:,} bits ({self.rows} activation banks of "
                f"{self.a_bank_depth:,} words, {self.cols} weight banks of {self.w_bank_depth:,} "
                f"words, {self.simd} bits each, {self.pool_open_rows} pool row banks of "
                f"{self.pool_row_depth:,} words), above the bound of {MAX_MEMORY_BITS:,} bits "
                f"(13x the block RAM of the largest device here, xc7a100t: 4.9 Mbit); lower "
                f"--max-m/--max-n/--max-k/--pool-row-depth")

    # ---- matmul datapath ------------------------------------------------------------------
    @property
    def kw_max(self) -> int:
        """Data words (``simd`` bits) per row at K = max_k."""
        return ceil_div(self.max_k, self.simd)

    @property
    def acc_width(self) -> int:
        """Unsigned PE accumulator width: holds a popcount of up to max_k bits."""
        return self.max_k.bit_length()

    @property
    def mm_result_width(self) -> int:
        """Signed width of a matmul result 2*popcount - K in [-max_k, max_k]."""
        return self.acc_width + 1

    @property
    def pe_popcount_latency(self) -> int:
        """Register stages of the PE's popcount tree (simd inputs)."""
        return popcount_latency(self.simd)

    @property
    def pe_latency(self) -> int:
        """Cycles from a PE's operand register to its accumulator update being visible:
        popcount tree (fed by the XNOR/AND directly), accumulator
        (:meth:`hw.rtl.pe.PE.latency_of`)."""
        from .rtl.pe import PE

        return PE.latency_of(self.simd)

    @property
    def skew_register_bits(self) -> int:
        """Flip-flops that skew the array's inputs, row r by r cycles and column c by c
        (one operand-register hop each, :attr:`hw.rtl.pe.PE.OPERAND_REGS`): the single-module
        core delays row r's activation words and flags and column c's weight words
        (R (R - 1) / 2 x (simd + F) + C (C - 1) / 2 x simd, F the flags' width); the core built
        from parts delays the flags there and the banks' read addresses instead of their
        words, as tapped lines (R (R - 1) / 2 x F + (R - 1) x the activation address width +
        (C - 1) x the weight address width; :class:`hw.rtl.parts.operand_banks.OperandBanks`)."""
        from .rtl.pe import PE, flags_layout

        R, C, S = self.rows, self.cols, self.simd
        F = flags_layout(self.hold_banks).size
        hops = PE.OPERAND_REGS
        if not self.core_parts:
            return hops * (R * (R - 1) // 2 * (S + F) + C * (C - 1) // 2 * S)
        return hops * (R * (R - 1) // 2 * F + (R - 1) * self.a_bank_depth.bit_length()
                       + (C - 1) * self.w_bank_depth.bit_length())

    @property
    def tile_rows_max(self) -> int:
        """The most tile rows a job has: ceil(max_m / R)."""
        return ceil_div(self.max_m, self.rows)

    @property
    def a_buffer_words(self) -> int:
        """Words of one job's activations per activation bank (R banks, row m in bank m % R)."""
        return self.tile_rows_max * self.kw_max

    @property
    def a_bank_depth(self) -> int:
        """Words per activation bank: ``a_buffers`` jobs' activations, job j's from word
        (j mod a_buffers) * :attr:`a_buffer_words` on."""
        return self.a_buffers * self.a_buffer_words

    @property
    def w_buffer_words(self) -> int:
        """Words of one job's weights per weight bank (C banks, row n in bank n % C)."""
        return ceil_div(self.max_n, self.cols) * self.kw_max

    @property
    def w_bank_depth(self) -> int:
        """Words per weight bank: ``w_buffers`` jobs' weights, job j's from word
        (j mod w_buffers) * :attr:`w_buffer_words` on."""
        return self.w_buffers * self.w_buffer_words

    @property
    def tile_flush(self) -> int:
        """Cycles after a tile's last read until every hold register has its final value
        (the drain of the tile starts then).

        mm_read_latency (operand memories) + (R - 1) + (C - 1) (skew and hops)
        + 1 (PE operand register) + pe_latency
        (:meth:`hw.rtl.array.SystolicArray.flush_latency` after the read latency).
        """
        from .rtl.array import SystolicArray

        return self.mm_read_latency + SystolicArray.flush_latency(self.rows, self.cols, self.simd)

    @property
    def mm_read_latency(self) -> int:
        """Cycles from a tile read (the controller's ``rd_k``) to its A and W words at the array
        edge: 1 (the tile reader's read-address register,
        :attr:`hw.rtl.parts.tile_reader.TileReader.READ_ADDR_REGS`) + the slower of the
        activation and weight memories, the faster one padded
        (:meth:`hw.rtl.parts.operand_banks.OperandBanks.read_latency`)."""
        from .rtl.parts.operand_banks import OperandBanks
        from .rtl.parts.tile_reader import TileReader

        return TileReader.READ_ADDR_REGS + OperandBanks.read_latency(self)

    @property
    def drain_rows_eff(self) -> int:
        """D, the tile rows per result beat and per drain shift: ``drain_rows``, at most R."""
        return min(self.drain_rows, self.rows)

    @property
    def tile_beats(self) -> int:
        """Result beats of a full tile (R rows): ceil(R / D)."""
        return drain_beats(self.rows, self.drain_rows_eff)

    @property
    def capture_skew(self) -> int:
        """Cycles from PE (0, 0) capturing a tile's sums to PE (R - 1, C - 1) capturing them
        (:meth:`hw.rtl.array.SystolicArray.capture_skew`)."""
        return capture_skew(self.rows, self.cols)

    def tile_period(self, m_valid: int, kw: int) -> int:
        """Fewest cycles between the last reads of a tile with ``m_valid`` rows and the next
        tile: :func:`tile_period` (max(KW, ceil(m_valid / D))) on this config's R, C and D."""
        return tile_period(self.rows, self.cols, self.drain_rows_eff, m_valid, kw)

    def bank_period(self, m_valid: int) -> int:
        """Fewest cycles between the last reads of a tile with ``m_valid`` rows and the tile
        ``hold_banks`` places later (same hold bank): :func:`bank_period`
        (R + C - 2 + ceil(m_valid / D))."""
        return bank_period(self.rows, self.cols, self.drain_rows_eff, m_valid)

    def rows_before_first_read(self, m: int, n: int) -> int:
        """A rows the first tile of an M x N job waits for: :func:`rows_before_first_read`
        on this config's R and C."""
        return rows_before_first_read(self.rows, self.cols, m, n, self.load_rows_eff)

    @property
    def load_rows_eff(self) -> int:
        """G, operand rows per matmul load beat: ``load_rows``, or the largest power of two
        dividing R and C when it is 0 (:func:`largest_load_rows`)."""
        return self.load_rows or largest_load_rows(self.rows, self.cols)

    @property
    def load_to_read(self) -> int:
        """Cycles from the last load beat of a tile row's A rows to the tile row's first read
        (:attr:`hw.rtl.parts.tile_reader.TileReader.LOAD_TO_READ`)."""
        from .rtl.parts.tile_reader import TileReader

        return TileReader.LOAD_TO_READ

    # ---- pool datapath ----------------------------------------------------------------------
    @property
    def pool_lanes_eff(self) -> int:
        """L: planes the pool unit sums at once (values per position): ``pool_lanes``, or C
        when it is 0; at most D * C, the lanes of one result beat."""
        return self.pool_lanes or self.cols

    @property
    def data_width(self) -> int:
        """Bits of a data beat: one pool position (L values of ``pool_bits``) or G =
        ``load_rows_eff`` matmul words, whichever is wider, rounded up to whole ``simd``
        words; a matmul beat uses its low G * ``simd`` bits."""
        return self.simd * max(ceil_div(self.pool_lanes_eff * self.pool_bits, self.simd),
                               self.load_rows_eff)

    @property
    def pool_max_window(self) -> int:
        return self.pool_max_kernel * self.pool_max_kernel

    @property
    def pool_sum_width(self) -> int:
        """Signed width of any pool window sum."""
        return self.pool_bits + ceil_log2(self.pool_max_window)

    @property
    def pool_latency(self) -> int:
        """Cycles from a pool position's issue to its output leaving the pool unit
        (:meth:`hw.rtl.pool.PoolUnit.latency_of`): 1 (value, window tap and flags registered)
        + 1 (running window-row sum) + 3 (open-row bank read, its data register, a
        transport register) + 1 (bank sums) + 1 (output register)."""
        from .rtl.pool import PoolUnit

        return PoolUnit.latency_of(self)

    @property
    def pool_register_bits(self) -> int:
        """Flip-flops of the pool unit's lanes
        (:meth:`hw.rtl.pool.PoolUnit.lane_register_bits`)."""
        from .rtl.pool import PoolUnit

        return PoolUnit.lane_register_bits(self)

    @property
    def pool_min_row_positions(self) -> int:
        """Positions per pool row at least (:attr:`hw.rtl.pool.PoolUnit.MIN_ROW_POSITIONS`):
        a bank word is read again one row after its write."""
        from .rtl.pool import PoolUnit

        return PoolUnit.MIN_ROW_POSITIONS

    # ---- output stream ----------------------------------------------------------------------
    @property
    def lane_width(self) -> int:
        """Bits per output lane (a signed integer, sign-extended, whole bytes)."""
        return _round8(max(self.mm_result_width, self.pool_sum_width))

    @property
    def out_width(self) -> int:
        """Output beat data bits: D row slots of C lanes (D = :attr:`drain_rows_eff`)."""
        return self.drain_rows_eff * self.cols * self.lane_width

    @property
    def out_fifo_depth(self) -> int:
        """Output FIFO entries, in beats (covers the tiles in flight and the pool pipeline):
        :meth:`hw.rtl.parts.result_path.ResultPath.fifo_depth_for`, a power of two."""
        from .rtl.parts.result_path import ResultPath

        return ResultPath.fifo_depth_for(self.tile_beats, self.bank_period(1), self.tile_flush,
                                         self.pool_latency, self.hold_banks)

    @property
    def mm_credit_margin(self) -> int:
        """Output FIFO entries (beats) the tile reader keeps free beyond those promised:
        3 ceil(R / D) (:meth:`hw.rtl.parts.result_path.ResultPath.credit_margin`)."""
        from .rtl.parts.result_path import ResultPath

        return ResultPath.mm_credit_margin(self.tile_beats)

    @property
    def pool_credit_margin(self) -> int:
        """Output FIFO entries the pool unit keeps free beyond those promised: 3
        (:meth:`hw.rtl.parts.result_path.ResultPath.credit_margin`)."""
        from .rtl.parts.result_path import ResultPath

        return ResultPath.pool_credit_margin()

    @property
    def job_start_cycles(self) -> int:
        """Cycles of every job before its first data beat: the command beat and the setup
        cycle (:attr:`hw.rtl.parts.job_control.JobControl.START_CYCLES`)."""
        from .rtl.parts.job_control import JobControl

        return JobControl.START_CYCLES

    @property
    def pool_start_cycles(self) -> int:
        """Cycles from the pool unit's start (the job's setup cycle) to its first position:
        the job's derived sums, sums of those, their comparisons, the sequencer load, the
        position queue (:attr:`hw.rtl.pool.PoolUnit.START_CYCLES`)."""
        from .rtl.pool import PoolUnit

        return PoolUnit.START_CYCLES

    @property
    def result_latency(self) -> int:
        """Cycles from a result leaving the drain or the pool unit to its beat being valid on the
        output: 3 (result registers: hold values, 2*hold - offset, lane masks)
        + 3 (the output FIFO: its non-empty flag and read, the read data, the register queue)
        + 1 more when the FIFO's storage is block RAM, deeper than 32 (its output register)
        (:meth:`hw.rtl.parts.result_path.ResultPath.result_latency`)."""
        from .rtl.parts.result_path import ResultPath

        return ResultPath.result_latency(self.out_fifo_depth)

    def to_dict(self) -> dict:
        """All fields, except those of :data:`LATER_FIELDS` holding the value every config had
        before they existed (so such a config is written exactly as then, and records made then
        read back equal through :meth:`from_dict`)."""
        d = asdict(self)
        for key, before in LATER_FIELDS.items():
            if d[key] == before:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArrayConfig":
        """The config a :meth:`to_dict` dict (a record's, a plan's, a report's) describes: a
        field of :data:`LATER_FIELDS` it leaves out takes the value it had before the field
        existed, not today's default."""
        return cls(**{**LATER_FIELDS, **d})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def tag(self) -> str:
        """Short name for build directories: r8c8s64k2048m512n512d2 (then ``h<n>`` when
        hold_banks is not 2, ``l<L>`` when the pool unit has L != C lanes and ``g<G>`` when a
        load beat carries G > 1 rows, ``p`` with a pool core of its own, ``b`` with the
        single-module core (``core_parts`` 0), ``w`` with ``keep_weights``, ``w2`` with two
        weight buffers, ``a2`` with two activation buffers, ``q`` (``q2``) with control registers
        of their own (``ctl_regs`` 1, 2), ``f`` with every PE's own flags register
        (``pe_flag_regs``), ``j`` (``j2``) with the loader's own job values (``loader_regs`` 1,
        2): r8c8s64k2048m512n512d2h4l16g8p)."""

        def level(tag, value):
            """``tag`` at level 1, ``tag`` and the level above it, nothing at 0."""
            return "" if not value else tag if value == 1 else f"{tag}{value}"
        return (f"r{self.rows}c{self.cols}s{self.simd}k{self.max_k}m{self.max_m}n{self.max_n}"
                f"d{self.drain_rows_eff}" + ("" if self.hold_banks == 2 else f"h{self.hold_banks}")
                + (f"l{self.pool_lanes_eff}" if self.pool_lanes_eff != self.cols else "")
                + (f"g{self.load_rows_eff}" if self.load_rows_eff != 1 else "")
                + ("p" if self.pool_port else "") + ("" if self.core_parts else "b")
                + ("w" if self.keep_weights else "")
                + (f"w{self.w_buffers}" if self.w_buffers != 1 else "")
                + (f"a{self.a_buffers}" if self.a_buffers != 1 else "")
                + level("q", self.ctl_regs) + ("f" if self.pe_flag_regs else "")
                + level("j", self.loader_regs))


DEFAULT = ArrayConfig()


def config_flags(cfg: ArrayConfig, always=("rows", "cols", "simd")) -> list[str]:
    """Command-line flags that rebuild ``cfg``: the fields in ``always`` and every field that
    differs from :data:`DEFAULT` (every field is considered, those that ``to_dict`` leaves
    out at their default too)."""
    out = []
    for name, default in asdict(DEFAULT).items():
        val = getattr(cfg, name)
        if name in always or val != default:
            out += ["--" + name.replace("_", "-"), f"{val:g}" if isinstance(val, float)
                    else str(val)]
    return out

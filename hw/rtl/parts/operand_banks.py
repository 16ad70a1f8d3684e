"""Operand banks: the R activation and C weight memories, read in step for the array."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig
from ..memory import PipelinedMemory
from ..pe import PE
from ..interfaces import read_signature, write_signature
from ..pipeline import delayed

#: Deliberate bug the testbench must catch: ``load_slot_rotated`` (with G = ``load_rows_eff``
#: > 1 rows per load beat) writes each bank the word of the next row slot of the beat.
BANK_FAULTS = ("load_slot_rotated",)


class OperandBanks(wiring.Component):
    """R activation banks and C weight banks (:class:`hw.rtl.memory.PipelinedMemory`, ``simd``
    bits per word), one write and one read port each.

    Ports:

    - ``write`` (in, :func:`hw.rtl.interfaces.write_signature`): bank i (activation bank r, or
      weight bank c) writes slot i mod G of ``data`` at ``addr`` when its enable is high.
    - ``read`` (in, :func:`hw.rtl.interfaces.read_signature`): activation bank r reads
      ``a_addr`` r cycles later, weight bank c reads ``w_addr`` c cycles later (the array's
      skew, :class:`hw.rtl.array.SystolicArray` with ``skewed_inputs``: a tapped line of
      R - 1 and C - 1 address registers instead of R (R - 1) / 2 and C (C - 1) / 2 registers of
      ``simd`` bits behind the memories).
    - ``a`` (out, R x simd), ``w`` (out, C x simd): the words read, ``a[r]``
      :meth:`read_latency` + r cycles after its address on ``a_addr`` and ``w[c]``
      :meth:`read_latency` + c cycles after its address on ``w_addr``, the faster memory padded
      to the slower.

    Latency: :meth:`read_latency` to ``a[0]`` and ``w[0]``, one more per row and column; a write
    is seen by a read of the same word issued in the cycle after it (the memories' two ports
    pass the same input stages). A read reaches bank r r cycles after its address: the words
    must not change in between (every word of a job is written before the job's first read of
    it and not again until the job has drained).
    """

    @staticmethod
    def read_latency(cfg: ArrayConfig) -> int:
        """Cycles from a read address to its words on ``a`` and ``w``: the slower of the
        activation and weight memories (:meth:`hw.rtl.memory.PipelinedMemory.read_latency`)."""
        return max(PipelinedMemory.read_latency(cfg.a_bank_depth, cfg.mem_piece_depth),
                   PipelinedMemory.read_latency(cfg.w_bank_depth, cfg.mem_piece_depth))

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in BANK_FAULTS:
            raise ValueError(f"unknown operand bank fault {fault!r}; known: {BANK_FAULTS}")
        self._cfg, self._fault = cfg, fault
        super().__init__({
            "write": In(write_signature(cfg)),
            "read": In(read_signature(cfg)),
            "a": Out(cfg.simd).array(cfg.rows),
            "w": Out(cfg.simd).array(cfg.cols),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        S, G = cfg.simd, cfg.load_rows_eff
        lat = self.read_latency(cfg)
        wr = self.write

        def slot_of(i):
            """The load beat's slot that bank i writes: i mod G (the fault: the next one)."""
            if G == 1:
                return wr.data
            j = (i + (self._fault == "load_slot_rotated")) % G
            return wr.data[j * S:(j + 1) * S]

        for kind, count, depth, en, addr, out in (
                ("a", cfg.rows, cfg.a_bank_depth, wr.a_en, self.read.a_addr, self.a),
                ("w", cfg.cols, cfg.w_bank_depth, wr.w_en, self.read.w_addr, self.w)):
            skewed = [addr]                 # the address bank i reads: i cycles late
            for i in range(1, count):
                skewed.append(delayed(m, skewed[-1], PE.OPERAND_REGS, f"{kind}_raddr_skew{i}",
                                      reset_less=True))
            for i in range(count):
                mem = PipelinedMemory(S, depth, cfg.mem_piece_depth)
                m.submodules[f"{kind}_bank{i}"] = mem
                m.d.comb += [mem.w_addr.eq(wr.addr), mem.w_data.eq(slot_of(i)),
                             mem.w_en.eq(en[i]), mem.r_addr.eq(skewed[i]),
                             out[i].eq(delayed(m, mem.r_data, lat - mem.latency, f"{kind}{i}",
                                               reset_less=True))]
        return m

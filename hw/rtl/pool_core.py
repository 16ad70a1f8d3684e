"""The pool core: the pool unit with its own command, data and result streams, so that pool jobs
run beside the matmul jobs of a matmul-only :class:`hw.rtl.core.BinaryCore`
(``ArrayConfig.pool_port`` = 1)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig
from .command import idle_state, start_on_op
from .fifo import OutputFIFO
from .formats import OP_POOL, cmd_layout, out_layout
from .pool import POOL_FAULTS, PoolUnit

#: Deliberate bug of the pool core the testbench must catch: ``pool_core_extra_reg`` puts one
#: result register more between the pool unit and the output FIFO than the shared core has, so
#: every pool job ends a cycle later than the cycle model says (its results stay exact).
POOL_CORE_FAULTS = ("pool_core_extra_reg",)


class PoolCore(wiring.Component):
    """Takes pool jobs and streams their window sums, with the timing of a pool job on the shared
    core (:class:`hw.rtl.core.BinaryCore`), so one cycle model covers both.

    Streams (the beat formats of the shared core, hw/README.md):

    - ``cmd``  (in):  one :func:`hw.rtl.formats.cmd_layout` beat per job; a command whose op is
      not ``OP_POOL`` is taken and dropped (no result: matmul jobs go to the matmul core).
    - ``data`` (in):  ``cfg.data_width``-bit beats, one position of L = ``cfg.pool_lanes_eff``
      values each (:func:`hw.rtl.formats.pool_words`).
    - ``out``  (out): ``cfg.out_width``-bit ``data`` and ``last``: one beat per output position,
      pool lane l in lane l (slot l // C, lane l % C); lanes past L zero.

    Latency, the shared core's: the command beat and a setup cycle
    (:attr:`BinaryCore.JOB_START_CYCLES`), the pool unit, then ``RESULT_REGS`` result registers
    and an output FIFO of ``cfg.out_fifo_depth`` entries (the shared core's depth, so the same
    :meth:`BinaryCore.result_latency`; its storage is only L lanes wide). The FIFO count the pool
    unit's credit reads is registered as in the shared core (FIFO level plus staged results).
    """

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in POOL_FAULTS + POOL_CORE_FAULTS:
            raise ValueError(f"unknown pool core fault {fault!r}; known: "
                             f"{POOL_FAULTS + POOL_CORE_FAULTS}")

        self._cfg, self._fault = cfg, fault
        super().__init__({
            "cmd": In(stream.Signature(cmd_layout(cfg))),
            "data": In(stream.Signature(cfg.data_width)),
            "out": Out(stream.Signature(out_layout(cfg))),
        })

    def elaborate(self, platform):
        from .core import BinaryCore

        m = Module()
        cfg = self._cfg
        PL, lw = cfg.pool_lanes_eff, cfg.lane_width
        # beside the core built from parts (core_parts 1), the pool unit with its timing cuts
        # and the start from a register, as in that core (hw.rtl.parts.job_control)
        retimed = cfg.core_parts == 1
        m.submodules.pool = pool = PoolUnit(
            cfg, fault=self._fault if self._fault in POOL_FAULTS else None, retimed=retimed)
        m.submodules.fifo = fifo = OutputFIFO(PL * lw + 1, cfg.out_fifo_depth)

        job = Signal(cmd_layout(cfg))
        for name in PoolUnit.JOB_FIELDS:
            m.d.comb += getattr(pool, name).eq(getattr(job, name))
        m.d.comb += [pool.data.valid.eq(self.data.valid),
                     pool.data.payload.eq(self.data.payload),
                     self.data.ready.eq(pool.data.ready)]

        # result registers (BinaryCore.RESULT_REGS of them, as the pool path of the shared
        # core): each carries (valid, L sums, last); the pool_core_extra_reg fault adds one
        regs = BinaryCore.RESULT_REGS + (self._fault == "pool_core_extra_reg")
        stages = []
        # each sum sign-extended to a lane of the result beat
        sums = [Signal(signed(lw), name=f"sum{l}") for l in range(PL)]
        m.d.comb += [sums[l].eq(pool.o_data[l]) for l in range(PL)]
        src_valid, src_data = pool.o_valid, Cat(*sums, pool.o_last)
        for i in range(regs):
            v = Signal(name=f"res{i}_valid")
            d = Signal(PL * lw + 1, name=f"res{i}_data", reset_less=True)
            m.d.sync += [v.eq(src_valid), d.eq(src_data)]
            stages.append(v)
            src_valid, src_data = v, d
        m.d.comb += [fifo.w_en.eq(src_valid), fifo.w_data.eq(src_data)]
        # registered: FIFO entries plus the staged results, as BinaryCore's `occupied`
        occupied = Signal(range(cfg.out_fifo_depth + regs + 1))
        m.d.sync += occupied.eq(fifo.level + sum(stages))
        m.d.comb += pool.fifo_level.eq(occupied)

        out_lanes = [Signal(signed(lw), name=f"out_lane{l}") for l in range(PL)]
        m.d.comb += [Cat(*out_lanes, self.out.payload.last).eq(fifo.r.payload),
                     self.out.payload.data.eq(Cat(*out_lanes)),
                     self.out.valid.eq(fifo.r.valid), fifo.r.ready.eq(self.out.ready)]

        if retimed:
            start_on_op(m, self.cmd, pool.start, OP_POOL)
        with m.FSM():
            idle_state(m, self.cmd, job)
            with m.State("SETUP"):
                with m.If(job.op == OP_POOL):
                    if not retimed:
                        m.d.comb += pool.start.eq(1)
                    m.next = "POOL"
                with m.Else():
                    m.next = "IDLE"
            with m.State("POOL"):
                with m.If(~pool.busy):
                    m.next = "IDLE"
        return m

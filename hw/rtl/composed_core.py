"""The matmul core as a composition of parts (``ArrayConfig.core_parts`` = 1): job control,
operand loader, operand banks, tile reader, drain control and result path
(:mod:`hw.rtl.parts`), joined by the signatures of :mod:`hw.rtl.interfaces`, around the
systolic array and the pool unit."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from .array import COLUMN_ZERO_FAULTS, SKEWED_INPUT_FAULTS, SystolicArray
from .fifo import FIFO_FAULTS
from .interfaces import CoreStreams
from .parts.drain_control import DrainControl
from .parts.job_control import JOB_FAULTS, JobControl
from .parts.operand_banks import BANK_FAULTS, OperandBanks
from .parts.operand_loader import (KEEP_FAULTS, LOADER_FAULTS, OWN_FAULTS, SPLIT_FAULTS,
                                    OperandLoader)
from .parts.result_path import AND_COPY_FAULTS, ResultPath
from .parts.tile_reader import A_BUFFER_FAULTS, READER_FAULTS, W_BUFFER_FAULTS, TileReader
from .pool import POOL_FAULTS, PoolUnit
from .pool_core import POOL_CORE_FAULTS

#: Every deliberate bug of the composed core, each owned by the part it breaks
FAULTS = (LOADER_FAULTS + SKEWED_INPUT_FAULTS + COLUMN_ZERO_FAULTS + POOL_FAULTS + FIFO_FAULTS
          + READER_FAULTS + BANK_FAULTS + KEEP_FAULTS + W_BUFFER_FAULTS + JOB_FAULTS
          + OWN_FAULTS + SPLIT_FAULTS + A_BUFFER_FAULTS + AND_COPY_FAULTS)


def _fault_for(fault: str | None, owned: tuple[str, ...]) -> str | None:
    return fault if fault in owned else None


class ComposedCore(CoreStreams):
    """Takes whole jobs and streams their integer results: the streams, beat formats and
    cycle timing of :class:`hw.rtl.core.BinaryCore` (one cycle model covers both), built
    from parts that each own their latency.

    Streams: ``cmd`` (in, :func:`hw.rtl.formats.cmd_layout`), ``data`` (in,
    ``cfg.data_width`` bits: a matmul job's load beats to the loader, a pool job's positions to
    the pool unit), ``out`` (out, :func:`hw.rtl.formats.out_layout`); see hw/README.md.

    ``with_pool=False`` (beside a :class:`hw.rtl.pool_core.PoolCore`, ``cfg.pool_port`` = 1)
    leaves the pool unit out: a pool command is taken and dropped in its setup cycle.
    """

    KNOWN_FAULTS = FAULTS

    def elaborate(self, platform):
        m = Module()
        cfg, fault = self._cfg, self._fault
        m.submodules.job = job = JobControl(cfg, with_pool=self._with_pool,
                                            fault=_fault_for(fault, JOB_FAULTS))
        m.submodules.loader = loader = OperandLoader(
            cfg, fault=_fault_for(fault, LOADER_FAULTS + KEEP_FAULTS + OWN_FAULTS
                                  + SPLIT_FAULTS))
        m.submodules.banks = banks = OperandBanks(cfg, fault=_fault_for(fault, BANK_FAULTS))
        m.submodules.reader = reader = TileReader(
            cfg, fault=_fault_for(fault, READER_FAULTS + W_BUFFER_FAULTS + A_BUFFER_FAULTS))
        m.submodules.drain = drain = DrainControl(cfg)
        m.submodules.result = result = ResultPath(
            cfg, fault=_fault_for(fault, FIFO_FAULTS + AND_COPY_FAULTS), with_pool=self._with_pool)
        m.submodules.array = arr = SystolicArray(
            cfg, fault=_fault_for(fault, SKEWED_INPUT_FAULTS + COLUMN_ZERO_FAULTS),
            column_zeros=True, skewed_inputs=True, drain_per_pe=True)

        wiring.connect(m, wiring.flipped(self.cmd), job.cmd)
        if cfg.loader_regs:         # the loader decodes each command's values itself
            m.d.comb += loader.next_job.eq(self.cmd.payload)
        if cfg.w_buffers == 2:      # the loader runs a job of its own, ahead of the others
            wiring.connect(m, job.ctl, reader.ctl, result.ctl)
            wiring.connect(m, job.load, loader.ctl)
            wiring.connect(m, job.ahead, loader.ahead)
            m.d.comb += job.all_loaded.eq(loader.progress.all_loaded)
        else:
            wiring.connect(m, job.ctl, loader.ctl, reader.ctl, result.ctl)
        wiring.connect(m, loader.write, banks.write)
        wiring.connect(m, reader.read, banks.read)
        wiring.connect(m, loader.progress, reader.progress)
        wiring.connect(m, reader.tiles, drain.tiles)
        wiring.connect(m, reader.status, job.tiles)
        wiring.connect(m, drain.drain, result.drain, reader.drain, job.drain)
        wiring.connect(m, result.occupancy, reader.occupancy)
        wiring.connect(m, result.out, wiring.flipped(self.out))
        self._join_array(m, arr, banks, reader, drain, result, job)
        if self._with_pool:
            m.submodules.pool = pool = PoolUnit(cfg, fault=_fault_for(fault, POOL_FAULTS),
                                                retimed=True)
            self._join_pool(m, pool, loader, result, job)
        else:
            m.d.comb += [loader.data.valid.eq(self.data.valid),
                         loader.data.payload.eq(self.data.payload),
                         self.data.ready.eq(loader.data.ready)]
        return m

    @staticmethod
    def _join_array(m, arr, banks, reader, drain, result, job):
        """The array's ports (a component of its own, with flat ports) to the parts."""
        m.d.comb += [*(arr.a[r].eq(banks.a[r]) for r in range(len(banks.a))),
                     *(arr.w[c].eq(banks.w[c]) for c in range(len(banks.w))),
                     arr.flags.eq(reader.flags)]
        m.d.comb += [port[r][c].eq(copy[r][c])
                     for port, copy in ((arr.shift, drain.pe_shift), (arr.drain_bank, drain.pe_bank))
                     for r in range(len(copy)) for c in range(len(copy[0]))]
        m.d.comb += [result.hold_top[d][c].eq(arr.hold_top[d][c])
                     for d in range(len(result.hold_top)) for c in range(len(result.hold_top[0]))]
        m.d.comb += [result.zeros_top[c].eq(arr.zeros_top[c])
                     for c in range(len(result.zeros_top))]

    def _join_pool(self, m, pool, loader, result, job):
        """The pool unit's ports to the parts; the data stream goes to the loader and the
        pool unit, each ready in its own phase."""
        m.d.comb += [pool.start.eq(job.pool_start), job.pool_busy.eq(pool.busy),
                     pool.fifo_level.eq(result.occupancy.occupied),
                     result.pool_valid.eq(pool.o_valid), result.pool_data.eq(pool.o_data),
                     result.pool_last.eq(pool.o_last),
                     *(getattr(pool, name).eq(getattr(job.ctl.job, name))
                       for name in PoolUnit.JOB_FIELDS),
                     loader.data.valid.eq(self.data.valid), pool.data.valid.eq(self.data.valid),
                     loader.data.payload.eq(self.data.payload),
                     pool.data.payload.eq(self.data.payload),
                     self.data.ready.eq(loader.data.ready | pool.data.ready)]


__all__ = ["ComposedCore", "FAULTS", "POOL_CORE_FAULTS"]

"""Output FIFO: block-RAM or LUT-RAM storage read on registered decisions only, into a register
queue, so that the output's handshake never reaches the storage's wide read-data register."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .queue import RegisterQueue

#: Deliberate bugs the testbench must catch: ``fifo_overfill`` reads the storage while the
#: queue and the reads in flight already hold :meth:`OutputFIFO.queue_depth` entries (its room
#: count one too high), so under output back-pressure an entry reaches a full queue and is lost;
#: ``fifo_early_take`` (block-RAM storage: two read-data registers) lets the queue take a read
#: one register early, so it holds the previous entry's data.
FIFO_FAULTS = ("fifo_overfill", "fifo_early_take")


class OutputFIFO(wiring.Component):
    """A ``width``-bit first-in first-out buffer of ``depth`` (a power of two) storage entries
    and a :class:`hw.rtl.queue.RegisterQueue` of :meth:`queue_depth` entries behind it.

    Ports:

    ===========  ============  =====================================================
    ``w_en``     in 1          write ``w_data`` this cycle (the writer never writes into a
                               full storage: the core's credit counts ``level``)
    ``w_data``   in ``width``
    ``level``    out           storage entries in use (entries that moved on to the
                               queue no longer count)
    ``r``        out           stream of ``width`` bits; ``r.valid`` is a register
    ===========  ============  =====================================================

    Structure and latency: the storage is read when it holds an entry (a registered flag)
    and the queue will have room for it (a registered count of the queue's entries and the
    reads in flight): one gate of two registers, so the read address and the count are the
    only things it enables. The read data passes :meth:`read_regs` registers that load
    unconditionally (a LUT RAM's data register; a block RAM's own register and then its
    output register, which the ECP5 flow folds into the RAM,
    :mod:`hw.synth.bram_outreg`: without it a block RAM's 5.8 ns clock-to-out plus a route
    bounded the clock), and the queue takes it. An entry written in cycle t is on ``r`` in
    cycle t + :meth:`latency` (t + 1: the flag sees it, and the read; then the read-data
    registers; then the queue), one per cycle while ``r.ready`` stays high. ``free_writes``:
    the queue's (:class:`hw.rtl.queue.RegisterQueue`).
    """

    #: storages deeper than this go to block RAM (what yosys 0.70 does on ECP5, the LUT-RAM
    #: limit of :data:`hw.cost.resources.LUTRAM_MAX_DEPTH`) and get the output register
    LUT_RAM_MAX_DEPTH = 32

    @classmethod
    def read_regs(cls, depth: int) -> int:
        """Registers of the read data of a ``depth``-entry storage: 1, or 2 in block RAM."""
        return 1 + (depth > cls.LUT_RAM_MAX_DEPTH)

    @classmethod
    def latency(cls, depth: int) -> int:
        """Cycles from ``w_en`` to the entry on ``r``: the registered non-empty flag and the
        read, the read-data registers, the queue."""
        return 1 + cls.read_regs(depth) + RegisterQueue.LATENCY

    @classmethod
    def queue_depth(cls, depth: int) -> int:
        """Entries of the queue behind the storage: one entry per cycle needs one per read in
        flight, one in the queue and one more for the count that sees a read from the queue
        a cycle late."""
        return cls.read_regs(depth) + 2

    def __init__(self, width: int, depth: int, *, fault: str | None = None,
                 free_writes: bool = False):
        if fault is not None and fault not in FIFO_FAULTS:
            self._MustUse__silence = True
            raise ValueError(f"unknown output FIFO fault {fault!r}; known: {FIFO_FAULTS}")
        self._fault = fault
        for name, v in (("width", width), ("depth", depth)):
            if not isinstance(v, int) or v < 1:
                self._MustUse__silence = True
                raise ValueError(f"OutputFIFO {name} must be an integer >= 1, got {v!r}")
        if depth & (depth - 1):
            self._MustUse__silence = True
            raise ValueError(f"OutputFIFO depth must be a power of two, got {depth}")
        self._width, self._depth, self._free_writes = width, depth, free_writes
        super().__init__({
            "w_en": In(1), "w_data": In(width), "level": Out(range(depth + 1)),
            "r": Out(stream.Signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, q, nreg = self._depth, self.queue_depth(self._depth), self.read_regs(self._depth)
        # a read is never of the address written in the same cycle (the non-empty flag is a
        # cycle late), so Yosys needs no read-during-write logic
        m.submodules.storage = mem = Memory(shape=unsigned(self._width), depth=n, init=[],
                                            attrs={"no_rw_check": 1})
        wp, rp = mem.write_port(), mem.read_port()
        m.submodules.queue = queue = RegisterQueue(self._width, q,
                                                   free_writes=self._free_writes)
        produce = Signal(range(n), name="produce")
        consume = Signal(range(n), name="consume")
        nonempty = Signal()                             # registered: level != 0
        held = Signal(range(q + 1))                     # registered: queue entries + reads
        fetched = Signal(nreg)                          # registered: reads 1..nreg cycles ago
        rd = Signal()
        # the read data behind the storage's own register: nreg - 1 more, loaded every cycle
        rdata = rp.data
        for i in range(nreg - 1):
            q_i = Signal.like(rp.data, name=f"rdata_q{i}", reset_less=True)
            m.d.sync += q_i.eq(rdata)
            rdata = q_i
        m.d.comb += [
            wp.addr.eq(produce), wp.data.eq(self.w_data), wp.en.eq(self.w_en),
            rp.addr.eq(consume),
            # (the fifo_overfill fault: room for one entry more than the queue has)
            rd.eq(nonempty & (held < q + (self._fault == "fifo_overfill"))),
            # (the fifo_early_take fault: one read-data register short)
            queue.i.valid.eq(fetched[-2] if self._fault == "fifo_early_take" and nreg > 1
                             else fetched[-1]),
            queue.i.payload.eq(rdata),
            self.r.valid.eq(queue.o.valid), self.r.payload.eq(queue.o.payload),
            queue.o.ready.eq(self.r.ready),
        ]
        taken = Signal()
        m.d.comb += taken.eq(queue.o.valid & queue.o.ready)
        m.d.sync += [
            produce.eq(produce + self.w_en), consume.eq(consume + rd),
            fetched.eq(Cat(rd, fetched[:-1])),
            self.level.eq(self.level + self.w_en - rd),
            nonempty.eq(Mux(self.w_en, 1, Mux(rd, self.level > 1, nonempty))),
            held.eq(held + rd - taken),
        ]
        return m

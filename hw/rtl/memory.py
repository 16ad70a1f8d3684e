"""Operand memory: block-RAM-shaped slices with registered ports, so that no timing path holds a
block RAM's clock-to-out or a long route plus logic."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import ceil_div, ceil_log2, mem_piece_words, read_write_slice_bits
from .pipeline import delayed


class PipelinedMemory(wiring.Component):
    """A ``width`` x ``depth`` memory with one write port and one read port, usable in the same
    cycle at different addresses (the controller loads a job's later activation rows while it
    reads the earlier ones). A read of the address written in the same cycle is undefined in
    the block RAMs (``no_rw_check``: Yosys adds no bypass logic); the controller never does it.

    Structure, from the ports inwards (:meth:`read_latency` counts the stages):

    1. Input register: write enable, write data, write address and read address (two address
       chains: Yosys maps them to the block RAM's two ports). Then a second input register per
       piece, and a third one (addresses and write enable) per group of
       :attr:`SLICES_PER_ADDRESS` slices, so that no route spans the whole die in one hop and
       no address net drives many block RAMs (the slices of a memory spread over the block-RAM
       rows). The third registers are copies of one value: each is named
       ``piece<i>_g<g>_waddr`` / ``_raddr`` / ``_we`` and
       :func:`hw.rtl.verilog.keep_replicas` marks them ``keep`` in the Verilog, so Yosys does
       not merge them back into one.
    2. Pieces of ``piece_depth`` words (:func:`hw.config.mem_piece_words`), each cut into slices
       of :func:`hw.config.read_write_slice_bits` bits: a slice is exactly one ECP5 DP16KD
       (16384 x 1 ... 1024 x 18, or 512 x 36 in pseudo-dual-port mode for pieces of at most
       512 words: half the block RAMs of 18-bit slices), so Yosys needs no depth multiplexer
       after the block RAM.
    3. Output register right behind each slice, with no reset and no logic in between:
       the synthesis flow folds it into the DP16KD's own output register (``REGMODE=OUTREG``,
       :func:`hw.synth.bram_outreg.absorb_bram_output_registers`), which cuts the block RAM's clock-to-out
       from ~5.8 ns to ~1 ns on ECP5 speed 6 (nextpnr timing data).
    4. Three transport registers (the placer spreads them between the block RAM and the
       consumer).
    5. With more than one piece: registered 4:1 multiplexer levels select the addressed piece.

    Read data appears ``latency`` cycles after ``r_addr``; a write issued in cycle t is seen
    by a read issued in cycle t + 1 or later (both addresses pass the same input stages).
    """

    #: input registers: the addresses (and write data), then one per piece, then one per group
    #: of slices
    INPUT_REGS = 3
    #: block-RAM slices that one copy of the address (and write enable) register drives
    SLICES_PER_ADDRESS = 4
    #: the block RAM's synchronous read and the read-data register right behind each slice
    RAM_REGS = 2
    #: transport registers behind the read-data register
    TRANSPORT_REGS = 3
    #: pieces that one registered multiplexer level selects from
    MUX_WAYS = 4

    @classmethod
    def mux_levels(cls, pieces: int) -> int:
        """Registered ``MUX_WAYS``:1 multiplexer levels that select one of ``pieces``."""
        levels = 0
        while pieces > 1:
            pieces = ceil_div(pieces, cls.MUX_WAYS)
            levels += 1
        return levels

    @classmethod
    def read_latency(cls, depth: int, piece_depth: int = 16384) -> int:
        """Cycles from ``r_addr`` to ``r_data`` of a ``depth``-word memory cut into pieces of
        ``piece_depth`` words: input, block-RAM and transport registers, then the mux levels."""
        pieces = ceil_div(depth, mem_piece_words(depth, piece_depth))
        return cls.INPUT_REGS + cls.RAM_REGS + cls.TRANSPORT_REGS + cls.mux_levels(pieces)

    def __init__(self, width: int, depth: int, piece_depth: int = 16384):
        for name, v in (("width", width), ("depth", depth), ("piece_depth", piece_depth)):
            if not isinstance(v, int) or v < 1:
                self._MustUse__silence = True
                raise ValueError(f"PipelinedMemory {name} must be an integer >= 1, got {v!r}")
        self._width, self._depth = width, depth
        self._piece = mem_piece_words(depth, piece_depth)
        self._pieces = ceil_div(depth, self._piece)
        self._slice = read_write_slice_bits(self._piece)
        abits = max(1, ceil_log2(depth))
        super().__init__({
            "w_addr": In(abits), "w_data": In(width), "w_en": In(1),
            "r_addr": In(abits), "r_data": Out(width),
        })

    @property
    def pieces(self) -> int:
        """Address ranges of ``piece_depth`` words (selected by the output mux tree)."""
        return self._pieces

    @property
    def slices(self) -> int:
        """Block-RAM-shaped slices per piece."""
        return ceil_div(self._width, self._slice)

    @property
    def latency(self) -> int:
        """Cycles from ``r_addr`` to ``r_data``."""
        return self.read_latency(self._depth, self._piece)

    def elaborate(self, platform):
        m = Module()
        pb = ceil_log2(self._piece)
        # 1. input register: both addresses, the write data and enable
        waddr = Signal.like(self.w_addr, name="waddr_q", reset_less=True)
        raddr = Signal.like(self.r_addr, name="raddr_q", reset_less=True)
        wdata = Signal.like(self.w_data, name="wdata_q", reset_less=True)
        wen = Signal(name="wen_q")
        m.d.sync += [waddr.eq(self.w_addr), raddr.eq(self.r_addr), wen.eq(self.w_en)]
        with m.If(self.w_en):
            # loaded only on a write: memories fed the same data keep registers of their own
            # (Yosys would merge identical ones into one flip-flop driving every block RAM)
            m.d.sync += wdata.eq(self.w_data)
        sel = Signal(max(1, ceil_log2(self._pieces)), name="sel_q", reset_less=True)
        if self._pieces > 1:
            m.d.sync += sel.eq(raddr >> pb)

        outs = []
        for i in range(self._pieces):
            # 2. a second input register per piece (placed near its block RAMs; the first one
            # sits between the controller and here), 3. the block-RAM-shaped slices, 4. their
            # output registers (no reset, no logic: OUTREG-foldable)
            waddr2 = Signal(pb, name=f"piece{i}_waddr", reset_less=True)
            raddr2 = Signal(pb, name=f"piece{i}_raddr", reset_less=True)
            wdata2 = Signal(self._width, name=f"piece{i}_wdata", reset_less=True)
            we2 = Signal(name=f"piece{i}_we")
            # (no enables here: a shared enable net would pull the 32 data flip-flops together,
            # away from their scattered slices)
            m.d.sync += [waddr2.eq(waddr[:pb]), raddr2.eq(raddr[:pb]), wdata2.eq(wdata),
                         we2.eq(wen & ((waddr >> pb) == i) if self._pieces > 1 else wen)]
            wdata3 = Signal(self._width, name=f"piece{i}_wdata3", reset_less=True)
            m.d.sync += wdata3.eq(wdata2)
            q = Signal(self._width, name=f"piece{i}_q", reset_less=True)
            for s in range(self.slices):
                g = s // self.SLICES_PER_ADDRESS
                if s % self.SLICES_PER_ADDRESS == 0:   # 1c. the group's copies (see keep_replicas)
                    waddr3 = Signal(pb, name=f"piece{i}_g{g}_waddr", reset_less=True)
                    raddr3 = Signal(pb, name=f"piece{i}_g{g}_raddr", reset_less=True)
                    we3 = Signal(name=f"piece{i}_g{g}_we", reset_less=True)
                    m.d.sync += [waddr3.eq(waddr2), raddr3.eq(raddr2), we3.eq(we2)]
                lo, hi = s * self._slice, min(self._width, (s + 1) * self._slice)
                # no_rw_check: the controller never reads a word in the cycle it is written,
                # so Yosys need not emulate read-during-write across the two ports (no bypass
                # logic between the block RAM and its output register)
                mem = Memory(shape=hi - lo, depth=self._piece, init=[],
                             attrs={"no_rw_check": 1})
                m.submodules[f"piece{i}_slice{s}"] = mem
                wp, rp = mem.write_port(), mem.read_port()
                m.d.comb += [wp.addr.eq(waddr3), wp.data.eq(wdata3[lo:hi]), wp.en.eq(we3),
                             rp.addr.eq(raddr3)]
                m.d.sync += q[lo:hi].eq(rp.data)
            # 5. the transport registers (the placer spreads them between the block RAM and the
            # consumer: the slices of one memory lie far apart, up to a die width away)
            t = delayed(m, q, self.TRANSPORT_REGS, f"piece{i}_t", reset_less=True)
            outs.append(t)

        # 6. registered 4:1 mux levels; the piece index (registered alongside the second input
        # register) follows the data through the block RAM and transport registers
        sel_d = sel
        for d in range(self.INPUT_REGS - 2 + self.RAM_REGS + self.TRANSPORT_REGS):
            nxt = Signal.like(sel, name=f"sel_d{d + 1}")
            m.d.sync += nxt.eq(sel_d)
            sel_d = nxt
        ways, wbits = self.MUX_WAYS, ceil_log2(self.MUX_WAYS)
        level, shift = outs, 0
        for _ in range(self.mux_levels(self._pieces)):
            nxt_level = []
            for g in range(0, len(level), ways):
                group = level[g:g + ways]
                reg = Signal(self._width, name=f"mux{shift}_{g // ways}", reset_less=True)
                idx = sel_d[shift:shift + wbits] if len(sel_d) > shift else 0
                with m.Switch(idx):
                    for j, sig in enumerate(group):
                        with m.Case(j):
                            m.d.sync += reg.eq(sig)
                nxt_level.append(reg)
            level = nxt_level
            shift += wbits
            nsel = Signal.like(sel, name=f"sel_l{shift}")
            m.d.sync += nsel.eq(sel_d)
            sel_d = nsel
        assert len(level) == 1
        m.d.comb += self.r_data.eq(level[0])
        return m

"""Operand memory built from block-RAM-sized pieces with a registered read mux tree."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import ceil_div, ceil_log2, mem_read_latency


class PipelinedMemory(wiring.Component):
    """A ``width`` x ``depth`` memory (one write port, one read port) split into pieces of
    ``piece_depth`` words (``ArrayConfig.mem_piece_depth``; 512 = one ECP5 DP16KD at 512 x 36). Each piece's read data is registered right at the piece, then a tree of
    registered 4:1 multiplexers selects the addressed piece, so no path holds a block RAM's
    clock-to-out plus routing plus logic (a single piece is registered too). Read data appears
    ``latency`` cycles after ``r_addr``.
    """

    def __init__(self, width: int, depth: int, piece_depth: int = 512):
        for name, v in (("width", width), ("depth", depth), ("piece_depth", piece_depth)):
            if not isinstance(v, int) or v < 1:
                self._MustUse__silence = True
                raise ValueError(f"PipelinedMemory {name} must be an integer >= 1, got {v!r}")
        self._width, self._depth = width, depth
        self._piece = min(piece_depth, 1 << ceil_log2(depth))
        self._pieces = ceil_div(depth, self._piece)
        abits = max(1, ceil_log2(depth))
        super().__init__({
            "w_addr": In(abits), "w_data": In(width), "w_en": In(1),
            "r_addr": In(abits), "r_data": Out(width),
        })

    @property
    def pieces(self) -> int:
        return self._pieces

    @property
    def latency(self) -> int:
        """Cycles from ``r_addr`` to ``r_data``."""
        return mem_read_latency(self._depth, self._piece)

    def elaborate(self, platform):
        m = Module()
        pb = ceil_log2(self._piece)
        outs = []
        for i in range(self._pieces):
            mem = Memory(shape=self._width, depth=self._piece, init=[])
            m.submodules[f"piece{i}"] = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.addr.eq(self.w_addr[:pb]), wp.data.eq(self.w_data),
                         wp.en.eq(self.w_en & ((self.w_addr >> pb) == i)),
                         rp.addr.eq(self.r_addr[:pb])]
            q = Signal(self._width, name=f"piece{i}_q")
            m.d.sync += q.eq(rp.data)
            outs.append(q)
        # piece index, delayed to line up with each level of the tree
        sel = Signal(max(1, ceil_log2(self._pieces)), name="sel0")
        if self._pieces > 1:
            m.d.comb += sel.eq(self.r_addr >> pb)
        sel_d = sel
        for d in range(2):          # block RAM read, piece register
            nxt = Signal.like(sel, name=f"sel_d{d + 1}")
            m.d.sync += nxt.eq(sel_d)
            sel_d = nxt
        level, shift = outs, 0
        while len(level) > 1:
            nxt_level = []
            for g in range(0, len(level), 4):
                group = level[g:g + 4]
                reg = Signal(self._width, name=f"mux{shift}_{g // 4}")
                idx = sel_d[shift:shift + 2] if len(sel_d) > shift else 0
                with m.Switch(idx):
                    for j, sig in enumerate(group):
                        with m.Case(j):
                            m.d.sync += reg.eq(sig)
                nxt_level.append(reg)
            level = nxt_level
            shift += 2
            nsel = Signal.like(sel, name=f"sel_l{shift}")
            m.d.sync += nsel.eq(sel_d)
            sel_d = nsel
        m.d.comb += self.r_data.eq(level[0])
        return m

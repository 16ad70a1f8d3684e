"""Pool unit: exact integer window sums with bit-plane popcounts (reuses the PE's tree)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig, ceil_log2
from .popcount import Popcount


class PoolUnit(wiring.Component):
    """Walks every output (p, i, j) of a pool job and every window row di of it, reading the
    ``S = ceil((kw-1)/V) + 1`` memory words (V = ``pool_lanes`` values each) that can hold the
    window's columns, one word per cycle (so ``kh * S`` cycles per output, no data dependence).

    Per word: the lanes outside the window (or in zero padding) are masked to 0 (the 0/1 window
    mask), the ``pool_bits`` bit-planes of the V lanes each go through a :class:`Popcount` tree,
    and the plane counts are shift-added with the MSB plane negative (two's complement):
    sum = sum_b pc_b * 2**b - pc_(B-1) * 2**(B-1)... i.e. weight -2**(B-1) for the sign plane.
    The partial sums accumulate over the window and one signed sum per output leaves on ``o_*``.

    Memory layout (written by the loader): row (p, y) of the input holds ``ww = ceil(W/V)`` words
    at addresses ``(p*H + y) * ww + 0 .. ww-1``; value x lies in lane x % V of word x // V.

    Flow control: a new output is only started while ``fifo_level`` + outputs in flight is below
    ``fifo_depth``, so the pipeline never stalls and never overflows the output FIFO.
    """

    def __init__(self, cfg: ArrayConfig):
        self._cfg = cfg
        kb = (cfg.pool_max_kernel + 1).bit_length()
        db = (cfg.pool_max_dim + 1).bit_length()
        super().__init__({
            "start": In(1),
            "p": In(range(cfg.pool_max_planes + 1)), "h": In(range(cfg.pool_max_dim + 1)),
            "w": In(range(cfg.pool_max_dim + 1)),
            "kh": In(kb), "kw": In(kb), "sh": In(kb), "sw": In(kb), "ph": In(kb), "pw": In(kb),
            "ww": In(db), "s_words": In(kb),
            "rd_addr": Out(range(cfg.pool_depth)), "rd_data": In(cfg.simd),
            "fifo_level": In(range(cfg.out_fifo_depth + 1)),
            "o_valid": Out(1), "o_sum": Out(signed(cfg.pool_sum_width)), "o_last": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        V, B = cfg.pool_lanes, cfg.pool_bits
        kb = len(self.kh)
        lgv = ceil_log2(V)
        sbits = max(cfg.pool_max_dim, cfg.pool_max_kernel).bit_length() + \
            cfg.pool_max_kernel.bit_length() + 3
        # a loaded row holds >= 1 memory word, so every valid row index is below pool_depth
        rows_total = cfg.pool_depth

        def stage(values, name):
            """Register every signal of ``values`` (a dict) once; return the registered dict."""
            out = {}
            for key, sig in values.items():
                reg = Signal.like(sig, name=f"{name}_{key}") if isinstance(sig, Signal) else \
                    Signal(sig.shape(), name=f"{name}_{key}")
                m.d.sync += reg.eq(sig)
                out[key] = reg
            return out

        # ---- sequencer: counters of the step being issued. Every decision reads a register
        # bit (a sign or a flag), never a comparator: the "remaining" counters below run down
        # to -1, so "last" / "more" are their sign bits ------------------------------------------
        running = Signal()
        p = Signal(range(cfg.pool_max_planes + 1))
        prow = Signal(range(rows_total + 1))
        ri = Signal(signed(sbits))     # i*sh - ph
        lo = Signal(signed(sbits))     # j*sw - pw
        di = Signal.like(self.kh)
        s = Signal.like(self.s_words)
        s_rem = Signal(signed(kb + 1))     # s_words - 2 - s: negative at the last word
        di_rem = Signal(signed(kb + 1))    # kh - 2 - di: negative at the last window row
        j_rem = Signal(signed(sbits))      # (w + pw - kw - sw) - lo: >= 0 while j may advance
        i_rem = Signal(signed(sbits))      # (h + ph - kh - sh) - ri: >= 0 while i may advance
        p_rem = Signal(signed(cfg.pool_max_planes.bit_length() + 1))   # P - 2 - p
        s_init = Signal.like(s_rem)
        di_init = Signal.like(di_rem)
        inflight = Signal(range(cfg.out_fifo_depth + 1))
        credit = Signal()              # registered: a new output may start this cycle
        at_start = Signal(init=1)      # registered: the next step starts a new output

        issue = Signal()
        last_s, last_di = Signal(), Signal()
        more_j, more_i, more_p = Signal(), Signal(), Signal()
        m.d.comb += [
            issue.eq(running & (~at_start | credit)),
            last_s.eq(s_rem[-1]),
            last_di.eq(di_rem[-1]),
            more_j.eq(~j_rem[-1]),
            more_i.eq(~i_rem[-1]),
            more_p.eq(~p_rem[-1]),
            self.busy.eq(running | (inflight != 0)),
        ]
        # level + inflight grows by at most 1 per cycle (issues); fifo_level is a registered
        # count (one cycle late) and credit is registered, so a margin of 3 keeps the FIFO
        # from ever overflowing
        m.d.sync += [inflight.eq(inflight + (issue & at_start) - self.o_valid),
                     credit.eq(self.fifo_level + inflight + 3 <= cfg.out_fifo_depth)]

        # job constants: free-running registers of the job fields (stable from the cycle after
        # the command; s_words from the one after that), two stages deep, so they have settled
        # when `start` comes (>= 3 cycles after the command: setup, >= 1 load beat, start)
        j_init = Signal.like(j_rem)      # w - kw - sw
        i_init = Signal.like(i_rem)      # h - kh - sh
        j_start = Signal.like(j_rem)     # j_rem at lo = -pw: (w + pw - kw - sw) + pw
        i_start = Signal.like(i_rem)     # i_rem at ri = -ph
        p_init = Signal.like(p_rem)
        m.d.sync += [s_init.eq(self.s_words - 2), di_init.eq(self.kh - 2), p_init.eq(self.p - 2),
                     j_init.eq(self.w - self.kw - self.sw), i_init.eq(self.h - self.kh - self.sh),
                     j_start.eq(j_init + (self.pw << 1)), i_start.eq(i_init + (self.ph << 1))]

        with m.If(self.start):
            m.d.sync += [s_rem.eq(s_init), di_rem.eq(di_init), j_rem.eq(j_start),
                         i_rem.eq(i_start), p_rem.eq(p_init),
                         running.eq(1), p.eq(0), prow.eq(0), ri.eq(-self.ph), lo.eq(-self.pw),
                         di.eq(0), s.eq(0), at_start.eq(1)]
        with m.Elif(issue):
            m.d.sync += at_start.eq(last_s & last_di)
            with m.If(~last_s):
                m.d.sync += [s.eq(s + 1), s_rem.eq(s_rem - 1)]
            with m.Else():
                m.d.sync += [s.eq(0), s_rem.eq(s_init)]
                with m.If(~last_di):
                    m.d.sync += [di.eq(di + 1), di_rem.eq(di_rem - 1)]
                with m.Else():
                    m.d.sync += [di.eq(0), di_rem.eq(di_init)]
                    with m.If(more_j):
                        m.d.sync += [lo.eq(lo + self.sw), j_rem.eq(j_rem - self.sw)]
                    with m.Else():
                        m.d.sync += [lo.eq(-self.pw), j_rem.eq(j_start)]
                        with m.If(more_i):
                            m.d.sync += [ri.eq(ri + self.sh), i_rem.eq(i_rem - self.sh)]
                        with m.Else():
                            m.d.sync += [ri.eq(-self.ph), i_rem.eq(i_start)]
                            with m.If(more_p):
                                m.d.sync += [p.eq(p + 1), prow.eq(prow + self.h),
                                             p_rem.eq(p_rem - 1)]
                            with m.Else():
                                m.d.sync += running.eq(0)

        # ---- stage 1: window row; stage 2: row index, word index, window end ---------------
        r0 = Signal(signed(sbits))
        lopos0 = Signal(sbits)
        m.d.comb += [r0.eq(ri + di), lopos0.eq(Mux(lo[-1], 0, lo))]
        s1 = stage({"v": issue, "first": at_start, "last": last_s & last_di,
                    "final": last_s & last_di & ~more_j & ~more_i & ~more_p,
                    "r": r0, "lo": lo, "lopos": lopos0, "s": s, "prow": prow}, "s1")
        row1 = Signal(range(rows_total + 1))
        widx1 = Signal(range(cfg.pool_max_dim + cfg.pool_max_kernel + 2))
        lohi1 = Signal(signed(sbits + 1))
        rowok1 = Signal()
        m.d.comb += [row1.eq(s1["prow"] + s1["r"]), widx1.eq((s1["lopos"] >> lgv) + s1["s"]),
                     lohi1.eq(s1["lo"] + self.kw),
                     rowok1.eq(~s1["r"][-1] & (s1["r"] < self.h))]
        flags = ("v", "first", "last", "final")
        s2 = stage({**{k: s1[k] for k in flags}, "row": row1, "widx": widx1, "lo": s1["lo"],
                    "lohi": lohi1, "rowok": rowok1}, "s2")

        # ---- stage 3: row * words-per-row, lane masks; stage 4: address --------------------
        prod2 = Signal(range(rows_total * (cfg.pool_max_dim + 1) + 1))
        mask2 = Signal(V)
        m.d.comb += prod2.eq(s2["row"] * self.ww)
        for lane in range(V):
            col = Signal(signed(sbits + 2), name=f"col{lane}")
            m.d.comb += col.eq(Cat(Const(lane, lgv), s2["widx"]) if lgv else s2["widx"])
            m.d.comb += mask2[lane].eq(s2["rowok"] & (col >= s2["lo"]) & (col < s2["lohi"])
                                       & (col < self.w))
        s3 = stage({**{k: s2[k] for k in flags}, "prod": prod2, "widx": s2["widx"],
                    "mask": mask2}, "s3")
        addr3 = Signal(range(cfg.pool_depth))
        m.d.comb += addr3.eq(s3["prod"] + s3["widx"])
        s4 = stage({**{k: s3[k] for k in flags}, "addr": addr3, "mask": s3["mask"]}, "s4")
        m.d.comb += self.rd_addr.eq(s4["addr"])

        # ---- memory word arrives (pool_read_latency later); mask, bit-planes, popcounts -------
        s5 = {**{k: s4[k] for k in flags}, "mask": s4["mask"]}
        for d in range(cfg.pool_read_latency):
            s5 = stage(s5, f"rd{d + 1}")
        word = Signal(cfg.simd)
        m.d.comb += word.eq(self.rd_data)
        masked = []
        for lane in range(V):
            mv = Signal(B, name=f"masked{lane}")
            m.d.comb += mv.eq(Mux(s5["mask"][lane], word[lane * B:(lane + 1) * B], 0))
            masked.append(mv)
        terms = []
        for b in range(B):
            plane = Signal(V, name=f"plane{b}")
            m.d.comb += plane.eq(Cat(mv[b] for mv in masked))
            tree = Popcount(V)
            m.submodules[f"plane_pc{b}"] = tree
            m.d.comb += tree.i.eq(plane)
            term = Signal(signed(cfg.pool_sum_width), name=f"term{b}")
            # bit-plane weight 2**b, the sign plane -2**(B-1) (two's complement)
            m.d.comb += term.eq(-(tree.o << b) if b == B - 1 else (tree.o << b))
            terms.append(term)
        fl = {k: s5[k] for k in flags}
        for d in range(cfg.pool_popcount_latency):
            fl = stage(fl, f"pc{d + 1}")

        # ---- shift-add of the plane counts: a registered pairwise adder tree ---------------
        level, depth = terms, 0
        while len(level) > 1:
            depth += 1
            nxt = []
            for j in range(0, len(level), 2):
                reg = Signal(signed(cfg.pool_sum_width), name=f"sum{depth}_{j // 2}")
                m.d.sync += reg.eq(level[j] + level[j + 1] if j + 1 < len(level) else level[j])
                nxt.append(reg)
            level = nxt
            fl = stage(fl, f"sum{depth}")
        part = level[0]

        # ---- accumulate over the window, then the output register ---------------------------
        acc = Signal(signed(cfg.pool_sum_width))
        acc_next = Signal(signed(cfg.pool_sum_width))
        m.d.comb += acc_next.eq(Mux(fl["first"], 0, acc) + part)
        with m.If(fl["v"]):
            m.d.sync += acc.eq(acc_next)
        m.d.sync += [self.o_valid.eq(fl["v"] & fl["last"]), self.o_sum.eq(acc_next),
                     self.o_last.eq(fl["v"] & fl["final"])]
        return m

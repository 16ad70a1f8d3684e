"""Pool unit: exact integer window sums with bit-plane popcounts (reuses the PE's tree)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig, ceil_log2
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

    Timing: the first step issues :attr:`START_CYCLES` after ``start``; a step's address is on
    ``rd_addr`` :meth:`addr_latency` cycles after its issue, its memory word is expected on
    ``rd_data`` ``pool_read_latency`` cycles later, and an output leaves on ``o_*``
    :meth:`data_latency` cycles after the word of its last step (:meth:`latency_of` in all).
    """

    #: cycles from ``start`` to the first step's issue: the cycle that loads the sequencer, then
    #: one priming cycle
    START_CYCLES = 2
    #: registered stages from a step's issue to the row multiplier: (1) window row, (2) row
    #: index, word index, window end
    INDEX_STAGES = 2
    #: the registered memory address and lane masks (``rd_addr``)
    ADDR_REGS = 1
    #: the output register (``o_valid``, ``o_sum``, ``o_last``)
    OUT_REGS = 1
    #: registers between an issue or an output and the count of outputs in flight that the credit
    #: check reads (the count itself)
    COUNT_REGS = 1

    @staticmethod
    def mul_levels(max_dim: int) -> int:
        """Registered pairwise adder levels of the row x words-per-row shift-add tree: one partial
        product per bit of a words-per-row value up to ``max_dim``."""
        return max(1, ceil_log2((max_dim + 1).bit_length()))

    @staticmethod
    def plane_sum_levels(bits: int) -> int:
        """Registered pairwise adder levels that shift-add the ``bits`` bit-plane counts."""
        return ceil_log2(bits)

    @classmethod
    def addr_latency(cls, cfg: ArrayConfig) -> int:
        """Cycles from a step's issue to its address on ``rd_addr``."""
        return cls.INDEX_STAGES + cls.mul_levels(cfg.pool_max_dim) + cls.ADDR_REGS

    @classmethod
    def data_latency(cls, cfg: ArrayConfig) -> int:
        """Cycles from a step's word on ``rd_data`` to its output on ``o_*``: the bit-plane
        popcounts, their shift-add tree, the accumulate into the output register."""
        return (Popcount.latency_of(cfg.pool_lanes) + cls.plane_sum_levels(cfg.pool_bits)
                + cls.OUT_REGS)

    @classmethod
    def latency_of(cls, cfg: ArrayConfig) -> int:
        """Cycles from a step's issue to its output on ``o_*`` (when it is the output's last
        step): address, memory read, data."""
        return cls.addr_latency(cfg) + cfg.pool_read_latency + cls.data_latency(cfg)

    @property
    def latency(self) -> int:
        """Cycles from a step's issue to its output on ``o_*``."""
        return self.latency_of(self._cfg)

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

        # ---- sequencer. `nxt` holds the step to issue next with all its counters; `cur` the
        # step being offered now. On an issue, cur <- nxt and nxt <- successor(nxt), both with
        # `issue` as the only enable; successor() reads nxt's registers only (the "remaining"
        # counters run down to -1, so "last" / "more" are sign bits, never comparators). The
        # first step after `start` is one priming cycle (nxt -> cur, no issue). ---------------
        nxt = {
            "p": Signal(range(cfg.pool_max_planes + 1), name="nxt_p"),
            "prow": Signal(range(rows_total + 1), name="nxt_prow"),
            "ri": Signal(signed(sbits), name="nxt_ri"),       # i*sh - ph
            "lo": Signal(signed(sbits), name="nxt_lo"),       # j*sw - pw
            "di": Signal.like(self.kh, name="nxt_di"),
            "s": Signal.like(self.s_words, name="nxt_s"),
            # s_words - 2 - s, kh - 2 - di: negative at the last word / window row
            "s_rem": Signal(signed(kb + 1), name="nxt_s_rem"),
            "di_rem": Signal(signed(kb + 1), name="nxt_di_rem"),
            # (w + pw - kw - sw) - lo, (h + ph - kh - sh) - ri: >= 0 while j / i may advance
            "j_rem": Signal(signed(sbits), name="nxt_j_rem"),
            "i_rem": Signal(signed(sbits), name="nxt_i_rem"),
            "p_rem": Signal(signed(cfg.pool_max_planes.bit_length() + 1),
                            name="nxt_p_rem"),                # P - 2 - p
            "first": Signal(name="nxt_first"),   # first step of an output
        }
        cur = {k: Signal.like(nxt[k], name=f"cur_{k}") for k in
               ("prow", "ri", "lo", "di", "s", "first")}
        cur_last, cur_final = Signal(), Signal()
        running, primed = Signal(), Signal()
        inflight = Signal(range(cfg.out_fifo_depth + 1))
        credit = Signal()              # registered: a new output may start this cycle
        issue = Signal()
        m.d.comb += [issue.eq(running & primed & (~cur["first"] | credit)),
                     self.busy.eq(running | (inflight != 0))]
        # the credit check keeps free what it cannot see yet (the issues of this and the last
        # cycle, an output between inflight and fifo_level): ArrayConfig.pool_credit_margin
        m.d.sync += [inflight.eq(inflight + (issue & cur["first"]) - self.o_valid),
                     credit.eq(self.fifo_level + inflight + cfg.pool_credit_margin
                               <= cfg.out_fifo_depth)]

        # job constants: free-running registers of the job fields (stable from the cycle after
        # the command; s_words from the one after that), two stages deep, so they have settled
        # when `start` comes (>= 3 cycles after the command: setup, >= 1 load beat, start)
        s_init, di_init = Signal.like(nxt["s_rem"]), Signal.like(nxt["di_rem"])
        j_init = Signal.like(nxt["j_rem"])      # w - kw - sw
        i_init = Signal.like(nxt["i_rem"])      # h - kh - sh
        j_start = Signal.like(nxt["j_rem"])     # j_rem at lo = -pw: (w + pw - kw - sw) + pw
        i_start = Signal.like(nxt["i_rem"])     # i_rem at ri = -ph
        p_init = Signal.like(nxt["p_rem"])
        m.d.sync += [s_init.eq(self.s_words - 2), di_init.eq(self.kh - 2), p_init.eq(self.p - 2),
                     j_init.eq(self.w - self.kw - self.sw), i_init.eq(self.h - self.kh - self.sh),
                     j_start.eq(j_init + (self.pw << 1)), i_start.eq(i_init + (self.ph << 1))]

        # what the successor of nxt changes, one-hot registered flags (so that every enable is
        # `advance & flag`): s+1 | di+1 | j+1 | i+1 | plane+1 | (none: nxt is the final step)
        act = {k: Signal(name=f"act_{k}") for k in ("s", "di", "j", "i", "p")}

        def actions(last_s, last_di, more_j, more_i, more_p):
            """The action flags of a step from its "last" / "more" conditions."""
            return {"s": ~last_s, "di": last_s & ~last_di, "j": last_s & last_di & more_j,
                    "i": last_s & last_di & ~more_j & more_i,
                    "p": last_s & last_di & ~more_j & ~more_i & more_p}

        n_last = Signal()
        n_final = Signal()
        m.d.comb += [n_last.eq(~act["s"] & ~act["di"]),
                     n_final.eq(~(act["s"] | act["di"] | act["j"] | act["i"] | act["p"]))]

        def successor():
            """Assignments taking nxt to the step after it (and its action flags)."""
            s_rem, di_rem = Signal.like(nxt["s_rem"]), Signal.like(nxt["di_rem"])
            j_rem, i_rem, p_rem = (Signal.like(nxt["j_rem"]), Signal.like(nxt["i_rem"]),
                                   Signal.like(nxt["p_rem"]))
            m.d.comb += [
                s_rem.eq(Mux(act["s"], nxt["s_rem"] - 1, s_init)),
                di_rem.eq(Mux(act["di"], nxt["di_rem"] - 1, Mux(act["s"], nxt["di_rem"], di_init))),
                j_rem.eq(Mux(act["j"], nxt["j_rem"] - self.sw,
                             Mux(act["s"] | act["di"], nxt["j_rem"], j_start))),
                i_rem.eq(Mux(act["i"], nxt["i_rem"] - self.sh,
                             Mux(act["s"] | act["di"] | act["j"], nxt["i_rem"], i_start))),
                p_rem.eq(Mux(act["p"], nxt["p_rem"] - 1, nxt["p_rem"])),
            ]
            m.d.sync += [nxt["s_rem"].eq(s_rem), nxt["di_rem"].eq(di_rem), nxt["j_rem"].eq(j_rem),
                         nxt["i_rem"].eq(i_rem), nxt["p_rem"].eq(p_rem), nxt["first"].eq(n_last)]
            m.d.sync += [act[k].eq(v) for k, v in actions(
                s_rem[-1], di_rem[-1], ~j_rem[-1], ~i_rem[-1], ~p_rem[-1]).items()]
            with m.If(act["s"]):
                m.d.sync += nxt["s"].eq(nxt["s"] + 1)
            with m.Else():
                m.d.sync += nxt["s"].eq(0)
            with m.If(act["di"]):
                m.d.sync += nxt["di"].eq(nxt["di"] + 1)
            with m.Elif(~act["s"]):
                m.d.sync += nxt["di"].eq(0)
            with m.If(act["j"]):
                m.d.sync += nxt["lo"].eq(nxt["lo"] + self.sw)
            with m.Elif(~act["s"] & ~act["di"]):
                m.d.sync += nxt["lo"].eq(-self.pw)
            with m.If(act["i"]):
                m.d.sync += nxt["ri"].eq(nxt["ri"] + self.sh)
            with m.Elif(act["p"] | n_final):
                m.d.sync += nxt["ri"].eq(-self.ph)
            with m.If(act["p"]):
                m.d.sync += [nxt["p"].eq(nxt["p"] + 1), nxt["prow"].eq(nxt["prow"] + self.h)]

        def advance():
            m.d.sync += [cur[k].eq(nxt[k]) for k in cur]
            m.d.sync += [cur_last.eq(n_last), cur_final.eq(n_final)]
            successor()

        with m.If(self.start):
            m.d.sync += [nxt["s_rem"].eq(s_init), nxt["di_rem"].eq(di_init), nxt["j_rem"].eq(j_start),
                         nxt["i_rem"].eq(i_start), nxt["p_rem"].eq(p_init),
                         nxt["p"].eq(0), nxt["prow"].eq(0), nxt["ri"].eq(-self.ph),
                         nxt["lo"].eq(-self.pw), nxt["di"].eq(0), nxt["s"].eq(0), nxt["first"].eq(1),
                         running.eq(1), primed.eq(0)]
            m.d.sync += [act[k].eq(v) for k, v in actions(
                s_init[-1], di_init[-1], ~j_start[-1], ~i_start[-1], ~p_init[-1]).items()]
        with m.Elif(running & ~primed):
            m.d.sync += primed.eq(1)
            advance()
        with m.Elif(issue):
            with m.If(cur_final):
                m.d.sync += running.eq(0)
            advance()

        # ---- stage 1: window row; stage 2: row index, word index, window end ---------------
        r0 = Signal(signed(sbits))
        lopos0 = Signal(sbits)
        m.d.comb += [r0.eq(cur["ri"] + cur["di"]),
                     lopos0.eq(Mux(cur["lo"][-1], 0, cur["lo"]))]
        s1 = stage({"v": issue, "first": cur["first"], "last": cur_last, "final": cur_final,
                    "r": r0, "lo": cur["lo"], "lopos": lopos0, "s": cur["s"],
                    "prow": cur["prow"]}, "s1")
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

        # ---- row * words-per-row: a shift-add tree of the partial products (one per bit of
        # WW), one registered pairwise level at a time (mul_levels of them; no DSP block: its
        # 3.9 ns combinational delay alone would nearly fill a 150 MHz cycle). Only the address
        # bits are kept (the memory wraps; rows outside the input are masked anyway). The
        # lane-window comparisons ride along; then the address and lane masks -------------------
        abits = max(1, ceil_log2(cfg.pool_depth))
        ww_q = Signal.like(self.ww, name="ww_q", reset_less=True)   # local copy of a constant
        m.d.sync += ww_q.eq(self.ww)
        ge_lo, lt_hi, lt_w = Signal(V), Signal(V), Signal(V)
        for lane in range(V):
            col = Signal(signed(sbits + 2), name=f"col{lane}")
            m.d.comb += col.eq(Cat(Const(lane, lgv), s2["widx"]) if lgv else s2["widx"])
            m.d.comb += [ge_lo[lane].eq(col >= s2["lo"]), lt_hi[lane].eq(col < s2["lohi"]),
                         lt_w[lane].eq(col < self.w)]
        ride = {**{k: s2[k] for k in flags}, "widx": s2["widx"], "rowok": s2["rowok"],
                "ge_lo": ge_lo, "lt_hi": lt_hi, "lt_w": lt_w}
        terms = []
        for i in range(len(ww_q)):
            pp = Signal(abits, name=f"pp{i}")
            m.d.comb += pp.eq(Mux(ww_q[i], s2["row"] << i, 0))
            terms.append(pp)
        for lvl in range(self.mul_levels(cfg.pool_max_dim)):
            sums = {}
            for j in range(0, len(terms), 2):
                t = Signal(abits, name=f"mul{lvl + 1}_sum{j // 2}")
                m.d.comb += t.eq(terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j])
                sums[f"t{j // 2}"] = t
            st = stage({**ride, **sums}, f"mul{lvl + 1}")
            ride = {k: st[k] for k in ride}
            terms = [st[f"t{j}"] for j in range(len(sums))]
        assert len(terms) == 1
        addr3 = Signal(range(cfg.pool_depth))
        mask3 = Signal(V)
        m.d.comb += [addr3.eq(terms[0] + ride["widx"]),
                     mask3.eq(Mux(ride["rowok"], ride["ge_lo"] & ride["lt_hi"] & ride["lt_w"],
                                  0))]
        s4 = stage({**{k: ride[k] for k in flags}, "addr": addr3, "mask": mask3}, "s4")
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
        for d in range(tree.latency):
            fl = stage(fl, f"pc{d + 1}")

        # ---- shift-add of the plane counts: a registered pairwise adder tree ---------------
        level = terms
        for depth in range(1, self.plane_sum_levels(B) + 1):
            nxt = []
            for j in range(0, len(level), 2):
                reg = Signal(signed(cfg.pool_sum_width), name=f"sum{depth}_{j // 2}")
                m.d.sync += reg.eq(level[j] + level[j + 1] if j + 1 < len(level) else level[j])
                nxt.append(reg)
            level = nxt
            fl = stage(fl, f"sum{depth}")
        assert len(level) == 1
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

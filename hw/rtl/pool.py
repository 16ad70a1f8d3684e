"""Streaming pool unit: exact integer window sums of L planes at once, every input value read
once, straight from the data stream (no pool memory)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig

#: Deliberate bugs the testbench must catch: ``line_off`` makes every window row of two or
#: more values one value short (the row shift register tapped one place early).
POOL_FAULTS = ("line_off",)


class PoolUnit(wiring.Component):
    """Window sums of a pool job (P, H, W), window (kh, kw), stride (sh, sw), zero padding
    (ph, pw), over L = ``cfg.pool_lanes`` planes in parallel.

    The job's input arrives as *positions* (beat format in hw/README.md, Pool beats): plane
    group g (planes g*L .. g*L+L-1), then input row y, then column x; one position holds the L
    planes' values at (y, x), one ``cfg.data_width``-bit data beat (lane l in bits
    l*pool_bits ..). Only the rows and columns
    some window touches are sent (y <= Yend, x <= Xend: the last window's last row / column).

    Per group, the unit walks positions y = 0 .. Yend, x = 0 .. max(Xend, MIN_ROW_POSITIONS-1);
    positions in the zero padding on the right and bottom take a cycle and no beat. Each lane:

    - *row windows*: a shift register of the row's last ``pool_max_kernel`` values and a
      running sum give, at every window end x = j*sw - pw + kw - 1, the window-row sum
      ``hsum`` of (y, j);
    - *open rows*: ``pool_open_rows`` banks (one memory each, ``pool_row_depth`` words of L
      partial sums) hold the output rows whose windows contain row y (row i in bank i mod
      banks); at each window end, every open row adds ``hsum`` at column j (the first row of
      its window writes it), and the row whose window ends at y sends ``partial + hsum`` out.

    Ports:

    ======================  ====  =======================================================
    ``start``               in 1  one cycle: take the job fields (stable until ``busy`` falls)
    ``p`` .. ``pw``         in    the job's fields (the core's command register)
    ``data``                in    stream of ``data_width``-bit beats (the job's positions)
    ``fifo_level``          in    registered output FIFO entries in use (the credit check)
    ``o_valid``             out 1 an output: the L window sums of (plane group, i, j)
    ``o_data``              out   L signed lanes of ``pool_sum_width`` bits, lanes past P zero
    ``o_last``              out 1 the job's last output
    ``busy``                out 1 the job is running or an output is in flight
    ======================  ====  =======================================================

    Timing (no data dependence): the first position issues 1 + :attr:`START_CYCLES` cycles
    after ``start`` (the core raises ``start`` in the job's setup cycle); each position takes one cycle
    while the credit allows (a registered flag: the output FIFO has room for every output in
    flight plus :meth:`hw.rtl.core.BinaryCore.pool_credit_margin`); a position's output is on
    ``o_*`` :meth:`latency_of` cycles after its issue. The job ends at the position of its
    last output.
    """

    #: cycles between ``start`` and the first position's issue: the cycle that loads the
    #: sequencer from the job values latched at ``start``
    START_CYCLES = 1
    #: value, window tap and position flags, registered at the issue
    ISSUE_REGS = 1
    #: the running window-row sum
    RUN_REGS = 1
    #: a bank read: the memory's synchronous read port, then a read-data register
    BANK_READ_LATENCY = 2
    #: the output register (``o_valid``, ``o_data``, ``o_last``)
    OUT_REGS = 1
    #: registers between an issue or an output and the in-flight count the credit reads
    COUNT_REGS = 1
    #: positions per row at least: a bank word written at a position is read again one row
    #: later, at least this many positions on (the read-modify-write spans
    #: BANK_READ_LATENCY + 1 cycles)
    MIN_ROW_POSITIONS = BANK_READ_LATENCY + 1

    @classmethod
    def latency_of(cls, cfg: ArrayConfig) -> int:
        """Cycles from a position's issue to its output on ``o_*``: issue registers, running
        sum, bank read, output register."""
        return cls.ISSUE_REGS + cls.RUN_REGS + cls.BANK_READ_LATENCY + cls.OUT_REGS

    @staticmethod
    def row_sum_width(cfg: ArrayConfig) -> int:
        """Signed bits of a window-row sum (up to ``pool_max_kernel`` values)."""
        return cfg.pool_bits + (cfg.pool_max_kernel - 1).bit_length() + 1

    @classmethod
    def lane_register_bits(cls, cfg: ArrayConfig) -> int:
        """Flip-flops of the lanes' datapath (all L of them): the row shift register, the
        issued value and tap, the running sum and its two delay registers, each bank's
        read-data register and the output register."""
        b, hw, sw = cfg.pool_bits, cls.row_sum_width(cfg), cfg.pool_sum_width
        per_lane = cfg.pool_max_kernel * b + 2 * b + 3 * hw + (cfg.pool_open_rows + 1) * sw
        return cfg.pool_lanes * per_lane

    @property
    def latency(self) -> int:
        return self.latency_of(self._cfg)

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in POOL_FAULTS:
            raise ValueError(f"unknown pool fault {fault!r}; known: {POOL_FAULTS}")
        self._cfg, self._fault = cfg, fault
        kb = range(cfg.pool_max_kernel + 1)
        super().__init__({
            "start": In(1),
            "p": In(range(cfg.pool_max_planes + 1)), "h": In(range(cfg.pool_max_dim + 1)),
            "w": In(range(cfg.pool_max_dim + 1)),
            "kh": In(kb), "kw": In(kb), "sh": In(kb), "sw": In(kb), "ph": In(kb), "pw": In(kb),
            "data": In(stream.Signature(cfg.data_width)),
            "fifo_level": In(range(cfg.out_fifo_depth + 1)),
            "o_valid": Out(1),
            "o_data": Out(data.ArrayLayout(signed(cfg.pool_sum_width), cfg.pool_lanes)),
            "o_last": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        L, B, K = cfg.pool_lanes, cfg.pool_bits, cfg.pool_max_kernel
        NB = cfg.pool_open_rows
        SW = cfg.pool_sum_width
        HW = self.row_sum_width(cfg)                     # a window-row sum
        cb = (cfg.pool_max_dim + 2 * K + 1).bit_length() + 1   # signed row / column numbers
        jb = cfg.pool_max_dim.bit_length() + 1

        # ---- job constants, latched at `start` -------------------------------------------------
        P = Signal.like(self.p, name="job_p")
        H, W = Signal(signed(cb), name="job_h"), Signal(signed(cb), name="job_w")
        kh, kw = Signal.like(self.kh, name="job_kh"), Signal.like(self.kw, name="job_kw")
        sh, sw = Signal.like(self.sh, name="job_sh"), Signal.like(self.sw, name="job_sw")
        HP, WP = Signal(signed(cb), name="h_plus_ph"), Signal(signed(cb), name="w_plus_pw")
        x_first_end = Signal(signed(cb))                 # kw - 1 - pw: the first window's end
        y_first_end = Signal(signed(cb))                 # kh - 1 - ph
        tap_at = Signal(range(K))                        # kw - 1
        bank_init = [Signal(signed(cb), name=f"bank_init{b}") for b in range(NB)]  # b*sh - ph
        bank_step = Signal(signed(cb))                   # NB * sh
        col_more0 = Signal()                             # a row has a second window
        row_more0 = Signal()                             # a group has a second output row
        starting, running = Signal(), Signal()
        with m.If(self.start):
            m.d.sync += [P.eq(self.p), H.eq(self.h), W.eq(self.w), kh.eq(self.kh),
                         kw.eq(self.kw), sh.eq(self.sh), sw.eq(self.sw),
                         HP.eq(self.h + self.ph), WP.eq(self.w + self.pw),
                         x_first_end.eq(self.kw - 1 - self.pw),
                         y_first_end.eq(self.kh - 1 - self.ph), tap_at.eq(self.kw - 1),
                         bank_step.eq(self.sh * NB),
                         col_more0.eq(self.kw - 1 - self.pw + self.sw < self.w + self.pw),
                         row_more0.eq(self.kh - 1 - self.ph + self.sh < self.h + self.ph)]
            m.d.sync += [bank_init[b].eq(self.sh * b - self.ph) for b in range(NB)]
        m.d.sync += starting.eq(self.start)

        # ---- position sequencer ---------------------------------------------------------------
        y, x = Signal(signed(cb)), Signal(signed(cb))
        j = Signal(jb)                                   # window (output column) of the row
        x_end = Signal(signed(cb))                       # end column of window j
        pend = Signal()                                  # window j fits: x_end < W + pw
        pend_next = Signal()                             # window j + 1 fits
        b_start = [Signal(signed(cb), name=f"bank_start{b}") for b in range(NB)]
        b_end = [Signal(signed(cb), name=f"bank_end{b}") for b in range(NB)]
        row_end = Signal(signed(cb))                     # last row of the next output row
        row_more = Signal()                              # the output row after it fits
        gbase = Signal(range(cfg.pool_max_planes + L + 1))   # first plane of the group
        last_grp = Signal()                              # gbase + L >= P

        inflight = Signal(range(cfg.out_fifo_depth + 1))
        credit = Signal()                                # registered: outputs may issue

        emit = Signal()          # a window of the row ends here
        row_out = Signal()       # the next output row's window ends at this row
        out = Signal()           # this position gives an output
        grp_end = Signal()       # row_out and the output row after it does not fit
        col_more = Signal()      # after this position, a window of the row is still to come
        row_done = Signal()      # this is the row's last position
        final = Signal()         # the job's last output
        need = Signal()          # the position holds data (y < H, x < W, x <= Xend)
        fire = Signal()          # the position issues this cycle
        m.d.comb += [
            emit.eq(pend & (x == x_end)),
            row_out.eq(y == row_end),
            out.eq(emit & row_out),
            grp_end.eq(row_out & ~row_more),
            col_more.eq(Mux(emit, pend_next, pend)),
            final.eq(out & grp_end & last_grp & ~col_more),
            row_done.eq(~col_more & ((x >= self.MIN_ROW_POSITIONS - 1) | final)),
            need.eq((y < H) & (x < W) & pend),
        ]
        word_in = Signal()        # a data beat is taken this cycle
        m.d.comb += [
            self.data.ready.eq(running & credit & need),
            word_in.eq(self.data.valid & self.data.ready),
            fire.eq(running & credit & Mux(need, word_in, 1)),
            self.busy.eq(starting | running | (inflight != 0)),
        ]
        words = self.data.payload

        # the credit misses what it cannot see yet: ArrayConfig.pool_credit_margin
        m.d.sync += [inflight.eq(inflight + (fire & out) - self.o_valid),
                     credit.eq(self.fifo_level + inflight + cfg.pool_credit_margin
                               <= cfg.out_fifo_depth)]

        # per bank: its output row's window holds row y (act), starts (first) or ends (last)
        act = Signal(NB)
        first = Signal(NB)
        last = Signal(NB)
        for b in range(NB):
            m.d.comb += [
                act[b].eq((b_start[b] <= y) & (y <= b_end[b]) & (b_end[b] < HP)),
                first[b].eq((y == b_start[b]) | ((y == 0) & (b_start[b] < 0))),
                last[b].eq(y == b_end[b]),
            ]

        def group_start():
            m.d.sync += [y.eq(0), row_end.eq(y_first_end), row_more.eq(row_more0)]
            m.d.sync += [b_start[b].eq(bank_init[b]) for b in range(NB)]
            m.d.sync += [b_end[b].eq(bank_init[b] + kh - 1) for b in range(NB)]

        def row_start():
            m.d.sync += [x.eq(0), j.eq(0), x_end.eq(x_first_end), pend.eq(1),
                         pend_next.eq(col_more0)]

        with m.If(starting):
            group_start()
            row_start()
            m.d.sync += [running.eq(1), gbase.eq(0), last_grp.eq(P <= L)]
        with m.If(fire):
            with m.If(final):
                m.d.sync += running.eq(0)
            with m.If(row_done):
                row_start()
                with m.If(grp_end):
                    group_start()
                    m.d.sync += [gbase.eq(gbase + L), last_grp.eq(gbase + 2 * L >= P)]
                with m.Else():
                    m.d.sync += y.eq(y + 1)
                    with m.If(row_out):
                        m.d.sync += [row_end.eq(row_end + sh),
                                     row_more.eq(row_end + (sh << 1) < HP)]
                    for b in range(NB):
                        with m.If(last[b]):
                            m.d.sync += [b_start[b].eq(b_start[b] + bank_step),
                                         b_end[b].eq(b_end[b] + bank_step)]
            with m.Else():
                m.d.sync += x.eq(x + 1)
                with m.If(emit):
                    m.d.sync += [j.eq(j + 1), x_end.eq(x_end + sw), pend.eq(pend_next),
                                 pend_next.eq(x_end + (sw << 1) < WP)]

        # ---- issue registers: the L values, the window tap, the position's flags --------------
        vals = [Signal(signed(B), name=f"v{l}") for l in range(L)]
        for l in range(L):
            m.d.comb += vals[l].eq(Mux(need, words[l * B:(l + 1) * B].as_signed(), 0))
        shreg = [[Signal(signed(B), name=f"row{l}_{t}", reset_less=True) for t in range(K)]
                 for l in range(L)]
        tap_idx = tap_at
        if self._fault == "line_off":          # deliberately broken: windows one value short
            tap_idx = Mux(tap_at == 0, 0, tap_at - 1)
        v1 = [Signal(signed(B), name=f"v1_{l}", reset_less=True) for l in range(L)]
        tap1 = [Signal(signed(B), name=f"tap1_{l}", reset_less=True) for l in range(L)]
        rs = x == 0
        with m.If(fire):
            for l in range(L):
                m.d.sync += [shreg[l][0].eq(vals[l]), v1[l].eq(vals[l]),
                             tap1[l].eq(Mux(rs, 0, Array(shreg[l])[tap_idx]))]
                m.d.sync += [shreg[l][t].eq(Mux(rs, 0, shreg[l][t - 1])) for t in range(1, K)]
        ctl = data.StructLayout({"valid": 1, "rs": 1, "emit": 1, "out": 1, "final": 1,
                                 "j": jb, "act": NB, "first": NB, "last": NB, "lanes": L})
        c1 = Signal(ctl, name="ctl1")
        lanes_ok = Cat(*(gbase + l < P for l in range(L)))
        m.d.sync += [c1.valid.eq(fire), c1.rs.eq(rs), c1.emit.eq(emit), c1.out.eq(out),
                     c1.final.eq(final), c1.j.eq(j), c1.act.eq(act), c1.first.eq(first),
                     c1.last.eq(last), c1.lanes.eq(lanes_ok)]

        # ---- running window-row sums ----------------------------------------------------------
        run = [Signal(signed(HW), name=f"run{l}", reset_less=True) for l in range(L)]
        with m.If(c1.valid):
            m.d.sync += [run[l].eq(Mux(c1.rs, 0, run[l]) + v1[l] - tap1[l]) for l in range(L)]
        c2 = Signal(ctl, name="ctl2")
        m.d.sync += c2.eq(c1)

        # ---- open-row banks: read at ctl2, data registered at ctl4, add, write back or send --
        c3, c4 = Signal(ctl, name="ctl3"), Signal(ctl, name="ctl4")
        h3 = [Signal(signed(HW), name=f"hsum3_{l}", reset_less=True) for l in range(L)]
        h4 = [Signal(signed(HW), name=f"hsum4_{l}", reset_less=True) for l in range(L)]
        m.d.sync += [c3.eq(c2), c4.eq(c3)]
        m.d.sync += [h3[l].eq(run[l]) for l in range(L)]
        m.d.sync += [h4[l].eq(h3[l]) for l in range(L)]
        abits = max(1, (cfg.pool_row_depth - 1).bit_length())
        sums = []
        for b in range(NB):
            m.submodules[f"bank{b}"] = mem = Memory(shape=unsigned(L * SW),
                                                    depth=cfg.pool_row_depth, init=[])
            rp, wp = mem.read_port(), mem.write_port()
            rq = Signal(L * SW, name=f"bank{b}_rq", reset_less=True)
            m.d.comb += [rp.addr.eq(c2.j[:abits]),
                         rp.en.eq(c2.valid & c2.emit & c2.act[b] & ~c2.first[b])]
            m.d.sync += rq.eq(rp.data)
            s = [Signal(signed(SW), name=f"bank{b}_sum{l}") for l in range(L)]
            for l in range(L):
                part = rq[l * SW:(l + 1) * SW].as_signed()
                m.d.comb += s[l].eq(Mux(c4.first[b], 0, part) + h4[l])
            m.d.comb += [wp.addr.eq(c4.j[:abits]), wp.data.eq(Cat(*s)),
                         wp.en.eq(c4.valid & c4.emit & c4.act[b] & ~c4.last[b])]
            sums.append(s)

        # ---- output register: the sums of the bank whose row ends here ------------------------
        for l in range(L):
            pick = 0
            for b in range(NB):
                pick = pick | Mux(c4.last[b] & c4.act[b], sums[b][l], 0)
            m.d.sync += self.o_data[l].eq(Mux(c4.lanes[l], pick, 0))
        m.d.sync += [self.o_valid.eq(c4.valid & c4.out),
                     self.o_last.eq(c4.valid & c4.final)]
        return m

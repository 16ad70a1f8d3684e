"""Streaming pool unit: exact integer window sums of L planes at once, every input value read
once, straight from the data stream (no pool memory)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import ArrayConfig, read_write_slice_bits
from .flags import above, at_most
from .queue import RegisterQueue

#: Deliberate bugs the testbench must catch: ``line_off`` makes every window row of two or
#: more values one value short (values enter the row shift register one stage late, so the
#: tap is one place early); ``queue_drop`` lets the sequencer walk on while the position
#: queue is full, so a position is lost whenever the issue waits (data idle or no credit).
POOL_FAULTS = ("line_off", "queue_drop")


def _times(value, const: int):
    """``value * const`` for a constant ``const`` >= 0 as a sum of shifted copies (no
    multiplier, so no DSP block)."""
    terms = [value << k for k in range(const.bit_length()) if const >> k & 1]
    out = terms[0] if terms else 0
    for t in terms[1:]:
        out = out + t
    return out


class PoolUnit(wiring.Component):
    """Window sums of a pool job (P, H, W), window (kh, kw), stride (sh, sw), zero padding
    (ph, pw), over L = ``cfg.pool_lanes_eff`` planes in parallel.

    The job's input arrives as *positions* (beat format in hw/README.md, Pool beats): plane
    group g (planes g*L .. g*L+L-1), then input row y, then column x; one position holds the L
    planes' values at (y, x), one ``cfg.data_width``-bit data beat (lane l in bits
    l*pool_bits ..). Only the rows and columns
    some window touches are sent (y <= Yend, x <= Xend: the last window's last row / column).

    Per group, the unit walks positions y = 0 .. Yend, x = 0 .. max(Xend, MIN_ROW_POSITIONS-1);
    positions in the zero padding on the right and bottom take a cycle and no beat. Each lane:

    - *row windows*: a shift register (values enter at stage ``pool_max_kernel - kw``, the
      last stage is the tap) and a running sum give, at every window end x = j*sw - pw + kw - 1, the window-row sum
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

    #: the position queue between the sequencer and the issue: a position the sequencer walks
    #: in one cycle can issue in the next (the queue holds two, so the sequencer, which
    #: advances on registered flags only, keeps one position per cycle flowing)
    QUEUE_REGS = RegisterQueue.LATENCY
    #: cycles between ``start`` and the first position's issue: the job's derived sums, sums
    #: of those, their comparisons, the cycle that loads the sequencer, and the position
    #: queue (:attr:`QUEUE_REGS`)
    START_CYCLES = 4 + QUEUE_REGS
    #: register stages that derive the next row's sequencer values while a row runs (the
    #: sums, then their comparisons); a row must last longer (:attr:`MIN_ROW_POSITIONS`)
    NEXT_ROW_REGS = 2
    #: the issued beat and the position's flags, registered unconditionally (so no wide
    #: enable follows the stream handshake), then the value and window tap
    ISSUE_REGS = 2
    #: the running window-row sum
    RUN_REGS = 1
    #: a bank read: the memory's synchronous read port, its read-data register (inside the
    #: block RAM on ECP5), then a transport register into the fabric
    BANK_READ_LATENCY = 3
    #: the bank sums (partial + window-row sum), registered before the write-back and the
    #: output select
    SUM_REGS = 1
    #: the output register (``o_valid``, ``o_data``, ``o_last``)
    OUT_REGS = 1
    #: registers between an issue or an output and the in-flight count the credit reads (the
    #: issue is counted from the first issue register, off the stream handshake; the output
    #: from a copy of ``o_valid``, so that it leaves the count as it enters the core's)
    COUNT_REGS = 2
    #: positions per row at least: a bank word written at a position is read again one row
    #: later, at least this many positions on (the read-modify-write spans
    #: BANK_READ_LATENCY + SUM_REGS + 1 cycles)
    MIN_ROW_POSITIONS = BANK_READ_LATENCY + SUM_REGS + 1
    #: attributes of every open-row bank slice: no read-during-write emulation (a word is never
    #: read in the cycle it is written) and block RAM at any depth (Yosys would put a shallow
    #: bank in LUT RAM, the read-data register then in the fabric); the resource model reads it
    BANK_RAM_ATTRS = {"no_rw_check": 1, "ram_style": "block"}
    # (the row state follows a row's end one cycle late, then the NEXT_ROW_REGS stages)
    assert MIN_ROW_POSITIONS > NEXT_ROW_REGS + 1

    @classmethod
    def latency_of(cls, cfg: ArrayConfig) -> int:
        """Cycles from a position's issue to its output on ``o_*``: issue registers, running
        sum, bank read, bank sum, output register."""
        return (cls.ISSUE_REGS + cls.RUN_REGS + cls.BANK_READ_LATENCY + cls.SUM_REGS
                + cls.OUT_REGS)

    @staticmethod
    def row_sum_width(cfg: ArrayConfig) -> int:
        """Signed bits of a window-row sum (up to ``pool_max_kernel`` values)."""
        return cfg.pool_bits + (cfg.pool_max_kernel - 1).bit_length() + 1

    @staticmethod
    def bank_slices(cfg: ArrayConfig) -> list[tuple[int, int]]:
        """Bit ranges [lo, hi) of one open-row bank's memories: L = ``pool_lanes_eff`` sums cut into
        slices of one block-RAM shape each (:func:`hw.config.read_write_slice_bits`: a bank has one
        read and one write port, so up to 512 words a slice is one 36-bit pseudo-dual-port RAM)."""
        width = cfg.pool_lanes_eff * cfg.pool_sum_width
        step = read_write_slice_bits(cfg.pool_row_depth)
        return [(lo, min(width, lo + step)) for lo in range(0, width, step)]

    @classmethod
    def lane_register_bits(cls, cfg: ArrayConfig) -> int:
        """Flip-flops of the lanes' datapath (all L of them): the row shift register, the
        issued beat, the value minus the tap, the running sum and its delay registers, each bank's
        read-data and sum registers and the output register; in the retimed unit (the core built
        from parts, ``core_parts`` 1) also the lane's copy of the queue head's ``need``."""
        b, hw, sw = cfg.pool_bits, cls.row_sum_width(cfg), cfg.pool_sum_width
        per_lane = (cfg.pool_max_kernel * b + 2 * b + 1 + (1 + cls.BANK_READ_LATENCY) * hw
                    + (3 * cfg.pool_open_rows + 1) * sw + cfg.core_parts)
        return cfg.pool_lanes_eff * per_lane

    def _entry_stages(self, kw, K):
        """One-hot entry stage of the row shift registers for a window width ``kw``: K - kw,
        so a value reaches the last stage (the tap) kw positions after it entered. The
        ``line_off`` fault enters one stage late (kw > 1): the tap is one value early."""
        late = 1 if self._fault == "line_off" else 0     # deliberately broken: one value short
        bits = [(kw == K - t + late) if t < K - 1 else (kw <= 1 + late) for t in range(K)]
        return Cat(*bits)

    @property
    def latency(self) -> int:
        return self.latency_of(self._cfg)

    #: the job-field ports, named as the command layout's fields (a core drives each from its
    #: job register)
    JOB_FIELDS = ("p", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw")

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None, retimed: bool = False):
        if not isinstance(cfg, ArrayConfig):
            self._MustUse__silence = True
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in POOL_FAULTS:
            self._MustUse__silence = True
            raise ValueError(f"unknown pool fault {fault!r}; known: {POOL_FAULTS}")
        self._cfg, self._fault, self._retimed = cfg, fault, retimed
        kb = range(cfg.pool_max_kernel + 1)
        super().__init__({
            "start": In(1),
            "p": In(range(cfg.pool_max_planes + 1)), "h": In(range(cfg.pool_max_dim + 1)),
            "w": In(range(cfg.pool_max_dim + 1)),
            "kh": In(kb), "kw": In(kb), "sh": In(kb), "sw": In(kb), "ph": In(kb), "pw": In(kb),
            "data": In(stream.Signature(cfg.data_width)),
            "fifo_level": In(range(cfg.out_fifo_depth + 1)),
            "o_valid": Out(1),
            "o_data": Out(data.ArrayLayout(signed(cfg.pool_sum_width),
                                           cfg.pool_lanes_eff)),
            "o_last": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        L, B, K = cfg.pool_lanes_eff, cfg.pool_bits, cfg.pool_max_kernel
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
        ph, pw = Signal.like(self.ph, name="job_ph"), Signal.like(self.pw, name="job_pw")
        # stage 1: sums and equalities of the fields
        HP, WP = Signal(signed(cb), name="h_plus_ph"), Signal(signed(cb), name="w_plus_pw")
        one_h, w_less1 = Signal(signed(cb)), Signal(signed(cb))     # 1 - H, W - 1
        x_first_end = Signal(signed(cb))                 # kw - 1 - pw: the first window's end
        y_first_end = Signal(signed(cb))                 # kh - 1 - ph
        tap_at = Signal(range(K))                        # kw - 1
        entry = Signal(K)                                # one-hot: the row shift register's
                                                         # entry stage, K - kw
        bank_init = [Signal(signed(cb), name=f"bank_init{b}") for b in range(NB)]  # b*sh - ph
        bank_step = Signal(signed(cb))                   # NB * sh
        sw_one, sh_one = Signal(), Signal()              # stride 1
        pb = cfg.pool_max_planes.bit_length() + 2
        planes0 = Signal(signed(pb))                     # P: planes from the first group on
        planes0_far = Signal(signed(pb + 1))             # P - 2 L - 1 (stage 2)
        one_grp0 = Signal()                              # P <= L: one group (stage 2)
        # stage 2: sums of those
        xfe_sw, yfe_sh = Signal(signed(cb)), Signal(signed(cb))   # first window end + stride
        xfe_less1 = Signal(signed(cb))                   # x_first_end - 1
        room0 = Signal(signed(cb))                       # W + pw - 1 - 2 sw - x_first_end
        wp_2sw, hp_2sh = Signal(signed(cb)), Signal(signed(cb))   # W + pw - 2 sw, H + ph - 2 sh
        bank_end_init = [Signal(signed(cb), name=f"bank_end_init{b}") for b in range(NB)]
        step_less1 = Signal(signed(cb))                  # NB * sh - 1
        at_end0 = Signal()                               # the first window ends at column 0
        out_row0 = Signal()                              # the first output row ends at row 0
        # stage 3: comparisons of those (the flags of the first row and window)
        # a row has a second window, a group a second output row: the signs of
        # xfe_sw - (W + pw) and yfe_sh - (H + ph), each a subtraction into a register (no
        # logic behind the carry chain)
        col_gap0 = Signal(signed(cb + 1))
        row_gap0 = Signal(signed(cb + 1))
        col_more0, row_more0 = col_gap0[-1], row_gap0[-1]
        # the banks' flags at row 0: act = a_ge & a_le & a_lt, each comparison in its own
        # register (none shares a carry chain with another); a_lt (end < H + ph) is the sign
        # of end_hp0, the difference registered anyway
        a_ge0, a_le0 = Signal(NB), Signal(NB)
        first0, last0 = Signal(NB), Signal(NB)
        end_hp0 = [Signal(signed(cb), name=f"bank_end_hp0_{b}") for b in range(NB)]
        derive, derive2, compare = Signal(), Signal(), Signal()   # the cycles after `start`
        starting, running = Signal(), Signal()
        # register stages with short paths only: the job fields at `start`, (1) sums and
        # equalities of them, (2) sums of those, (3) comparisons; then the sequencer loads
        with m.If(self.start):
            m.d.sync += [P.eq(self.p), H.eq(self.h), W.eq(self.w), kh.eq(self.kh),
                         kw.eq(self.kw), sh.eq(self.sh), sw.eq(self.sw), ph.eq(self.ph),
                         pw.eq(self.pw)]
        with m.If(derive):
            m.d.sync += [HP.eq(H + ph), WP.eq(W + pw), one_h.eq(1 - H), w_less1.eq(W - 1),
                         x_first_end.eq(kw - 1 - pw), y_first_end.eq(kh - 1 - ph),
                         tap_at.eq(kw - 1), entry.eq(self._entry_stages(kw, K)),
                         bank_step.eq(_times(sh, NB)),
                         sw_one.eq(sw == 1), sh_one.eq(sh == 1), planes0.eq(P)]
            m.d.sync += [bank_init[b].eq(_times(sh, b) - ph) for b in range(NB)]
        with m.If(derive2):
            m.d.sync += [at_end0.eq(x_first_end == 0), out_row0.eq(y_first_end == 0),
                         xfe_sw.eq(x_first_end + sw), yfe_sh.eq(y_first_end + sh),
                         xfe_less1.eq(x_first_end - 1),
                         wp_2sw.eq(WP - (sw << 1)), hp_2sh.eq(HP - (sh << 1)),
                         planes0_far.eq(planes0 - (2 * L + 1)), one_grp0.eq(at_most(planes0, L))]
            m.d.sync += [bank_end_init[b].eq(bank_init[b] + kh - 1) for b in range(NB)]
            m.d.sync += step_less1.eq(bank_step - 1)
        with m.If(compare):
            m.d.sync += [col_gap0.eq(xfe_sw - WP), row_gap0.eq(yfe_sh - HP),
                         room0.eq(wp_2sw + ~x_first_end)]   # ~a = -a - 1
            for b in range(NB):
                m.d.sync += [a_ge0[b].eq(bank_init[b] <= 0), a_le0[b].eq(bank_end_init[b] >= 0),
                             first0[b].eq(bank_init[b] <= 0),
                             last0[b].eq(bank_end_init[b] == 0),
                             end_hp0[b].eq(bank_end_init[b] - HP)]
        m.d.sync += [derive.eq(self.start), derive2.eq(derive), compare.eq(derive2),
                     starting.eq(compare)]

        # ---- position sequencer ---------------------------------------------------------------
        y, x = Signal(signed(cb)), Signal(signed(cb))
        y_h = Signal(signed(cb))                         # y - (H - 1): its sign is y + 1 < H
        j = Signal(jb)                                   # window (output column) of the row
        x_end_less1 = Signal(signed(cb))                 # end column of window j, minus 1
        # W + pw - 1 - 2 sw - (end column of window j): window j + 2 fits when >= 0, so its
        # sign is the next window's `pend_next` (no comparison in the per-position loop)
        room = Signal(signed(cb))
        pend = Signal()                                  # window j fits (ends < W + pw)
        pend_next = Signal()                             # window j + 1 fits
        # per bank, relative to the row y (no comparison shares an operand across banks): its
        # output row's window starts at row y + to_start and ends at y + to_end; end_hp is that
        # end minus (H + ph), negative while the output row exists
        to_start = [Signal(signed(cb), name=f"bank_to_start{b}") for b in range(NB)]
        to_end = [Signal(signed(cb), name=f"bank_to_end{b}") for b in range(NB)]
        end_hp = [Signal(signed(cb), name=f"bank_end_hp{b}") for b in range(NB)]
        row_end = Signal(signed(cb))                     # last row of the next output row
        row_more = Signal()                              # the output row after it fits
        # flags of the position, registered a step ahead (every decision below is a few
        # gates of them): x == 0, x < W, y < H, a window of the row ends here (emit: pend and
        # x == x_end), y == row_end, x >= MIN - 1, x >= kw (the window tap lies in this row);
        # per bank: its output row's window holds row y (act), starts (first) or ends (last)
        rs, x_in, y_in, emit = Signal(), Signal(), Signal(), Signal()
        row_out, x_min, tap_ok = Signal(), Signal(), Signal()
        act, first, last = Signal(NB), Signal(NB), Signal(NB)
        planes = Signal(signed(pb))                      # planes from this group on
        last_grp = Signal()                              # planes <= L
        # planes - 2 L - 1, whose sign is "the next group is the last" (no comparator)
        planes_far = Signal(signed(pb + 1))
        # registered with row_out / row_more / last_grp, so that a row's end and the job's
        # end are a few gates of the column flags: the output row is the group's last
        # (row_out & ~row_more), and also the job's last group's (& last_grp)
        grp_end = Signal()
        job_end = Signal()

        # the next row's values, computed while a row runs (it lasts >= MIN_ROW_POSITIONS
        # cycles, more than the NEXT_ROW_REGS stages) and loaded at the row's end:
        # stage 1 the sums, stage 2 the comparisons
        n_y, n_y_in = Signal(signed(cb)), Signal()
        n_row_end, n_row_more = Signal(signed(cb)), Signal()
        n_to_start = [Signal(signed(cb), name=f"next_bank_to_start{b}") for b in range(NB)]
        n_to_end = [Signal(signed(cb), name=f"next_bank_to_end{b}") for b in range(NB)]
        n_end_hp = [Signal(signed(cb), name=f"next_bank_end_hp{b}") for b in range(NB)]
        n_row_out, n_first, n_last = Signal(), Signal(NB), Signal(NB)
        n_ge, n_le, n_lt = Signal(NB), Signal(NB), Signal(NB)   # act = n_ge & n_le & n_lt
        # stage 1: row_end - (H + ph - 2 sh), whose sign is row_end < H + ph - 2 sh (a
        # subtraction into a register: no logic behind the carry chain)
        row_end_gap = Signal(signed(cb + 1))
        m.d.sync += [n_y.eq(y + 1), n_y_in.eq(y_h[-1]),
                     n_row_end.eq(Mux(row_out, row_end + sh, row_end)),
                     row_end_gap.eq(row_end - hp_2sh),
                     n_row_more.eq(Mux(row_out, row_end_gap[-1], row_more))]
        for b in range(NB):
            # a bank whose row ends here moves on by NB output rows (NB * sh input rows)
            m.d.sync += [
                n_to_start[b].eq(Mux(last[b], to_start[b] + step_less1, to_start[b] - 1)),
                n_to_end[b].eq(Mux(last[b], to_end[b] + step_less1, to_end[b] - 1)),
                n_end_hp[b].eq(Mux(last[b], end_hp[b] + bank_step, end_hp[b]))]
            # (zero tests and sign bits only)
            m.d.sync += [n_ge[b].eq(n_to_start[b][-1] | (n_to_start[b] == 0)),
                         n_le[b].eq(~n_to_end[b][-1]), n_lt[b].eq(n_end_hp[b][-1]),
                         n_first[b].eq(n_to_start[b] == 0), n_last[b].eq(n_to_end[b] == 0)]
        m.d.sync += n_row_out.eq(Mux(row_out, sh_one, n_y == n_row_end))

        inflight = Signal(range(cfg.out_fifo_depth + 1))
        issued_out, left = Signal(), Signal()            # c0.valid & c0.out; o_valid, registered
        credit = Signal()                                # registered: outputs may issue

        out = Signal()           # this position gives an output
        # registered a step ahead (see row_done_after): this is the row's last position, i.e.
        # no window of the row is still to come and x >= MIN - 1 or this is the job's last output
        row_done = Signal()
        final = Signal()         # the job's last output
        need = Signal()          # the position holds data (y < H, x < W, x <= Xend)
        fire = Signal()          # the position enters the position queue this cycle
        m.d.comb += [
            out.eq(emit & row_out),
            # out & grp_end & last_grp & (no window still to come: ~pend_next as emit holds)
            final.eq(emit & job_end & ~pend_next),
            need.eq(y_in & x_in & pend),
        ]
        # the sequencer walks the positions into a two-entry position queue; its advance
        # depends on registers only (the queue's registered ready), so the stream handshake
        # and the credit, which decide the issue below, enable just the queue's read side and
        # the issue registers
        ctl = data.StructLayout({"valid": 1, "rs": 1, "emit": 1, "out": 1, "final": 1,
                                 "j": jb, "act": NB, "first": NB, "last": NB, "lanes": L})
        pos = data.StructLayout({"ctl": ctl, "need": 1, "tap_ok": 1})
        m.submodules.positions = queue = (
            RegisterQueue(pos, ready_next=True, head_field="need", head_copies=L)
            if self._retimed
            else RegisterQueue(pos))
        pop = Signal()                                   # the queue's head issues this cycle
        drop = self._fault == "queue_drop"
        if self._retimed:
            # `fire` a register of its own (the next values of running and the queue's room),
            # so the queue's ready drives the queue and `fire` the sequencer's registers
            fire_q = Signal(name="fire_q")
            running_next = (running & ~(fire & final)) | starting
            m.d.comb += [queue.i.valid.eq(running), fire.eq(fire_q)]
            m.d.sync += fire_q.eq(running_next & (1 if drop else queue.i_ready_next))
        else:
            m.d.comb += [
                queue.i.valid.eq(running),
                # (the queue_drop fault: the sequencer does not wait for the queue's room)
                fire.eq(running & (1 if drop else queue.i.ready)),
                # (an output that `left` has not yet left `inflight`: busy as if it had)
            ]
        if self._retimed:
            # busy as a register of the value each term takes in the next cycle, ORed with the
            # queue's registered o.valid (its next value is the pop decision: in the register
            # it would put the issue logic in front of busy)
            busy_q = Signal(name="busy_q")
            # inflight == 0 / 1 / 2 as flags of their own, each next value a choice among them
            # by issued_out - left (+1, 0 or -1), not a sum and a comparison after it
            in0, in1, in2 = (Signal(name=f"inflight_is{k}", init=int(k == 0)) for k in range(3))
            up, down = Signal(), Signal()
            in0_next, in1_next, in2_next = Signal(), Signal(), Signal()
            m.d.comb += [up.eq(issued_out & ~left), down.eq(left & ~issued_out),
                         in0_next.eq(Mux(up, 0, Mux(down, in1, in0))),
                         in1_next.eq(Mux(up, in0, Mux(down, in2, in1))),
                         in2_next.eq(Mux(up, in1, Mux(down, inflight == 3, in2))),
                         self.busy.eq(busy_q | queue.o.valid)]
            m.d.sync += [in0.eq(in0_next), in1.eq(in1_next), in2.eq(in2_next)]
            m.d.sync += busy_q.eq(self.start | derive | derive2 | compare | running_next
                                  | (~in0_next & ~(in1_next & self.o_valid)))
        else:
            m.d.comb += self.busy.eq(derive | derive2 | compare | starting | running
                                     | queue.o.valid
                                     | ((inflight != 0) & ~((inflight == 1) & left)))
        words = self.data.payload

        # the credit misses what it cannot see yet: ArrayConfig.pool_credit_margin
        # both counts two registers late: an issue from the first issue register (c0), an
        # output from a copy of o_valid (so an output leaves `inflight` in the cycle it enters
        # the core's registered FIFO count)
        # (credit_room = depth - margin - inflight, kept beside inflight, so that the credit
        # is one comparison of two registers)
        limit = cfg.out_fifo_depth - cfg.pool_credit_margin
        credit_room = Signal(range(-cfg.out_fifo_depth, limit + 1), init=limit)
        m.d.sync += left.eq(self.o_valid)
        m.d.sync += [inflight.eq(inflight + issued_out - left),
                     credit_room.eq(credit_room - issued_out + left),
                     credit.eq(self.fifo_level <= credit_room)]

        # A row's end updates at once only what the next position's decisions read (the
        # column state, y_in, row_out, row_more); the row state that only the next-row
        # pipeline and the issued flags read (y, row_end, the banks' distances and flags)
        # follows one cycle later (row_next / group_next, registered), so the issue enable
        # drives few registers. Meanwhile the first position's bank flags come from what they
        # are loaded from (issue_act / issue_first / issue_last below).
        row_next, group_next = Signal(), Signal()
        m.d.sync += [row_next.eq(fire & row_done & ~grp_end),
                     group_next.eq(fire & row_done & grp_end)]
        act0 = a_ge0 & a_le0 & Cat(*(e[-1] for e in end_hp0))
        n_act = n_ge & n_le & n_lt

        # retimed: the lanes of this group that hold planes (planes > l), a register
        # set with `planes`, so the position queue's entry takes a flip-flop, not a comparison
        lanes_q = Signal(L, name="lanes_q") if self._retimed else None

        def group_state():
            m.d.sync += [y.eq(0), y_h.eq(one_h), row_end.eq(y_first_end), act.eq(act0),
                         first.eq(first0), last.eq(last0)]
            m.d.sync += [to_start[b].eq(bank_init[b]) for b in range(NB)]
            m.d.sync += [to_end[b].eq(bank_end_init[b]) for b in range(NB)]
            m.d.sync += [end_hp[b].eq(end_hp0[b]) for b in range(NB)]

        def group_start(is_last):
            """The first row of a group; `is_last`: it is the job's last group. Returns the
            row's job_end."""
            grp_end_n = out_row0 & ~row_more0
            job_end_n = grp_end_n & is_last
            m.d.sync += [row_more.eq(row_more0), y_in.eq(1), row_out.eq(out_row0),
                         grp_end.eq(grp_end_n), job_end.eq(job_end_n)]
            return job_end_n

        def row_done_after(emit_n, pend_n, pend_next_n, x_min_n, job_end_n):
            """row_done of a position with these flags: when a window ends there, the row ends
            unless another window fits (pend_next) and once x >= MIN - 1 or at the job's last
            output; otherwise, when no window is pending and x >= MIN - 1."""
            return Mux(emit_n, ~pend_next_n & (x_min_n | job_end_n), ~pend_n & x_min_n)

        def row_start(job_end_n):
            """The first position of a row; ``job_end_n``: the job_end the row starts with."""
            x_min0 = Const(int(self.MIN_ROW_POSITIONS <= 1))
            m.d.sync += [x.eq(0), j.eq(0), x_end_less1.eq(xfe_less1), room.eq(room0),
                         pend.eq(1), pend_next.eq(col_more0), rs.eq(1), x_in.eq(1),
                         emit.eq(at_end0), x_min.eq(x_min0), tap_ok.eq(0),
                         row_done.eq(row_done_after(at_end0, Const(1), col_more0, x_min0,
                                                    job_end_n))]

        with m.If(starting | group_next):
            group_state()
        with m.If(row_next):
            m.d.sync += [y.eq(n_y), y_h.eq(y_h + 1), row_end.eq(n_row_end), act.eq(n_act),
                         first.eq(n_first), last.eq(n_last)]
            m.d.sync += [to_start[b].eq(n_to_start[b]) for b in range(NB)]
            m.d.sync += [to_end[b].eq(n_to_end[b]) for b in range(NB)]
            m.d.sync += [end_hp[b].eq(n_end_hp[b]) for b in range(NB)]
        with m.If(starting):
            row_start(group_start(one_grp0))
            m.d.sync += [running.eq(1), planes.eq(planes0), last_grp.eq(one_grp0),
                         planes_far.eq(planes0_far)]
            if self._retimed:
                m.d.sync += lanes_q.eq(Cat(*(above(planes0, l) for l in range(L))))
        with m.If(fire):
            with m.If(final):
                m.d.sync += running.eq(0)
            with m.If(row_done):
                with m.If(grp_end):
                    row_start(group_start(planes_far[-1]))
                    m.d.sync += [planes.eq(planes - L), last_grp.eq(planes_far[-1]),
                                 planes_far.eq(planes_far - L)]
                    if self._retimed:       # the next group's lanes: planes - L > l
                        m.d.sync += lanes_q.eq(Cat(*(above(planes, l + L)
                                                     for l in range(L))))
                with m.Else():
                    grp_end_n = n_row_out & ~n_row_more
                    job_end_n = grp_end_n & last_grp
                    row_start(job_end_n)
                    m.d.sync += [y_in.eq(n_y_in), row_out.eq(n_row_out),
                                 row_more.eq(n_row_more),
                                 grp_end.eq(grp_end_n), job_end.eq(job_end_n)]
            with m.Else():
                # x counts up by one from 0: every flag of x + 1 is an equality of x; the
                # next position's flags: emit = pend & (x == x_end), pend moving on to
                # pend_next when a window ends here; row_done of those (job_end holds)
                emit_n = Mux(emit, pend_next & sw_one, pend & (x == x_end_less1))
                x_min_n = x_min | (x == self.MIN_ROW_POSITIONS - 2)
                m.d.sync += [x.eq(x + 1), rs.eq(0), x_in.eq(x_in & (x != w_less1)),
                             emit.eq(emit_n), x_min.eq(x_min_n),
                             tap_ok.eq(tap_ok | (x == tap_at)),
                             row_done.eq(row_done_after(
                                 emit_n, Mux(emit, pend_next, pend),
                                 Mux(emit, ~room[-1], pend_next), x_min_n, job_end))]
                with m.If(emit):
                    m.d.sync += [j.eq(j + 1), x_end_less1.eq(x_end_less1 + sw),
                                 room.eq(room - sw), pend.eq(pend_next),
                                 pend_next.eq(~room[-1])]

        # ---- the position into the queue ------------------------------------------------------
        lanes_ok = lanes_q if self._retimed else Cat(*(above(planes, l) for l in range(L)))
        # the bank flags of this position: being loaded (the first position of a row) or held
        issue_act = Mux(group_next, act0, Mux(row_next, n_act, act))
        issue_first = Mux(group_next, first0, Mux(row_next, n_first, first))
        issue_last = Mux(group_next, last0, Mux(row_next, n_last, last))
        entry_in = queue.i.payload
        m.d.comb += [entry_in.ctl.rs.eq(rs), entry_in.ctl.emit.eq(emit),
                     entry_in.ctl.out.eq(out), entry_in.ctl.final.eq(final),
                     entry_in.ctl.j.eq(j), entry_in.ctl.act.eq(issue_act),
                     entry_in.ctl.first.eq(issue_first), entry_in.ctl.last.eq(issue_last),
                     entry_in.ctl.lanes.eq(lanes_ok), entry_in.need.eq(need),
                     entry_in.tap_ok.eq(tap_ok)]
        head = queue.o.payload
        # the head's `need`: in the retimed unit a register of the queue's own (o_head), so the
        # pop decision below is one LUT after flip-flops, not after the read pointer's
        # multiplexer, and the value gates below hang on that flip-flop
        head_need = queue.o_head if self._retimed else head.need

        # ---- issue: the head position, with its data beat when it holds one ------------------
        m.d.comb += [self.data.ready.eq(queue.o.valid & credit & head_need),
                     queue.o.ready.eq(credit & (~head_need | self.data.valid)),
                     pop.eq(queue.o.valid & queue.o.ready)]
        vals = [Signal(signed(B), name=f"v{l}") for l in range(L)]
        # in the retimed unit each lane's value gate hangs on a copy of the head's `need` of
        # its own, so that no register drives the gates of all L lanes (8x8x64's worst path)
        lane_need = ([queue.o_head_copies[l] for l in range(L)] if self._retimed
                     else [head_need] * L)
        for l in range(L):
            m.d.comb += vals[l].eq(Mux(lane_need[l], words[l * B:(l + 1) * B].as_signed(), 0))
        shreg = [[Signal(signed(B), name=f"row{l}_{t}", reset_less=True) for t in range(K)]
                 for l in range(L)]
        v0 = [Signal(signed(B), name=f"v0_{l}", reset_less=True) for l in range(L)]
        tap_ok0 = Signal()
        m.d.sync += [v0[l].eq(vals[l]) for l in range(L)]
        m.d.sync += tap_ok0.eq(head.tap_ok)
        c0 = Signal(ctl, name="ctl0")
        m.d.sync += [c0.eq(head.ctl), c0.valid.eq(pop)]
        # the value entering the window row minus the one leaving it (B + 1 bits), so that the
        # running sum below is one adder
        d1 = [Signal(signed(B + 1), name=f"d1_{l}", reset_less=True) for l in range(L)]
        # the shift register is not cleared at a row start: a tap before the row's first value
        # (x < kw) reads 0 instead
        # (the values enter at stage K - kw, so the last stage is the tap: no wide select)
        with m.If(c0.valid):
            for l in range(L):
                m.d.sync += [shreg[l][0].eq(v0[l]),
                             d1[l].eq(v0[l] - Mux(tap_ok0, shreg[l][K - 1], 0))]
                m.d.sync += [shreg[l][t].eq(Mux(entry[t], v0[l], shreg[l][t - 1]))
                             for t in range(1, K)]
        c1 = Signal(ctl, name="ctl1")
        m.d.sync += c1.eq(c0)
        m.d.comb += issued_out.eq(c0.valid & c0.out)

        # ---- running window-row sums ----------------------------------------------------------
        run = [Signal(signed(HW), name=f"run{l}", reset_less=True) for l in range(L)]
        with m.If(c1.valid):
            m.d.sync += [run[l].eq(Mux(c1.rs, 0, run[l]) + d1[l]) for l in range(L)]
        c2 = Signal(ctl, name="ctl2")
        m.d.sync += c2.eq(c1)

        # ---- open-row banks: read with ctl2, the word in the fabric with ctl_sum (after
        # BANK_READ_LATENCY), the sums registered, then written back or sent with ctl_out -----
        stages = [c2]
        for i in range(self.BANK_READ_LATENCY + self.SUM_REGS):
            stages.append(Signal(ctl, name=f"ctl{i + 3}"))
            m.d.sync += stages[-1].eq(stages[-2])
        c_out = stages[-1]                           # after the bank read and the sum
        h_sum = run          # the window-row sums, delayed to the sum's stage (BANK_READ_LATENCY)
        for i in range(self.BANK_READ_LATENCY):
            nxt = [Signal(signed(HW), name=f"hsum{i + 3}_{l}", reset_less=True)
                   for l in range(L)]
            m.d.sync += [nxt[l].eq(h_sum[l]) for l in range(L)]
            h_sum = nxt
        abits = max(1, (cfg.pool_row_depth - 1).bit_length())
        sums = []
        for b in range(NB):
            # each bank is cut into slices of one block-RAM shape (as PipelinedMemory's), and a
            # word is never read in the cycle it is written (MIN_ROW_POSITIONS), so Yosys need
            # not emulate read-during-write (no_rw_check: no bypass logic behind the RAM); the
            # read-data register then folds into each slice's DP16KD output register on ECP5
            sums_in = Signal(L * SW, name=f"bank{b}_wdata")
            rq = Signal(L * SW, name=f"bank{b}_rq", reset_less=True)     # in the block RAM
            rq2 = Signal(L * SW, name=f"bank{b}_rq2", reset_less=True)   # in the fabric
            # the bank's own copies of the addresses and the write enable (the values of c2
            # and c_out, registered from the stage before), so that no register drives every
            # bank's block RAMs: each copy is placed by its bank (hw.rtl.verilog.keep_replicas
            # keeps Yosys from merging them)
            raddr = Signal(abits, name=f"bank{b}_raddr", reset_less=True)
            waddr = Signal(abits, name=f"bank{b}_waddr", reset_less=True)
            wen = Signal(name=f"bank{b}_we")
            pre = stages[-2]
            m.d.sync += [raddr.eq(c1.j[:abits]), waddr.eq(pre.j[:abits]),
                         wen.eq(pre.valid & pre.emit & pre.act[b] & ~pre.last[b])]
            for i, (lo, hi) in enumerate(self.bank_slices(cfg)):
                m.submodules[f"bank{b}_{i}"] = mem = Memory(
                    shape=unsigned(hi - lo), depth=cfg.pool_row_depth, init=[],
                    attrs=self.BANK_RAM_ATTRS)
                rp, wp = mem.read_port(), mem.write_port()
                m.d.comb += [rp.addr.eq(raddr), wp.addr.eq(waddr),
                             wp.data.eq(sums_in[lo:hi]), wp.en.eq(wen)]
                m.d.sync += rq[lo:hi].eq(rp.data)
            # a row's first contribution starts from zero: the word read is cleared on its way
            # into the fabric register (a synchronous reset of rq2, with the control one stage
            # before the sum's), so the sum below is a bare adder
            m.d.sync += rq2.eq(Mux(stages[self.BANK_READ_LATENCY - 1].first[b], 0, rq))
            s = [Signal(signed(SW), name=f"bank{b}_sum{l}", reset_less=True) for l in range(L)]
            for l in range(L):
                part = rq2[l * SW:(l + 1) * SW].as_signed()
                m.d.sync += s[l].eq(part + h_sum[l])
            m.d.comb += sums_in.eq(Cat(*s))
            sums.append(s)

        # ---- output register: the sums of the bank whose row ends here ------------------------
        for l in range(L):
            pick = 0
            for b in range(NB):
                pick = pick | Mux(c_out.last[b] & c_out.act[b], sums[b][l], 0)
            m.d.sync += self.o_data[l].eq(Mux(c_out.lanes[l], pick, 0))
        m.d.sync += [self.o_valid.eq(c_out.valid & c_out.out),
                     self.o_last.eq(c_out.valid & c_out.final)]
        return m

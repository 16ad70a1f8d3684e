"""Operand loader: writes a matmul job's W rows, then its A rows, into the operand banks."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig, ceil_log2
from ..flags import above, at_most
from ..formats import OP_POOL, cmd_layout
from ..interfaces import (ahead_signature, job_signature, k_words, kw_bits,
                          progress_signature, write_signature)


#: Deliberate bug the testbench must catch: ``kpad`` writes the last word of each row as it
#: came, without the padding past K (random bits there then count).
LOADER_FAULTS = ("kpad",)
#: Deliberate bug of ``keep_weights``: ``keep_clears_n_l`` clears the last tile column's size
#: at the setup of a job that keeps its weights (it is set only by a last W beat, which such a
#: job does not have), so the last tile column's results are lost.
KEEP_FAULTS = ("keep_clears_n_l",)
#: Deliberate bug of ``loader_regs``: ``own_late`` takes the loader's own copies of the job's
#: values a cycle after setup, from the next command's payload (or whatever the command stream
#: shows then), not the job's.
OWN_FAULTS = ("own_late",)
#: Deliberate bug of ``loader_regs`` 2: ``split_late`` runs the bank writes' copy of the
#: loader's run flag a cycle behind the loader's own, so a load's first beat is not written
#: and a beat after its last is.
SPLIT_FAULTS = ("split_late",)
#: the job's values job control's ``ctl`` carries (:func:`hw.rtl.interfaces.k_words`)
K_VALUES = ("kwords", "kw_pen", "kw_one")
#: the job's values the loader reads after the setup cycle (with ``loader_regs`` it keeps its
#: own copies of these; the others it reads in the setup cycle only)
HELD = K_VALUES + ("rows_m", "one_m", "n_low", "m_low")


class OperandLoader(wiring.Component):
    """Takes a matmul job's load beats and writes them into the operand banks: N rows of W,
    then M rows of A, in groups of G = ``cfg.load_rows_eff`` rows per beat (beat w of a group
    holds word w of each of its rows), a group's rows to G banks at one address.

    Ports:

    - ``ctl`` (in, :func:`hw.rtl.interfaces.job_signature`): the job; ``setup`` starts a load
      unless the job is a pool. With ``cfg.keep_weights``, a job whose ``keep_w`` is set loads
      its A rows only: the weight banks and ``progress.n_l`` keep the previous job's (same N
      and K), and ``w_done`` is high in the cycle after setup.
    - ``data`` (in, stream of ``cfg.data_width`` bits): the load beats; ready while loading.
    - ``write`` (out, :func:`hw.rtl.interfaces.write_signature`): the bank writes; the last
      word of each row is written padded past K (``ctl.kmask``: A bits there 0, W bits 1), so
      they add nothing in either mode and the array takes the words as they are.
    - ``progress`` (out, :func:`hw.rtl.interfaces.progress_signature`): W done, tile rows of
      A loaded, the last tile row's and column's sizes.
    - ``ahead`` (in, :func:`hw.rtl.interfaces.ahead_signature`; two weight buffers only,
      ``cfg.w_buffers`` = 2): ``ctl`` is then the loader's own job. Each job's W goes to the
      weight buffer after the previous job's (words from 0 or ``cfg.w_buffer_words`` on). A
      job taken ahead loads its W only and waits, keeping its last tile column's size aside;
      when it runs, its A rows follow at once (``w_done`` in the cycle after ``run``, as for
      kept weights) or, with W still loading, right after its last W beat.
    - ``next_job`` (in, :func:`hw.rtl.formats.cmd_layout`; ``cfg.loader_regs`` only): the
      command stream's payload as it is shown, valid or not. The loader decodes it into
      free-running registers (``nx_*``: KW, KW - 2, KW == 1, N's and M's row groups and whether
      each is one group, N > (R/G - 1) * C, the low bits of N - 1 and M - 1, matmul or pool),
      which hold the job's values in its setup cycle (the cycle after its beat); it takes them
      there and keeps its own copies (``own_*``) for the job. Same cycles; the loader's control
      then reads no decode of ``ctl.job`` and none of ``ctl``'s K-derived values, which job
      control's logic shares and holds far from the banks. ``cfg.loader_regs`` = 2: the bank
      writes and ``progress``'s ``w_done`` and ``row_pulse`` take the load beat from a run flag
      of their own (``idle_wr``, the complement of ``loading``), so the beat that steps the
      loader's control drives nothing across the die.
    - ``progress.rows_ready`` (two activation buffers only, ``cfg.a_buffers`` = 2): a job taken
      ahead goes on from its W to its A rows, into the other activation buffer (words from 0 or
      ``cfg.a_buffer_words`` on), keeping aside its tile rows loaded (``rows_ready``, read by
      the tile reader at the job's setup), its last tile row's sizes and its last tile
      column's, and hands them over when it runs (``all_loaded`` then if every A row is in).

    Latency: a beat taken in cycle c is written in cycle c + :attr:`WRITE_REGS` (registered
    address, data and enables); the row pulse of a tile row whose last beat is taken in cycle
    c is high in cycle c + :attr:`ROW_DONE_REGS`.
    """

    #: registers from a load beat to its bank write (address, data and enables)
    WRITE_REGS = 1
    #: registers from the last load beat of a tile row's A rows to ``progress.row_pulse``
    ROW_DONE_REGS = 1

    def __init__(self, cfg: ArrayConfig, *, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        known = LOADER_FAULTS + KEEP_FAULTS + OWN_FAULTS + SPLIT_FAULTS
        if fault is not None and fault not in known:
            raise ValueError(f"unknown operand loader fault {fault!r}; known: {known}")
        self._cfg, self._fault = cfg, fault
        super().__init__({
            "ctl": In(job_signature(cfg)),
            "data": In(stream.Signature(cfg.data_width)),
            "write": Out(write_signature(cfg)),
            "progress": Out(progress_signature(cfg)),
            **({"ahead": In(ahead_signature())} if cfg.w_buffers == 2 else {}),
            **({"next_job": In(cmd_layout(cfg))} if cfg.loader_regs else {}),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        R, C, S, D = cfg.rows, cfg.cols, cfg.simd, cfg.drain_rows_eff
        G = cfg.load_rows_eff
        B = cfg.tile_beats
        kwb = kw_bits(cfg)
        ctl, job, wr, prog = self.ctl, self.ctl.job, self.write, self.progress

        wcount = Signal(kwb)                       # word within the row
        # flags, each set a step ahead; r_one named by hand (a helper below closes over it, which
        # hides it from Amaranth's name tracer), the other two unnamed as they always were, so
        # the Verilog of every config stays byte-identical to the records'
        w_last, b_last, r_one = Signal(), Signal(), Signal(name="r_one")
        # with ``ctl_regs``: the padding's own copy of w_last (it fans out to every bit of the
        # load beat, across the die; the loader's control keeps its own). Its reset value
        # differs from w_last's so that Yosys does not merge the two registers back into one
        # (both are set at every job's setup before they are used)
        w_last_pad = Signal(init=1, name="w_last_pad") if cfg.ctl_regs else w_last

        def set_w_last(value):
            return [w_last.eq(value)] + ([w_last_pad.eq(value)] if cfg.ctl_regs else [])
        # the loader counts row groups of G (one per load beat word): bank group, rows_left
        bank = Signal(range(max(R, C)))
        bank_last = Signal(range(max(R, C)))       # R/G - 1 while loading A, C/G - 1 for W
        bank_pen = Signal(range(max(R, C)))        # bank_last - 1 (wraps when 0: never matched)
        base = Signal(range(max(cfg.a_bank_depth, cfg.w_bank_depth) + 1))
        rows_left = Signal(range(max(cfg.max_m, cfg.max_n) + 1))
        in_w = Signal()                            # loading W (else A)
        # with ``ctl_regs`` 2: the padding's own copy of in_w (it fans out to every bit of the
        # load beat); a reset value unlike in_w's keeps Yosys from merging the two (both are set
        # at every job's setup before a beat is written)
        in_w_pad = Signal(init=1, name="in_w_pad") if cfg.ctl_regs == 2 else in_w

        def set_in_w(value):
            return [in_w.eq(value)] + ([in_w_pad.eq(value)] if cfg.ctl_regs == 2 else [])
        loading = Signal()                         # registered: the loader runs
        overlap = Signal()                         # N > (R/G - 1) * C: tile rows start as loaded
        # the last tile row has m_l = (M-1) % R + 1 rows: its beats ceil(m_l / D) and the mask
        # of the row slots its last beat fills, both from tables indexed by m_l - 1
        beats_of = Array(Const(-(-(min(i, R - 1) + 1) // D), range(B + 1))
                         for i in range(max(R, C)))
        lmask_of = Array(Const((1 << (min(i, R - 1) % D + 1)) - 1, D) for i in range(max(R, C)))

        # the job's values the loader's control reads (:meth:`_decodes`): decoded from the job
        # register (K's from job control's registers after the setup cycle), or with
        # ``loader_regs`` the loader's own registers (``nx``: the payload's, valid in the setup
        # cycle; ``own``: taken there, for the job)
        decodes = self._decodes()
        nx = own = None
        if cfg.loader_regs:
            nx, own = self._own_values(m, decodes)

        def setup_value(name):
            """The job's value ``name`` in the setup cycle."""
            return getattr(nx, name) if nx else decodes[name][1](job)

        def held_value(name):
            """The job's value ``name`` after the setup cycle."""
            if own:
                return getattr(own, name)
            return getattr(ctl, name) if name in K_VALUES else decodes[name][1](job)

        beat = Signal()
        # the load beat of the bank writes and the progress outputs: ``beat``, or with
        # ``loader_regs`` 2 a copy from a run flag of their own (``idle_wr``, loading's
        # complement, so that Yosys keeps it apart), placed beside what it drives (the bank
        # write enables across the die) while ``beat`` drives only the loader's control
        split = cfg.loader_regs == 2
        beat_wr = beat
        if split:
            idle_wr, beat_wr = Signal(init=1, name="idle_wr"), Signal(name="beat_wr")
            m.d.comb += beat_wr.eq(self.data.valid & ~idle_wr)
            if self._fault == "split_late":       # deliberately broken: a cycle behind
                m.d.sync += idle_wr.eq(~loading)

        def set_loading(value):
            """``loading`` and, with ``loader_regs`` 2, its complement ``idle_wr`` set to
            ``value`` (0 or 1)."""
            copy = split and self._fault != "split_late"
            return [loading.eq(value)] + ([idle_wr.eq(1 - value)] if copy else [])
        # a job that keeps its weights: W is "done" in the cycle after setup (a register)
        w_done = beat_wr & w_last & r_one & in_w
        if cfg.keep_weights:
            kept = Signal()
            m.d.sync += kept.eq(ctl.setup & job.keep_w & setup_value("matmul"))
            w_done = w_done | kept
        two = cfg.w_buffers == 2
        if two:
            # a job taken ahead: W only (`w_only`, cleared when it runs), then `w_loaded`
            # until it runs; its last tile column's size waits in `n_l_ahead`
            w_only, w_loaded = Signal(), Signal()
            n_l_ahead = Signal.like(prog.n_l)
            wbuf = Signal()                      # the weight buffer of the last W load
            run = self.ahead.run
            kept = Signal()
            m.d.sync += kept.eq(run & w_loaded)
            stop_after_w = w_only & ~run
            # (the last W beat of a job ahead is no `w_done`: the tile reader still runs, or
            # has ended, the job before)
            w_done = (w_done & ~stop_after_w) | kept
        two_a = cfg.a_buffers == 2
        if two_a:
            # two activation buffers: a job taken ahead goes on to its A rows (`a_ahead`, into
            # the other buffer, from `a_origin`), keeping aside what the running job's reader
            # must not see (tile rows loaded, the last tile row's sizes), then waits
            # (`a_loaded`) until it runs
            abuf, a_origin = Signal(name="a_buffer"), Signal(range(cfg.a_bank_depth + 1),
                                                              name="a_origin")
            a_ahead, a_loaded = Signal(name="a_ahead"), Signal(name="a_loaded")
            aside = a_ahead & ~run
            rows_aside = Signal.like(prog.rows_ready, name="rows_aside")
            ml_beats_aside = Signal.like(prog.ml_beats, name="ml_beats_aside")
            ml_lmask_aside = Signal.like(prog.ml_lmask, name="ml_lmask_aside")
            m.d.comb += prog.rows_ready.eq(rows_aside)
            # (this assignment, the later, is the one that holds: W is in when the job waits
            # or, with two A buffers, while its A rows load or once they are in; folding it
            # into the one above would change the Verilog of record 26)
            m.d.sync += kept.eq(run & (w_loaded | a_ahead | a_loaded))
        m.d.comb += [self.data.ready.eq(loading), beat.eq(self.data.valid & loading),
                     prog.w_done.eq(w_done)]
        # the last word of a row padded past K: A bits 0, W bits 1 (one LUT per bit: the word's
        # bit, the mask's, in_w, w_last)
        keep = Const((1 << S) - 1, S) if self._fault == "kpad" else ctl.kmask
        padded = Signal(S * G)
        for j in range(G):
            word = self.data.payload[j * S:(j + 1) * S]
            m.d.comb += padded[j * S:(j + 1) * S].eq(
                Mux(w_last_pad, Mux(in_w_pad, word | ~keep, word & keep), word))
        m.d.sync += [wr.data.eq(padded), wr.a_en.eq(0), wr.w_en.eq(0)]

        def last_row_of(field):
            """Index within its tile of the last of the job's ``field`` (``"n"`` or ``"m"``)
            rows, from the last group's bank group (``bank`` at the last beat):
            bank * G + (rows - 1) mod G."""
            return bank if G == 1 else Cat(held_value(f"{field}_low"), bank)

        def start_a(at_setup=False):
            """The loader's registers at the start of the A rows (after W, or at a setup that
            keeps W: ``at_setup``)."""
            value = setup_value if at_setup else held_value
            return [*set_in_w(0), bank.eq(0), bank_last.eq(R // G - 1), bank_pen.eq(R // G - 2),
                    b_last.eq(R // G == 1), base.eq(a_origin if two_a else 0),
                    rows_left.eq(value("rows_m")), r_one.eq(value("one_m"))]

        def a_end(beats, lmask, loaded):
            """The loader's registers at the last A beat: the last tile row's beats and mask
            into ``beats`` and ``lmask``, ``loaded`` set."""
            return [*set_loading(0), loaded.eq(1), beats.eq(beats_of[last_row_of("m")]),
                    lmask.eq(lmask_of[last_row_of("m")])]

        # a tile row's A rows are loaded (its last row's last beat: the bank wraps, or the last
        # row); with `overlap` every tile row, else only the last (`all_loaded` then)
        row_done = beat_wr & ~in_w & w_last & (b_last | r_one) & overlap
        if two_a:       # a job ahead's tile rows are counted aside, not pulsed
            m.d.sync += prog.row_pulse.eq(row_done & ~aside)
            with m.If(row_done & aside):
                m.d.sync += rows_aside.eq(rows_aside + 1)
        else:
            m.d.sync += prog.row_pulse.eq(row_done)

        def write_regs():
            """The bank write's address and enables, for a beat (``beat_wr``) now."""
            m.d.sync += wr.addr.eq(base + wcount)
            for r in range(R):
                m.d.sync += wr.a_en[r].eq(beat_wr & ~in_w & (bank == r // G))
            for c in range(C):
                m.d.sync += wr.w_en[c].eq(beat_wr & in_w & (bank == c // G))
        if split:
            with m.If(~idle_wr):
                write_regs()
        with m.If(loading):
            if not split:
                write_regs()
            with m.If(beat):
                with m.If(~w_last):
                    m.d.sync += [wcount.eq(wcount + 1),
                                 *set_w_last(wcount == held_value("kw_pen"))]
                with m.Else():
                    m.d.sync += [wcount.eq(0),
                                 *set_w_last(held_value("kw_one")),
                                 rows_left.eq(rows_left - 1), r_one.eq(rows_left == 2)]
                    with m.If(b_last):
                        m.d.sync += [bank.eq(0),
                                     base.eq(base + held_value("kwords")),
                                     b_last.eq(bank_last == 0)]
                    with m.Else():
                        m.d.sync += [bank.eq(bank + 1), b_last.eq(bank == bank_pen)]
                    with m.If(r_one):
                        w_end = in_w
                        if two:
                            with m.If(in_w & stop_after_w):     # W of a job ahead
                                if two_a:                       # its A rows next
                                    m.d.sync += [*start_a(), a_ahead.eq(1),
                                                 n_l_ahead.eq(last_row_of("n") + 1)]
                                else:                           # wait
                                    m.d.sync += [*set_loading(0), w_loaded.eq(1),
                                                 n_l_ahead.eq(last_row_of("n") + 1)]
                            w_end = in_w & ~stop_after_w
                        with m.If(w_end):            # W done: A next
                            m.d.sync += [*start_a(), prog.n_l.eq(last_row_of("n") + 1)]
                        with (m.Elif(~in_w) if two else m.Else()):
                            if two_a:           # a job ahead: aside, then it waits to run
                                with m.If(aside):
                                    m.d.sync += a_end(ml_beats_aside, ml_lmask_aside, a_loaded)
                                with m.Else():
                                    m.d.sync += a_end(prog.ml_beats, prog.ml_lmask,
                                                      prog.all_loaded)
                            else:
                                m.d.sync += a_end(prog.ml_beats, prog.ml_lmask,
                                                  prog.all_loaded)

        with m.If(ctl.setup):
            kw1 = setup_value("kw_one")
            m.d.sync += [wcount.eq(0), bank.eq(0), bank_last.eq(C // G - 1), base.eq(0),
                         *set_in_w(1), bank_pen.eq(C // G - 2), *set_w_last(kw1),
                         b_last.eq(C // G == 1),
                         rows_left.eq(setup_value("rows_n")), r_one.eq(setup_value("one_n")),
                         overlap.eq(setup_value("overlap")), prog.all_loaded.eq(0)]
            with m.If(setup_value("matmul")):
                m.d.sync += set_loading(1)
            if cfg.keep_weights:
                with m.If(job.keep_w):                   # W kept: A at once
                    m.d.sync += start_a(at_setup=True)
                    if self._fault == "keep_clears_n_l":
                        m.d.sync += prog.n_l.eq(0)
            if two:
                half = cfg.w_buffer_words
                with m.If(job.op != OP_POOL):            # W into the other buffer
                    m.d.sync += [wbuf.eq(~wbuf), base.eq(Mux(wbuf, 0, half))]
                    if two_a:                            # A too
                        m.d.sync += [abuf.eq(~abuf),
                                     a_origin.eq(Mux(abuf, 0, cfg.a_buffer_words))]
                if two_a:
                    m.d.sync += rows_aside.eq(0)
                m.d.sync += w_only.eq(self.ahead.ahead)
                with m.If(self.ahead.ahead):             # the running job's A stays loaded
                    m.d.sync += prog.all_loaded.eq(prog.all_loaded)
        if two:
            with m.If(run):                              # the job taken ahead runs
                m.d.sync += [w_only.eq(0), prog.all_loaded.eq(0)]
                with m.If(w_loaded):                     # W in: its A rows at once
                    m.d.sync += [*start_a(), *set_loading(1), w_loaded.eq(0),
                                 prog.n_l.eq(n_l_ahead)]
                if two_a:                                # its A rows loading or in
                    m.d.sync += a_ahead.eq(0)
                    with m.If(a_ahead | a_loaded):
                        m.d.sync += prog.n_l.eq(n_l_ahead)
                    with m.If(a_loaded):                 # all in: hand over what waited
                        m.d.sync += [a_loaded.eq(0), prog.all_loaded.eq(1),
                                     prog.ml_beats.eq(ml_beats_aside),
                                     prog.ml_lmask.eq(ml_lmask_aside)]
                    # its last A beat now: loaded (the beat's own statements above)
                    with m.If(beat & ~in_w & w_last & r_one):
                        m.d.sync += prog.all_loaded.eq(1)
        return m

    def _decodes(self) -> dict:
        """The values the loader decodes from a job's command, by name: (shape, function of a
        :func:`hw.rtl.formats.cmd_layout` view). K's are :func:`hw.rtl.interfaces.k_words`';
        ``rows_n`` / ``rows_m`` the row groups of G (load beats per word), ceil(rows / G);
        ``one_n`` / ``one_m`` one group; ``overlap`` N > (R/G - 1) * C (tile rows start as
        loaded); ``matmul`` not a pool; with G > 1 ``n_low`` / ``m_low`` (rows - 1) mod G."""
        cfg = self._cfg
        R, C, S = cfg.rows, cfg.cols, cfg.simd
        G, lgg = cfg.load_rows_eff, ceil_log2(cfg.load_rows_eff)

        def groups(rows):
            return rows if G == 1 else (rows + G - 1) >> lgg

        def one_group(rows):
            return rows == 1 if G == 1 else at_most(rows, G)

        def of_k(name):
            return lambda job: k_words(job.k, S)[name]
        decodes = {
            "kwords": (kw_bits(cfg), of_k("kwords")), "kw_pen": (kw_bits(cfg), of_k("kw_pen")),
            "kw_one": (1, of_k("kw_one")),
            "rows_n": (range(cfg.max_n + 1), lambda job: groups(job.n)),
            "one_n": (1, lambda job: one_group(job.n)),
            "overlap": (1, lambda job: above(job.n, (R // G - 1) * C)),
            "rows_m": (range(cfg.max_m + 1), lambda job: groups(job.m)),
            "one_m": (1, lambda job: one_group(job.m)),
            "matmul": (1, lambda job: job.op != OP_POOL),
        }
        if G > 1:
            decodes.update(n_low=(lgg, lambda job: (job.n - 1)[:lgg]),
                           m_low=(lgg, lambda job: (job.m - 1)[:lgg]))
        return decodes

    def _own_values(self, m, decodes):
        """``loader_regs``: the free-running registers of ``decodes`` of ``next_job`` (``nx``)
        and the loader's own copies of those read after the setup cycle (:data:`HELD`), taken
        in the setup cycle (``own``); two namespaces of the registers by name."""
        held = [name for name in HELD if name in decodes]
        nx, own = SimpleNamespace(), SimpleNamespace()
        for name, (shape, value) in decodes.items():
            setattr(nx, name, Signal(shape, name=f"nx_{name}", reset_less=True))
            m.d.sync += getattr(nx, name).eq(value(self.next_job))
        for name in held:
            setattr(own, name, Signal.like(getattr(nx, name), name=f"own_{name}"))
        take = self.ctl.setup
        if self._fault == "own_late":            # deliberately broken: a cycle after setup
            late = Signal(name="own_late")
            m.d.sync += late.eq(self.ctl.setup)
            take = late
        with m.If(take):
            m.d.sync += [getattr(own, name).eq(getattr(nx, name)) for name in held]
        return nx, own

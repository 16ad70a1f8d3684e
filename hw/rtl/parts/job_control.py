"""Job control: takes the command beats and steps each job through its phases."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import ArrayConfig, ceil_log2
from ..command import idle_register, idle_state, start_on_op, to_idle
from ..formats import OP_AND, OP_POOL, cmd_layout
from ..interfaces import (ahead_signature, drain_signature, job_signature, k_words,
                          status_signature)

#: Deliberate bug of the IDLE flip-flop (``cfg.ctl_regs`` = 1): ``idle_late`` sets it in the
#: first IDLE cycle instead of with the transition into IDLE, so every command after the first
#: is taken one cycle late (results exact, cycles not the model's)
JOB_FAULTS = ("idle_late",)


def last_word_mask(simd: int, krem):
    """The bits of a row's last ``simd``-bit word that hold K's bits, from ``krem`` =
    (K - 1) mod simd: the low krem + 1 bits set."""
    return Const((1 << simd) - 1, simd) >> (~krem)


class JobControl(wiring.Component):
    """Holds the current job and steps it through its phases: IDLE (ready for a command beat),
    SETUP (one cycle: the parts initialise their registers for the job), then for a matmul
    MATMUL (until the last tile read: the loader loads W, then A, and the tile reader starts
    once W is in, on the loader's ``w_done``, which job control does not see), MM_DONE (until
    the last drain has started and ended), for a pool POOL (until the pool unit is idle); back
    to IDLE.

    Ports:

    - ``cmd`` (in, stream of :func:`hw.rtl.formats.cmd_layout`): one beat per job, taken in IDLE.
    - ``ctl`` (out, :func:`hw.rtl.interfaces.job_signature`): the job register, the setup
      pulse and the values derived from K.
    - ``tiles`` (in, :func:`hw.rtl.interfaces.status_signature`): ``done`` ends MATMUL.
    - ``drain`` (in, :func:`hw.rtl.interfaces.drain_signature`): MM_DONE ends once neither
      ``in_flight`` nor ``shift``.
    - ``pool_start`` (out, 1): high in the setup cycle of a pool job (``with_pool``).
    - ``pool_busy`` (in, 1): the pool unit runs; POOL ends when it is low.

    ``with_pool=False`` (a matmul core beside a pool core): a pool command is dropped in its
    setup cycle.

    With two weight buffers (``cfg.w_buffers`` = 2) the loader has a job of its own, and two
    ports more:

    - ``load`` (out, :func:`hw.rtl.interfaces.job_signature`): the loader's job, the last
      command taken, with its own setup pulse (the cycle after its beat) and derived values.
    - ``ahead`` (out, :func:`hw.rtl.interfaces.ahead_signature`): the loader's job was taken
      while another runs (``ahead``), and that job's run begins (``run``).

    In MATMUL and MM_DONE a matmul command beat is taken once the loader has loaded every
    operand of the running job (``all_loaded``, an input then) and no job is waiting: its W
    loads into the other weight buffer while the running job computes. When the running job
    ends (MM_DONE), the waiting one runs: a cycle NEXT, which takes it from the loader's job
    register as IDLE takes a command beat, then SETUP as for any job.

    With ``cfg.ctl_regs`` = 1 the IDLE state is also a flip-flop of its own, set with every
    transition into IDLE and cleared with the beat taken there; ``ready`` (in IDLE) and the
    job register's enable hang on it, not on a decode of the state register, and the last
    word's mask loads in the setup cycle from a free-running copy of the payload's K - 1 instead
    of from a copy the beat captures (same values in the same cycles).
    ``fault``: one of :data:`JOB_FAULTS`, a deliberate bug of that flip-flop.

    Latency: :attr:`START_CYCLES` cycles from a command beat to the first cycle a data beat
    can be taken (the beat, then the setup cycle).
    """

    #: cycles of a job before its first data beat is taken: the command beat, then the setup
    #: cycle that latches the job's derived counts
    START_CYCLES = 2

    def __init__(self, cfg: ArrayConfig, *, with_pool: bool = True, fault: str | None = None):
        if not isinstance(cfg, ArrayConfig):
            raise TypeError(f"cfg must be an ArrayConfig, got {type(cfg).__name__}")
        if fault is not None and fault not in JOB_FAULTS:
            raise ValueError(f"unknown job control fault {fault!r}; known: {JOB_FAULTS}")
        self._cfg, self._with_pool, self._fault = cfg, with_pool, fault
        super().__init__({
            "cmd": In(stream.Signature(cmd_layout(cfg))),
            "ctl": Out(job_signature(cfg)),
            "tiles": In(status_signature()),
            "drain": In(drain_signature(cfg)),
            "pool_start": Out(1),
            "pool_busy": In(1),
            **({"load": Out(job_signature(cfg)), "ahead": Out(ahead_signature()),
                "all_loaded": In(1)} if cfg.w_buffers == 2 else {}),
        })

    def elaborate(self, platform):
        if self._cfg.w_buffers == 2:
            return self._elaborate_ahead()
        m = Module()
        cfg, ctl = self._cfg, self.ctl
        S, lgs = cfg.simd, ceil_log2(cfg.simd)
        job = ctl.job
        idle, to_set = self._idle(m, self.cmd, job)
        # the last word's mask in two stages (subtract, shift): (K - 1) mod simd taken with the
        # command beat, the mask free-running from it, so it is settled in the cycle after
        # setup, when the loader writes the first load beat (and pads it if it ends a row)
        krem = Signal(lgs, name="krem", reset_less=True)   # (K - 1) mod simd
        if idle is None:
            with m.If(self.cmd.valid & self.cmd.ready):
                m.d.sync += krem.eq(self.cmd.payload.k - 1)
            m.d.sync += ctl.kmask.eq(last_word_mask(S, krem))
        else:
            self._mask_on_setup(m, krem, [ctl.kmask], ctl.setup)

        # `setup` is a register, high in the cycle after a command beat is taken (the FSM is in
        # SETUP exactly then), so the parts' setup loads hang on one flip-flop, not on a
        # decode of the state register
        m.d.sync += ctl.setup.eq(self.cmd.valid & self.cmd.ready)
        # the pool unit's start likewise: a register of the command beat's op, high in the
        # setup cycle of a pool job (not a decode of the state and the job register)
        if self._with_pool:
            start_on_op(m, self.cmd, self.pool_start, OP_POOL)

        with m.FSM():
            idle_state(m, self.cmd, job, idle=idle)

            with m.State("SETUP"):
                m.d.sync += self._derived(ctl, job)
                with m.If(job.op == OP_POOL):
                    if self._with_pool:
                        m.next = "POOL"     # (pool_start is high in this cycle)
                    else:
                        to_idle(m, to_set)    # no pool unit here: dropped (hw.rtl.pool_core)
                with m.Else():
                    m.next = "MATMUL"

            # (one state for the load and the reads: the tile reader's `done` cannot come
            # before W is loaded, so the state machine waits for it alone, and the loader's
            # last-W-beat decision, which hangs on the data stream's valid, reaches the tile
            # reader only)
            with m.State("MATMUL"):
                with m.If(self.tiles.done):
                    m.next = "MM_DONE"

            with m.State("MM_DONE"):
                with m.If(~self.drain.in_flight & ~self.drain.shift):
                    to_idle(m, to_set)

            if self._with_pool:
                with m.State("POOL"):
                    with m.If(~self.pool_busy):
                        to_idle(m, to_set)
        return m

    def _idle(self, m, cmd, job):
        """With ``cfg.ctl_regs``: the IDLE flip-flop of :func:`hw.rtl.command.idle_register`,
        which takes the beat into ``job`` and drives ``ready`` in IDLE (the caller adds the
        running job's ``ready`` with two weight buffers), and the register a transition into
        IDLE sets (:func:`hw.rtl.command.to_idle`; the same flip-flop unless ``idle_late``);
        (None, None) without it (``ready`` and the job register hang on the FSM's IDLE
        decode)."""
        if not self._cfg.ctl_regs:
            return None, None
        idle = idle_register(m, cmd, job)
        if self._cfg.w_buffers == 1:
            m.d.comb += cmd.ready.eq(idle)
        if self._fault == "idle_late":      # deliberately broken: set in IDLE, a cycle late
            late = Signal(name="idle_late")
            with m.If(late):
                m.d.sync += idle.eq(1)
            m.d.sync += late.eq(0)
            return idle, late
        return idle, idle

    def _mask_on_setup(self, m, krem, masks, setup):
        """With ``cfg.ctl_regs``: ``krem`` follows every command payload ((K - 1) mod simd, no
        enable), and the ``masks`` load from it in the cycle ``setup`` (a register, high the
        cycle after a beat is taken) is high: the same mask in the same cycle as capturing
        ``krem`` with the beat, without the beat's handshake reaching ``krem`` across the die
        (the loader's padding pulls the mask registers, and ``krem`` with them, away from job
        control)."""
        S = self._cfg.simd
        m.d.sync += krem.eq(self.cmd.payload.k - 1)
        with m.If(setup):
            m.d.sync += [mask.eq(last_word_mask(S, krem)) for mask in masks]

    def _derived(self, ctl, job) -> list:
        """The assignments of ``ctl``'s values derived from its job's K and op
        (:func:`hw.rtl.interfaces.k_words`; short paths only: comparisons with a constant as
        gates)."""
        return [*(getattr(ctl, name).eq(value)
                  for name, value in k_words(job.k, self._cfg.simd).items()),
                ctl.is_and.eq(job.op == OP_AND)]

    def _derive(self, m, ctl, job, when):
        """:meth:`_derived`, registered in the cycle ``when`` is high."""
        with m.If(when):
            m.d.sync += self._derived(ctl, job)

    def _elaborate_ahead(self):
        """Job control with two weight buffers (class docstring): the running job on ``ctl``,
        the loader's on ``load``."""
        m = Module()
        cfg, ctl, load = self._cfg, self.ctl, self.load
        S, lgs = cfg.simd, ceil_log2(cfg.simd)
        cmd = self.cmd
        taken = Signal()
        m.d.comb += taken.eq(cmd.valid & cmd.ready)
        idle, to_set = self._idle(m, cmd, ctl.job)
        running_ready = cmd.ready           # ready in MATMUL and MM_DONE
        if idle is not None:
            running_ready = Signal()
            m.d.comb += cmd.ready.eq(idle | running_ready)
        krem = Signal(lgs, name="krem", reset_less=True)   # (K - 1) mod simd of the last beat
        if idle is None:
            with m.If(taken):
                m.d.sync += [krem.eq(cmd.payload.k - 1), load.job.eq(cmd.payload)]
            kmask = last_word_mask(S, krem)
            m.d.sync += [load.kmask.eq(kmask), ctl.kmask.eq(kmask)]
        else:
            with m.If(taken):
                m.d.sync += load.job.eq(cmd.payload)
            self._mask_on_setup(m, krem, [load.kmask, ctl.kmask], load.setup)
        # the loader's setup: the cycle after every command beat; ahead: taken while a job runs
        running = Signal()          # the FSM is in MATMUL or MM_DONE
        waiting = Signal()          # a job taken ahead waits for the running one to end
        m.d.sync += [load.setup.eq(taken), self.ahead.ahead.eq(taken & running)]
        self._derive(m, load, load.job, load.setup)
        # the running job's setup: a command beat taken in IDLE, or the cycle NEXT
        run_next = Signal()
        m.d.sync += ctl.setup.eq((taken & ~running) | run_next)
        m.d.sync += self.ahead.run.eq(run_next)
        if self._with_pool:
            start_on_op(m, cmd, self.pool_start, OP_POOL)
        with m.If(taken & running):
            m.d.sync += waiting.eq(1)

        with m.FSM():
            idle_state(m, cmd, ctl.job, idle=idle)

            with m.State("SETUP"):
                self._derive(m, ctl, ctl.job, 1)
                with m.If(ctl.job.op == OP_POOL):
                    if self._with_pool:
                        m.next = "POOL"
                    else:
                        to_idle(m, to_set)
                with m.Else():
                    m.next = "MATMUL"

            # a matmul beat is taken ahead once the running job's operands are all in
            ahead_ok = self.all_loaded & ~waiting & (cmd.payload.op != OP_POOL)
            with m.State("MATMUL"):
                m.d.comb += [running.eq(1), running_ready.eq(ahead_ok)]
                with m.If(self.tiles.done):
                    m.next = "MM_DONE"

            with m.State("MM_DONE"):
                m.d.comb += [running.eq(1), running_ready.eq(ahead_ok)]
                with m.If(~self.drain.in_flight & ~self.drain.shift):
                    to_idle(m, to_set)
                    with m.If(waiting | taken):
                        m.next = "NEXT"
                        if to_set is not None:
                            m.d.sync += to_set.eq(0)

            # the job taken ahead runs: its command from the loader's job register, as IDLE
            # takes a beat (the setup register is high in the next cycle, SETUP)
            with m.State("NEXT"):
                m.d.comb += run_next.eq(1)
                m.d.sync += [ctl.job.eq(load.job), waiting.eq(0)]
                m.next = "SETUP"

            if self._with_pool:
                with m.State("POOL"):
                    with m.If(~self.pool_busy):
                        to_idle(m, to_set)
        return m

"""The command-taking state shared by the cores (:class:`hw.rtl.core.BinaryCore`,
:class:`hw.rtl.pool_core.PoolCore`, :class:`hw.rtl.parts.job_control.JobControl`)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream


def idle_state(m: Module, cmd: stream.Interface, job: Signal, setup: str = "SETUP",
               idle: Signal | None = None) -> None:
    """Within ``m``'s FSM: the state ``IDLE``, ready for a command beat on ``cmd``; an accepted
    beat goes into the job register ``job`` and the FSM to ``setup`` (the first of a job's
    ``BinaryCore.JOB_START_CYCLES``: the command beat, then the setup cycle).

    With ``idle`` (a register of :func:`idle_register`, high exactly while the FSM is in IDLE)
    the state only moves the FSM on: ``ready`` and the job register hang on that flip-flop,
    not on a decode of the state register."""
    with m.State("IDLE"):
        if idle is None:
            m.d.comb += cmd.ready.eq(1)
            with m.If(cmd.valid):
                m.d.sync += job.eq(cmd.payload)
                m.next = setup
        else:
            with m.If(cmd.valid & idle):
                m.next = setup


def idle_register(m: Module, cmd: stream.Interface, job: Signal) -> Signal:
    """A flip-flop (reset value 1) that is high exactly while ``m``'s FSM is in IDLE, for
    :func:`idle_state`: a beat taken while it is high (``cmd.valid`` and it) goes into ``job``
    and clears it; every transition back to IDLE sets it (:func:`to_idle`). The caller drives
    ``cmd.ready`` from it."""
    idle = Signal(init=1, name="idle")
    with m.If(cmd.valid & idle):
        m.d.sync += [job.eq(cmd.payload), idle.eq(0)]
    return idle


def to_idle(m: Module, idle: Signal | None = None) -> None:
    """Within a state of ``m``'s FSM: go to ``IDLE`` next, setting ``idle`` (of
    :func:`idle_register`) with it when there is one."""
    m.next = "IDLE"
    if idle is not None:
        m.d.sync += idle.eq(1)


def start_on_op(m: Module, cmd: stream.Interface, start: Signal, op: int) -> None:
    """Drive ``start`` as a register of the command beat's op: high in the setup cycle of a job
    whose op is ``op`` (the cycle after its beat is taken), so a start hangs on one flip-flop,
    not on a decode of the FSM state and the job register."""
    m.d.sync += start.eq(cmd.valid & cmd.ready & (cmd.payload.op == op))

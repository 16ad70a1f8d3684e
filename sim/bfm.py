"""Bus-functional models of ``bvit_top``: cocotbext-axi on the AXI4-Stream ports, the project's
passive job monitor, reference model and scoreboard.

- **Drivers and observers** (cocotbext-axi, :class:`Bench`): an ``AxiStreamSource`` on
  ``s_axis_cmd`` (one frame per job: the command beat) and on ``s_axis_data`` (one frame per
  job: every data beat), an ``AxiStreamSink`` on ``m_axis_res`` (drives tready; one frame per
  job, delimited by tlast) and an ``AxiStreamMonitor`` on ``s_axis_cmd`` (the command beats the
  core accepted). Each bus is found by its prefix (``AxiStreamBus.from_prefix``) and every
  frame element is one whole beat (``byte_lanes=1``). All of them follow ``rst``: a reset drops
  what they were sending or receiving. Back-pressure comes from their pause generators:
  :func:`idle_pauses` (input tvalid held low) and :class:`SinkPauses` (output tready low:
  random stalls, long freezes, and a freeze from each job's start until freeze_max/2 ..
  freeze_max cycles after its first result beat is valid, so the output FIFO fills).
- **Job monitor** (:class:`JobMonitor`, passive): samples the ports at the falling clock edge,
  i.e. the values the next rising edge will see (the testbench drives only right after rising
  edges and the core's outputs change only at them), every cycle in which a beat can move (it
  sleeps while a job computes with no result valid, until the result stream becomes valid or
  the producer's FIFO credit drops, and counts the cycles from the simulation time). Per job
  it records the
  cycle of the accepted command beat and of the last result beat (``cycles``, both included:
  what the cycle model counts), every accepted result beat, the job's phase, the coverage
  conditions (the output FIFO full, input starvation, output back-pressure) and extra beats
  after tlast. Knowing half a cycle ahead that the last result beat is taken at the next edge
  lets a caller that builds the next job from this one's results (:mod:`sim.tb_network`) put
  that job's command on the bus for that same edge, so it is accepted the cycle after the
  last result beat.
- **Reference model** (:class:`ReferenceModel`) and **scoreboard** (:class:`Scoreboard`): the
  expected result from the operands (numpy), every integer compared exactly.

The sink's frame of each job is compared with the monitor's beats (two observers of one bus);
:func:`sim.tb.drive_job` decodes the sink's frame when it waits past the job's end
(``linger`` > 0) and the monitor's beats when it returns at the end (back to back).
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass, field

import cocotb
from cocotb.triggers import Event, FallingEdge, First, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamMonitor, AxiStreamSink, AxiStreamSource

from hw.rtl.formats import STREAM_PORTS
from sim.coverage import PHASES

#: cocotbext-axi logs every frame at INFO (whole frames); keep the simulation log readable
_AXI_LOG_LEVEL = logging.WARNING
#: X/Z/U/W/- bits of a beat read as 0 (L/H as 0/1)
_X_TO_0 = str.maketrans("xXzZuUwW-LH", "00000000001")


def idle_pauses(rng: random.Random, prob: float):
    """Pause generator of a source: each cycle, tvalid stays low (no new beat) with ``prob``."""
    while True:
        yield rng.random() < prob


class SinkPauses:
    """Pause generator of the result sink for one job (tready low while it yields True).

    With ``freeze_max`` > 0: low from the job's start until its first result beat is valid,
    then for ``freeze_max // 2 .. freeze_max`` more cycles (the output FIFO fills, the array
    must wait); afterwards, on each cycle with a result waiting, a freeze of 1 .. freeze_max
    cycles starts with ``freeze_prob``; otherwise tready is low with ``stall_prob``. While no
    result is valid tready cannot matter and no random number is drawn. :attr:`frozen` counts
    the frozen cycles (after the first result was valid)."""

    def __init__(self, dut, rng: random.Random, trace: "JobTrace", stall_prob: float = 0.0,
                 freeze_prob: float = 0.0, freeze_max: int = 0, res: str = "m_axis_res"):
        self.valid = getattr(dut, f"{res}_tvalid")
        self.rng, self.trace = rng, trace
        self.stall_prob, self.freeze_prob, self.freeze_max = stall_prob, freeze_prob, freeze_max
        self.frozen = 0

    def _valid(self) -> bool:
        return self.valid.value == 1

    def __iter__(self):
        rng, fmax = self.rng, self.freeze_max
        if fmax:
            # results of this job exist only after its command beat was accepted
            while self.trace.cmd_cycle is None or not self._valid():
                yield True
            n = rng.randint(fmax // 2, fmax)
            self.frozen += n
            for _ in range(n):
                yield True
        while True:
            if not self._valid():
                yield False
            elif fmax and self.freeze_prob and rng.random() < self.freeze_prob:
                n = rng.randint(1, fmax)
                self.frozen += n
                for _ in range(n):
                    yield True
            else:
                yield bool(self.stall_prob) and rng.random() < self.stall_prob


@dataclass
class JobTrace:
    """What the job monitor saw of one job (cycles are rising-edge numbers)."""

    data_beats: int                       # data beats the job sends
    pool: bool = False                    # a pool job (else a matmul)
    cmd_cycle: int | None = None          # the command beat was accepted
    data_seen: int = 0                    # data beats accepted so far
    first_valid: int | None = None        # a result beat first valid
    beats: list = field(default_factory=list)    # accepted result beats (tdata)
    last_cycle: int | None = None         # the tlast beat was accepted
    extra: int = 0                        # result beats accepted after tlast
    x_beats: int = 0                      # accepted result beats with X/Z bits (read as 0)
    after: int = 0                        # cycles sampled after tlast
    fifo_full: bool = False
    starved: bool = False
    backpressure: bool = False
    # a reset planned in this phase after `reset_delay` cycles in it (see JobMonitor)
    reset_phase: str | None = None
    reset_delay: int = 0
    reset_at: str | None = None           # the phase the reset was asserted in
    linger: int = 0
    done: Event = field(default_factory=Event)        # tlast accepted (known half a cycle early)
    lingered: Event = field(default_factory=Event)    # `linger` cycles after that sampled
    reset_now: Event = field(default_factory=Event)   # assert reset now

    @property
    def phase(self) -> str:
        """command, load, compute, drain (see :mod:`sim.coverage`) or done."""
        if self.last_cycle is not None:
            return "done"
        if self.first_valid is not None:
            return "drain"
        if self.data_seen and self.data_seen >= self.data_beats:
            return "compute"
        return "load" if self.data_seen else "command"

    @property
    def cycles(self) -> int | None:
        """Accepted command beat to accepted last result beat, both included."""
        if self.cmd_cycle is None or self.last_cycle is None:
            return None
        return self.last_cycle - self.cmd_cycle + 1


def _internal(dut, path: str):
    """The handle of an internal signal (``core.credit``), or None when the simulator does not
    show it."""
    handle = dut
    try:
        for name in path.split("."):
            handle = getattr(handle, name)
        handle.value        # noqa: B018 - readable now, not only at the first sample
    except (AttributeError, ValueError, TypeError):
        return None
    return handle


class JobMonitor:
    """Passive: samples the ports at the falling clock edge (the values the next rising edge
    takes) and keeps the :class:`JobTrace` of the current job (:meth:`watch`). It samples every
    cycle while a beat can move or a reset is planned, and otherwise sleeps until the result
    tvalid rises, the producer's credit falls or a new job is watched; :attr:`cycle` (the
    number of the next rising edge) follows the simulation time across a sleep. Sets the
    trace's ``done`` when the tlast beat will be accepted at the next edge, ``lingered`` after
    ``linger`` more cycles, and ``reset_now`` when a planned reset is due (a reset asserted
    then is sampled by the core at that edge, before any beat moves).

    **Output FIFO full**: the core never lets its output FIFO overflow: the tile reader starts
    a tile, and the pool unit an output, only while a registered credit flag says the FIFO
    has room for it (hw/README.md, Dataflow); the FIFO is full for the producer when that flag
    is low, and it then waits. The ports cannot show this (FIFO writes are internal), so the
    monitor reads the flag of the job's producer, ``core.credit`` (matmul) or
    ``core.pool.credit`` (pool): for a matmul after the job's last data beat (the tile reader
    runs only then), for a pool from its first data beat (the pool unit streams); the flag is
    also low for a cycle after reset. Icarus shows both registers; Verilator
    does through cocotb's ``--public-flat-rw``. Where a simulator hides them, ``fifo:full`` is
    never recorded (:attr:`sees_fifo`)."""

    #: per DUT: the simulation time of the first monitor's first sample, and that monitor
    _origins: dict[int, dict] = {}

    def __init__(self, dut, core: str = "core"):
        self.dut = dut
        cmd, dat, res = STREAM_PORTS[core]
        # this core's port handles: command, data and result streams
        self.cmd_valid, self.cmd_ready = (getattr(dut, f"{cmd}_{s}") for s in ("tvalid", "tready"))
        self.data_valid, self.data_ready = (getattr(dut, f"{dat}_{s}")
                                            for s in ("tvalid", "tready"))
        self.res_valid, self.res_ready, self.res_data, self.res_last = (
            getattr(dut, f"{res}_{s}") for s in ("tvalid", "tready", "tdata", "tlast"))
        self.trace: JobTrace | None = None
        self.cycle = 0                  # the number of the rising edge after the last sample
        self.period = None              # the clock period in simulator steps, once measured
        self._wake = Event()
        # the credit flag of each producer (True: the pool unit) of this core: the matmul core
        # has none of the pool unit's when the top has a pool core (pool_port = 1)
        pool_port = hasattr(dut, f"{STREAM_PORTS['pool_core'][0]}_tvalid")
        self.credit = {} if core == "pool_core" else {False: _internal(dut, "core.credit")}
        if core == "pool_core" or not pool_port:
            self.credit[True] = _internal(dut, f"{core}.pool.credit")
        self._task = cocotb.start_soon(self._run())

    @property
    def sees_fifo(self) -> bool:
        """The simulator shows the credit flag of every producer of this monitor's core."""
        return None not in self.credit.values()

    def watch(self, trace: JobTrace | None) -> None:
        self.trace = trace
        self._wake.set()

    async def _run(self) -> None:
        d = self.dut
        fall = FallingEdge(d.clk)
        prev = None
        while True:
            await fall
            now = get_sim_time("step")
            if prev is None:
                # every monitor of one DUT (one per core) numbers the edges from the first
                # one's first sample, so that cycle numbers of different cores compare
                origin = self._origins.setdefault(id(d), {"t0": now, "first": self})
                first = origin["first"]
                if first is not self and first.period is not None:
                    self.period = first.period
                    self.cycle = round((now - origin["t0"]) / first.period)
            elif self.period is None:
                self.period = now - prev        # two polled samples in a row: one clock period
            self.cycle += 1 if prev is None else round((now - prev) / self.period)
            prev = now
            t = self.trace
            quiet = self._sample(t) if t is not None else True
            if quiet and self.period is not None:
                # nothing can happen before one of these: sleep (the cycle count follows the
                # simulation time)
                self._wake.clear()
                triggers = [self._wake.wait()]
                if t is not None and t.last_cycle is None:
                    triggers.append(RisingEdge(self.res_valid))
                    credit = self.credit.get(t.pool)
                    if credit is not None and not t.fifo_full:
                        triggers.append(FallingEdge(credit))
                await First(*triggers)

    def _sample(self, t: JobTrace) -> bool:
        """Record one cycle of job ``t``; True when nothing can change before the result
        stream becomes valid, the producer's FIFO credit drops or a new job is watched (all
        data in, no result valid, no reset planned; or the linger after tlast over)."""
        if t.last_cycle is not None:                # lingering after tlast
            if t.after >= t.linger:
                return True
            t.after += 1
            if self.res_valid.value == 1 and self.res_ready.value == 1:
                t.extra += 1
            if t.after >= t.linger:
                t.lingered.set()
            return False
        res_valid = self.res_valid.value == 1
        res_take = res_valid and self.res_ready.value == 1
        loading = t.data_seen < t.data_beats
        cmd_valid = data_take = False
        if t.cmd_cycle is None:
            cmd_valid = self.cmd_valid.value == 1
        if loading:
            data_ready = self.data_ready.value == 1
            data_take = data_ready and self.data_valid.value == 1
        if t.reset_phase is not None and self._reset_due(t, cmd_valid, data_take, res_valid,
                                                         res_take):
            return False
        if cmd_valid and self.cmd_ready.value == 1:
            t.cmd_cycle = self.cycle
        if loading:
            if data_take:
                t.data_seen += 1
            elif data_ready and t.cmd_cycle is not None:
                t.starved = True
        if not t.fifo_full and (not loading or (t.pool and t.data_seen > 0)):
            credit = self.credit.get(t.pool)
            t.fifo_full = credit is not None and credit.value == 0
        if res_valid:
            if t.first_valid is None:
                t.first_valid = self.cycle
            if not res_take:
                t.backpressure = True
            else:
                t.beats.append(self._beat(t, self.res_data.value))
                if self.res_last.value == 1:
                    t.last_cycle = self.cycle
                    t.done.set()
                    if t.linger <= 0:
                        t.lingered.set()
            return False
        return not loading and t.reset_phase is None

    @staticmethod
    def _beat(t: JobTrace, value) -> int:
        """A result beat's tdata; X/Z bits count in ``x_beats`` and read as 0."""
        bits = str(value)
        try:
            return int(bits, 2)
        except ValueError:
            t.x_beats += 1
            return int(bits.translate(_X_TO_0), 2)

    def _reset_due(self, t: JobTrace, cmd_valid, data_take, res_valid, res_take) -> bool:
        """A planned reset: in the target phase after its delay, or at its last cycle (the
        sample that would end it), or at once when the job skipped past the target. The
        command phase counts from the cycle its command beat is on the bus."""
        phase = t.phase
        target = PHASES.index(t.reset_phase)
        now = PHASES.index(phase) if phase in PHASES else len(PHASES)
        if now < target or (phase == "command" and t.cmd_cycle is None and not cmd_valid):
            return False
        if now == target and t.reset_delay > 0:
            ends = {"command": data_take,
                    "load": data_take and t.data_seen + 1 >= t.data_beats,
                    "compute": res_valid,
                    "drain": res_take and self.res_last.value == 1}[phase]
            if not ends:
                t.reset_delay -= 1
                return False
        t.reset_at = phase
        t.reset_phase = None
        t.reset_now.set()
        return True


class Bench:
    """The cocotbext-axi models and the job monitor of one core's streams of a ``bvit_top``
    (``core``: a key of :data:`hw.rtl.formats.STREAM_PORTS`; made once per DUT and core by
    :meth:`of`, kept across jobs so that jobs run back to back)."""

    _benches: dict[tuple[int, str], "Bench"] = {}

    def __init__(self, dut, core: str = "core"):
        self.dut, self.core = dut, core
        cmd, dat, res = self.prefixes = STREAM_PORTS[core]
        for prefix in self.prefixes:
            logging.getLogger(f"cocotb.{dut._name}.{prefix}").setLevel(_AXI_LOG_LEVEL)
        clk, rst = dut.clk, dut.rst
        self.cmd = AxiStreamSource(AxiStreamBus.from_prefix(dut, cmd), clk, rst, byte_lanes=1)
        self.data = AxiStreamSource(AxiStreamBus.from_prefix(dut, dat), clk, rst, byte_lanes=1)
        self.res = AxiStreamSink(AxiStreamBus.from_prefix(dut, res), clk, rst, byte_lanes=1)
        self.cmd_seen = AxiStreamMonitor(AxiStreamBus.from_prefix(dut, cmd), clk, rst,
                                         byte_lanes=1)
        self.monitor = JobMonitor(dut, core)
        self.previous: str | None = None       # kind of the last job completed, no reset since
        self.after_reset = False               # a job was interrupted by a reset
        # (row, monitor beats, sink frame holder) of finished jobs whose sink frame is pending
        self._pending: deque = deque()
        self._checker = cocotb.start_soon(self._check_frames())

    @classmethod
    def of(cls, dut, core: str = "core") -> "Bench":
        bench = cls._benches.get((id(dut), core))
        if bench is None:
            bench = cls._benches[id(dut), core] = cls(dut, core)
        return bench

    @classmethod
    def find(cls, dut) -> list["Bench"]:
        """The benches made for ``dut`` so far (one per core)."""
        return [b for (d, _), b in cls._benches.items() if d == id(dut)]

    def start(self, trace: JobTrace, cmd: int, words: list[int], idle_pauses_for,
              sink_pauses: SinkPauses | None) -> None:
        """Queue a job's frames and set the pause generators; the monitor watches ``trace``."""
        for source in (self.cmd, self.data):
            if idle_pauses_for is None:
                source.clear_pause_generator()
                source.pause = False
            else:
                source.set_pause_generator(idle_pauses_for())
        if sink_pauses is None:
            self.res.clear_pause_generator()
            self.res.pause = False
        else:
            self.res.set_pause_generator(sink_pauses)
        self.monitor.watch(trace)
        self.cmd.send_nowait([cmd])
        self.data.send_nowait(words)

    def release_output(self) -> None:
        """Stop the result sink's pause generator: tready high from the next cycle on."""
        self.res.clear_pause_generator()
        self.res.pause = False

    def accepted_commands(self) -> list[int]:
        """The command beats accepted since the last call (the command monitor's frames)."""
        out = []
        while not self.cmd_seen.empty():
            out += list(self.cmd_seen.recv_nowait().tdata)
        return out

    def expect_frame(self, row: dict | None, beats: list[int]) -> dict:
        """Register the sink frame of a finished job, at once when the monitor saw its tlast
        beat coming: the frame is compared with the monitor's ``beats`` when it arrives (on
        that edge); a difference fails the holder's ``row`` (set now or later). The holder
        gets ``frame`` and its ``event`` is set then."""
        holder = {"row": row, "beats": beats, "frame": None, "differs": False,
                  "event": Event()}
        self._pending.append(holder)
        return holder

    @staticmethod
    def mark_disagreement(row: dict, holder: dict) -> None:
        row["error"] = row["error"] or (
            f"the AXI sink's frame ({len(holder['frame'])} beats) differs from the "
            f"{len(holder['beats'])} beats the job monitor saw")
        row["passed"] = False

    async def _check_frames(self) -> None:
        while True:
            frame = await self.res.recv()
            data = list(frame.tdata)
            if not self._pending:
                continue        # the frame of a job that failed before its tlast
            holder = self._pending.popleft()
            holder["frame"] = data
            if data != holder["beats"]:
                holder["differs"] = True
                if holder["row"] is not None:
                    self.mark_disagreement(holder["row"], holder)
            holder["event"].set()

    def on_reset(self) -> None:
        """Reset asserted: drop everything queued (the models drop their current frames
        themselves, on the reset edge) and forget the current job."""
        for model in (self.cmd, self.data):
            model.clear()
        while not self.res.empty():
            self.res.recv_nowait()
        self.accepted_commands()
        self._pending.clear()
        self.monitor.watch(None)
        self.previous = None


class ReferenceModel:
    """The expected result of a job: recomputed from its operands by hw.ops (numpy), never read
    from the file's stored result; the stored result is cross-checked against it."""

    def expect(self, job):
        gold = job.golden()
        if job.result is not None and not (gold == job.result).all():
            raise AssertionError(f"{job.name}: the job file's stored result disagrees with the "
                                 "numpy golden recomputed from its operands")
        return gold


class Scoreboard:
    """Compares every output integer exactly; records one result row per job."""

    def __init__(self):
        self.rows: list[dict] = []

    def check(self, name: str, kind: str, shape: dict, expected, got, cycles, extra: int,
              error: str | None = None) -> dict:
        import numpy as np

        outputs = int(np.asarray(expected).size)
        if got is None:
            mismatches = outputs
        else:
            mismatches = int((np.asarray(got) != np.asarray(expected)).sum())
        mismatches += extra
        row = {"op": name, "kind": kind, "shape": shape, "outputs": outputs,
               "mismatches": mismatches, "cycles": cycles, "error": error,
               "passed": mismatches == 0 and error is None}
        self.rows.append(row)
        return row

    def interrupted(self, name: str, kind: str, shape: dict, outputs: int, phase: str) -> dict:
        """The row of a job cut short by a reset in ``phase``: not a mismatch, no cycles."""
        row = {"op": name, "kind": kind, "shape": shape, "outputs": outputs, "mismatches": 0,
               "cycles": None, "error": None, "passed": True, "reset": phase}
        self.rows.append(row)
        return row

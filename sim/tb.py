"""cocotb test module: runs a list of job files through ``bvit_top``, back to back.

Driven by the runner (:mod:`sim.runner`) through the environment variable ``BVIT_PLAN``: the path
of a JSON plan {"config": ArrayConfig fields, "jobs": [npz paths], "seed", "idle_prob",
"stall_prob", "freeze_prob", "freeze_max", "pad" ("random" or "zero": the data bits past K /
lanes past W), "results": path, and optionally "back_to_back" (default true: one reset before
the first job, then each job's command beat right after the previous job's last result beat;
false: a reset before every job), "reset_prob" (default 0: the chance that a job is interrupted
by a reset in one of its phases, command, load, compute, drain in turn; the job after an
interrupted one is never interrupted and must be bit-exact), "job_seeds" (one seed per job:
each job's stalls, padding bits and reset phase are drawn from its own seed instead of one
stream for the run, so it replays identically alone; :mod:`sim.regress` uses it),
"expect_fail", "concurrent" (default false; with ``pool_port`` = 1 and no resets: the pool
jobs run on the pool core's streams while the matmul jobs run on the matmul core's, each core's
jobs back to back in the plan's order, both at once)}. Writes one JSON
result row per job to ``results`` (rewritten whole after every job).

Every row has op, kind, shape, outputs, mismatches, cycles, error, passed, frozen_cycles, file,
sim_wall_s, ``cover`` (the coverage bins the job hit, :mod:`sim.coverage`) and ``cycle_span``
(the job monitor's cycle numbers of the accepted command beat and the last result beat, so
``cycles`` = last - first + 1 and back-to-back jobs can be checked for gaps); a job cut short
by a reset has ``"reset": <phase>``, no cycles, no mismatches and only the bin
``reset:<phase>``. The drivers, monitors and back-pressure are in :mod:`sim.bfm`.
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource

from hw.config import ArrayConfig
from hw.ops import OpKind, keeps_weights, load_op
from hw.rtl.formats import (STREAM_PORTS, core_of, decode_results, expected_beats, job_cmd,
                            job_words)
from sim import coverage
from sim.bfm import Bench, JobTrace, ReferenceModel, Scoreboard, SinkPauses, idle_pauses

#: cycles watched for extra result beats after a job's last one, when nothing follows at once
LINGER = 8


async def reset(dut, cycles: int = 3) -> None:
    """Synchronous active-high reset with both inputs idle: ``rst`` high for ``cycles`` rising
    edges, then one more edge. The AXI models drop what they were sending or receiving."""
    for cmd, dat, res in STREAM_PORTS.values():
        if hasattr(dut, f"{cmd}_tvalid"):           # the pool core's ports: pool_port = 1
            getattr(dut, f"{cmd}_tvalid").value = 0
            getattr(dut, f"{dat}_tvalid").value = 0
            getattr(dut, f"{res}_tready").value = 0
    dut.rst.value = 1
    for bench in Bench.find(dut):
        bench.on_reset()
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def _reset_window(cfg: ArrayConfig, job, phase: str, words: int) -> int:
    """The largest delay (cycles into ``phase``) drawn for a planned reset; the job monitor
    asserts the reset at the phase's last cycle anyway if it ends sooner."""
    if phase == "command":
        return 2
    if phase == "load":
        return max(0, words - 2)
    if phase == "compute":
        lat = cfg.pool_latency if job.kind is OpKind.POOL else cfg.tile_flush
        return lat + cfg.result_latency - 1
    return max(0, expected_beats(cfg, job) - 1)


async def drive_job(dut, cfg: ArrayConfig, job, rng, idle_prob, stall_prob, model, board,
                    freeze_prob=0.0, freeze_max=0, pad_rng=None, linger=LINGER, *,
                    reset_in: str | None = None, keep_w: bool = False):
    """Drive one job from the current state (no reset), collect and score its results; return
    (the scoreboard row, the decoded result array or None).

    The command and data frames are queued on the AXI sources at once; with nothing stalling,
    a call made when the previous job returned with ``linger=0`` has its command beat accepted
    the cycle after that job's last result beat. With ``linger`` > 0 the call returns ``linger``
    cycles after the last result beat (a beat seen then counts as an extra, i.e. a duplicated
    result, and the result is decoded from the AXI sink's frame); with ``linger=0`` it returns
    half a cycle before the edge that takes the last result beat (decoded from the job
    monitor's beats; the sink's frame is compared with them when it arrives, and an extra beat
    lands in the next job, whose count it breaks).

    ``reset_in`` (one of :data:`sim.coverage.PHASES`): assert a reset in that phase of this
    job (after a random delay drawn from ``rng``); the row then says ``"reset": <phase>`` and
    the result is None. A job that fails with an error (no tlast in time, a wrong beat count,
    an extra beat, a wrong command accepted) is followed by a reset too, so the next job starts
    clean.

    ``keep_w``: a matmul that keeps the weights of the job before it (:func:`hw.ops.keep_flags`):
    its command says so and its data beats are its A rows only; the row then says
    ``"keep_w": true`` (its cycles are :meth:`hw.ops.MatmulOp.cycles` with ``keep_w``)."""
    bench = Bench.of(dut, core_of(cfg, job))
    expected = model.expect(job)
    kind = coverage.job_kind(job)
    words = job_words(cfg, job, pad_rng, keep_w)
    cmd = job_cmd(cfg, job, keep_w)
    trace = JobTrace(data_beats=len(words), linger=max(0, linger),
                     pool=job.kind is OpKind.POOL)
    if reset_in is not None:
        if reset_in not in coverage.PHASES:
            raise ValueError(f"reset_in {reset_in!r}: use one of {coverage.PHASES}")
        trace.reset_phase = reset_in
        trace.reset_delay = rng.randint(0, _reset_window(cfg, job, reset_in, len(words)))
    sink_pauses = (SinkPauses(dut, rng, trace, stall_prob, freeze_prob, freeze_max,
                              res=bench.prefixes[2])
                   if stall_prob or freeze_max else None)
    idle = (lambda: idle_pauses(rng, idle_prob)) if idle_prob else None
    previous, after_reset = bench.previous, bench.after_reset
    budget = int((4 * job.cycles(cfg) + 10_000) * (1 + freeze_prob * freeze_max) + freeze_max)
    bench.start(trace, cmd, words, idle, sink_pauses)
    await First(trace.done.wait(), trace.reset_now.wait(), ClockCycles(dut.clk, budget))
    frozen = sink_pauses.frozen if sink_pauses is not None else 0

    if trace.reset_at is not None:                      # interrupted, as planned
        await reset(dut)
        bench.after_reset = True
        row = board.interrupted(job.name, job.kind.value, job.shape,
                                int(np.asarray(expected).size), trace.reset_at)
        row["frozen_cycles"] = frozen
        row["cycle_span"] = [trace.cmd_cycle, None]
        row["cover"] = [f"reset:{trace.reset_at}"]
        coverage.sample(row["cover"])
        return row, None

    error, got, holder = None, None, None
    if not trace.done.is_set():
        error = f"no tlast after {budget} cycles ({len(trace.beats)} beats so far)"
    else:
        holder = bench.expect_frame(None, list(trace.beats))
        if linger > 0:
            bench.release_output()          # tready high while watching for extra beats
        await trace.lingered.wait()
        beats = trace.beats
        if linger > 0:
            if not holder["event"].is_set():
                error = "the AXI sink has no frame for a job whose tlast beat was accepted"
            else:
                beats = holder["frame"]
        if trace.x_beats:
            error = f"{trace.x_beats} result beats had X or Z bits (read as 0)"
        accepted = bench.accepted_commands()
        if accepted != [cmd]:
            error = (f"the core accepted command beats {[hex(c) for c in accepted]}, "
                     f"the testbench sent one, {cmd:#x}")
        if error is None or trace.x_beats:
            try:
                got = decode_results(cfg, job, beats)
            except ValueError as exc:
                error = str(exc)
    row = board.check(job.name, job.kind.value, job.shape, expected, got, trace.cycles,
                      trace.extra, error)
    if holder is not None:
        holder["row"] = row
        if holder.get("differs"):
            Bench.mark_disagreement(row, holder)
    row["frozen_cycles"] = frozen
    row["cycle_span"] = [trace.cmd_cycle, trace.last_cycle]     # monitor cycle numbers
    if keep_w:
        row["keep_w"] = True
    cover = coverage.shape_bins(cfg, job) + coverage.stream_bins(
        fifo_full=trace.fifo_full, starved=trace.starved, backpressure=trace.backpressure)
    if after_reset:
        cover.append("reset:after")
    elif previous is not None:
        cover.append(coverage.transition_bin(previous, kind))
    row["cover"] = cover
    coverage.sample(cover)
    bench.previous, bench.after_reset = kind, False
    if error is not None or trace.extra:
        await reset(dut)                    # the next job starts from a clean core
    return row, got


async def run_concurrent(dut, cfg: ArrayConfig, plan: dict, model, board) -> list[dict]:
    """The plan's jobs on both cores of a ``pool_port`` top at once: each core's jobs back to
    back in the plan's order, with its own random streams (from the plan's seed, or each job's
    own seed); returns the rows in the plan's order."""
    seed, pad, job_seeds = plan.get("seed", 0), plan.get("pad", "random"), plan.get("job_seeds")
    queues: dict[str, list] = {}
    for i, path in enumerate(plan["jobs"]):
        job = load_op(path, verify=False)
        queues.setdefault(core_of(cfg, job), []).append((i, path, job))
    rows: list = [None] * len(plan["jobs"])

    async def stream(core, items):
        rng = random.Random(f"{seed}-{core}")
        pad_rng = np.random.default_rng([seed, len(core)]) if pad == "random" else None
        before = None           # the job before on this core, its weights in the banks
        for n, (i, path, job) in enumerate(items):
            if job_seeds is not None:
                rng = random.Random(job_seeds[i])
                pad_rng = np.random.default_rng(job_seeds[i]) if pad == "random" else None
            t0 = time.perf_counter()
            row, _ = await drive_job(dut, cfg, job, rng, plan.get("idle_prob", 0.0),
                                     plan.get("stall_prob", 0.0), model, board,
                                     plan.get("freeze_prob", 0.0), plan.get("freeze_max", 0),
                                     pad_rng, 0 if n < len(items) - 1 else LINGER,
                                     keep_w=keeps_weights(cfg, before, job))
            before = job if _no_reset_after(row) else None
            row["file"], row["core"] = path, core
            row["sim_wall_s"] = round(time.perf_counter() - t0, 3)
            dut._log.info("%s", json.dumps(row))
            rows[i] = row

    tasks = [cocotb.start_soon(stream(core, items)) for core, items in queues.items()]
    for task in tasks:
        await task
    return rows


async def run_streamed(dut, cfg: ArrayConfig, plan: dict, model, board) -> None:
    """The plan's matmul jobs streamed: every command beat and every data beat queued at once
    on the AXI sources (input always valid, output always ready), so the core takes each one as
    early as it can, a command possibly while the job before still runs (``w_buffers`` 2).
    Each job's row has ``cycle_span`` = [the cycle its command beat was taken, the cycle of its
    last result beat], counted from the first command beat (cycle 0), and ``cycles`` = their
    difference + 1; its results are the sink frame ending with its tlast."""
    # AXI models of its own (a Bench's frame checker would take the sink's frames)
    cmd_p, data_p, res_p = STREAM_PORTS["core"]
    sources = [AxiStreamSource(AxiStreamBus.from_prefix(dut, p), dut.clk, dut.rst, byte_lanes=1)
               for p in (cmd_p, data_p)]
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, res_p), dut.clk, dut.rst, byte_lanes=1)
    pad = plan.get("pad", "random")
    pad_rng = np.random.default_rng(plan.get("seed", 0)) if pad == "random" else None
    jobs = [load_op(path, verify=False) for path in plan["jobs"]]
    taken, lasts = [], []

    async def watch():          # sampled between edges, as the job monitor does
        cycle = 0
        while len(lasts) < len(jobs):
            await FallingEdge(dut.clk)
            if getattr(dut, f"{cmd_p}_tvalid").value and getattr(dut, f"{cmd_p}_tready").value:
                taken.append(cycle)
            if (getattr(dut, f"{res_p}_tvalid").value and getattr(dut, f"{res_p}_tready").value
                    and getattr(dut, f"{res_p}_tlast").value):
                lasts.append(cycle)
            cycle += 1

    watcher = cocotb.start_soon(watch())
    for job in jobs:
        sources[0].send_nowait([job_cmd(cfg, job)])
        sources[1].send_nowait(job_words(cfg, job, pad_rng))
    budget = sum(job.cycles(cfg) for job in jobs) * 2 + 10_000
    frames, all_in = [], Event()

    async def collect():
        while len(frames) < len(jobs):
            frames.append(list((await sink.recv()).tdata))
        all_in.set()

    collector = cocotb.start_soon(collect())
    await First(all_in.wait(), ClockCycles(dut.clk, budget))
    await ClockCycles(dut.clk, 2)           # the watcher's sample of the last beat
    collector.cancel()
    watcher.cancel()
    first = taken[0] if taken else 0
    for i, (path, job) in enumerate(zip(plan["jobs"], jobs)):
        expected = model.expect(job)
        error, got = None, None
        if i >= len(frames) or i >= len(lasts) or i >= len(taken):
            error = f"no tlast after {budget} cycles"
        else:
            try:
                got = decode_results(cfg, job, frames[i])
            except ValueError as exc:
                error = str(exc)
        span = ([taken[i] - first, lasts[i] - first] if error is None else None)
        row = board.check(job.name, job.kind.value, job.shape, expected, got,
                          span[1] - span[0] + 1 if span else None, 0, error)
        row.update(file=path, cycle_span=span, streamed=True, frozen_cycles=0,
                   cover=coverage.shape_bins(cfg, job))
        dut._log.info("%s", json.dumps(row))
    write_rows(plan["results"], board.rows)


def _no_reset_after(row: dict) -> bool:
    """The job of ``row`` ran to its end and no reset followed it (:func:`drive_job` resets
    after an interruption, an error or an extra beat): the weights it loaded are still there."""
    return "reset" not in row and row["error"] is None and row["passed"]


def write_rows(path: str, rows: list) -> None:
    """The result rows, whole or not at all (the runner may read the file after a crash)."""
    with open(path + ".tmp", "w") as f:
        json.dump(rows, f)
    os.replace(path + ".tmp", path)


async def run_in_order(dut, cfg: ArrayConfig, plan: dict, model, board) -> None:
    """The plan's jobs one at a time in its order (back to back, or a reset before each), each
    possibly interrupted by a planned reset; the rows are written after every job."""
    seed = plan.get("seed", 0)
    rng = random.Random(seed)
    reset_rng = random.Random(f"reset-{seed}")      # resets do not shift the stall stream
    pad = plan.get("pad", "random")
    pad_rng = np.random.default_rng(seed) if pad == "random" else None
    back_to_back = plan.get("back_to_back", True)
    reset_prob = plan.get("reset_prob", 0.0)
    phases = list(coverage.PHASES)
    start = reset_rng.randrange(len(phases))
    phases = phases[start:] + phases[:start]        # resets take the phases in turn
    resets = 0
    paths = plan["jobs"]
    interrupted = False
    job_seeds = plan.get("job_seeds")
    before: dict = {}           # per core, the job whose weights are in its banks (no reset)
    for i, path in enumerate(paths):
        job = load_op(path, verify=False)   # the runner verified it; the model cross-checks
        last = i == len(paths) - 1
        if i and not back_to_back:
            await reset(dut)
            before.clear()
        core = core_of(cfg, job)
        if job_seeds is not None:
            # every random choice of this job (stalls, padding bits, its reset) from its own
            # seed: the job replays the same way alone or in any chunk
            rng = random.Random(job_seeds[i])
            reset_rng = random.Random(f"reset-{job_seeds[i]}")
            pad_rng = np.random.default_rng(job_seeds[i]) if pad == "random" else None
        reset_in = None
        if reset_prob and not last and not interrupted and reset_rng.random() < reset_prob:
            reset_in = (phases[resets % len(phases)] if job_seeds is None
                        else reset_rng.choice(coverage.PHASES))     # the job's own choice
            resets += 1
        linger = 0 if back_to_back and not last else LINGER
        t0 = time.perf_counter()
        row, _ = await drive_job(dut, cfg, job, rng, plan.get("idle_prob", 0.0),
                                 plan.get("stall_prob", 0.0), model, board,
                                 plan.get("freeze_prob", 0.0), plan.get("freeze_max", 0),
                                 pad_rng, linger, reset_in=reset_in,
                                 keep_w=keeps_weights(cfg, before.get(core), job))
        interrupted = "reset" in row
        if _no_reset_after(row):
            before[core] = job
        else:
            before.clear()                  # a reset clears every core
        row["file"] = path
        row["sim_wall_s"] = round(time.perf_counter() - t0, 3)
        dut._log.info("%s", json.dumps(row))
        write_rows(plan["results"], board.rows)


@cocotb.test()
async def run_plan(dut):
    """Every job of the plan, bit-exact against the reference model."""
    with open(os.environ["BVIT_PLAN"]) as f:
        plan = json.load(f)
    cfg = ArrayConfig.from_dict(plan["config"])
    Clock(dut.clk, 10, unit="ns").start()
    model, board = ReferenceModel(), Scoreboard()
    await reset(dut)
    if plan.get("concurrent"):
        write_rows(plan["results"], await run_concurrent(dut, cfg, plan, model, board))
    elif plan.get("streamed"):
        await run_streamed(dut, cfg, plan, model, board)
    else:
        await run_in_order(dut, cfg, plan, model, board)
    coverage.report_db(dut._log.info)
    failed = [r for r in board.rows if not r["passed"]]
    assert not failed or plan.get("expect_fail", False), \
        f"{len(failed)} of {len(board.rows)} jobs mismatched: {[r['op'] for r in failed]}"

"""cocotb test module: runs a list of job files through ``bvit_top`` with reset between jobs.

Driven by the runner (:mod:`sim.runner`) through the environment variable ``BVIT_PLAN``: the path
of a JSON plan {"config": ArrayConfig fields, "jobs": [npz paths], "seed", "idle_prob",
"stall_prob", "results": path}. Writes one JSON result row per job to ``results``.
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.config import ArrayConfig
from hw.cost.cycles import job_cycles
from hw.rtl.formats import decode_results, job_cmd, job_words
from hw.jobs import load_job
from sim.bfm import ReferenceModel, ResultMonitor, Scoreboard, StreamDriver


async def reset(dut, cycles: int = 3) -> None:
    """Synchronous active-high reset with both inputs idle."""
    dut.s_axis_cmd_tvalid.value = 0
    dut.s_axis_data_tvalid.value = 0
    dut.m_axis_res_tready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def run_job(dut, cfg: ArrayConfig, job, rng, idle_prob, stall_prob, model, board):
    """Reset, drive one job, collect and score its results."""
    await reset(dut)
    cmd = StreamDriver(dut, "s_axis_cmd", rng, idle_prob)
    data = StreamDriver(dut, "s_axis_data", rng, idle_prob)
    budget = 4 * job_cycles(cfg, job) + 10_000
    mon = ResultMonitor(dut, rng, stall_prob, timeout_cycles=budget)
    expected = model.expect(job)
    mon_task = cocotb.start_soon(mon.collect(linger=8))
    cocotb.start_soon(cmd.send([job_cmd(cfg, job)]))
    cocotb.start_soon(data.send(job_words(cfg, job)))
    error, got = None, None
    try:
        beats = await mon_task
        got = decode_results(cfg, job, beats)
    except (ValueError, TimeoutError) as exc:
        error = str(exc)
    cycles = mon.cycles if mon.last_beat is not None and mon.first_cmd is not None else None
    return board.check(job.name, job.kind, job.shape, expected, got, cycles,
                       mon.extra_after_last, error)


@cocotb.test()
async def run_plan(dut):
    """Every job of the plan, bit-exact against the reference model."""
    with open(os.environ["BVIT_PLAN"]) as f:
        plan = json.load(f)
    cfg = ArrayConfig(**plan["config"])
    rng = random.Random(plan.get("seed", 0))
    Clock(dut.clk, 10, unit="ns").start()
    model, board = ReferenceModel(), Scoreboard()
    out_path = plan["results"]
    for path in plan["jobs"]:
        job = load_job(path, verify=False)   # the runner verified it; the model cross-checks
        t0 = time.perf_counter()
        row = await run_job(dut, cfg, job, rng, plan.get("idle_prob", 0.0),
                            plan.get("stall_prob", 0.0), model, board)
        row["file"] = path
        row["sim_wall_s"] = round(time.perf_counter() - t0, 3)
        dut._log.info("%s", json.dumps(row))
        with open(out_path, "w") as f:
            json.dump(board.rows, f)
    failed = [r for r in board.rows if not r["passed"]]
    assert not failed or plan.get("expect_fail", False), \
        f"{len(failed)} of {len(board.rows)} jobs mismatched: {[r['op'] for r in failed]}"

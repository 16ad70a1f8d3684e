"""cocotb test module: runs a list of job files through ``bvit_top`` with reset between jobs.

Driven by the runner (:mod:`sim.runner`) through the environment variable ``BVIT_PLAN``: the path
of a JSON plan {"config": ArrayConfig fields, "jobs": [npz paths], "seed", "idle_prob",
"stall_prob", "freeze_prob", "freeze_max", "pad" ("random" or "zero": the data bits past K /
lanes past W), "results": path}. Writes one JSON result row per job to ``results``.
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hw.config import ArrayConfig
from hw.rtl.formats import decode_results, job_cmd, job_words
from hw.ops import load_op
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


async def run_job(dut, cfg: ArrayConfig, job, rng, idle_prob, stall_prob, model, board,
                  freeze_prob=0.0, freeze_max=0, pad_rng=None):
    """Reset, drive one job (data bits past K random from ``pad_rng``, else 0), collect and
    score its results."""
    await reset(dut)
    cmd = StreamDriver(dut, "s_axis_cmd", rng, idle_prob)
    data = StreamDriver(dut, "s_axis_data", rng, idle_prob)
    budget = (4 * job.cycles(cfg) + 10_000) * (1 + freeze_prob * freeze_max) + freeze_max
    mon = ResultMonitor(dut, rng, stall_prob, timeout_cycles=int(budget),
                        freeze_prob=freeze_prob, freeze_max=freeze_max)
    expected = model.expect(job)
    mon_task = cocotb.start_soon(mon.collect(linger=8))
    cocotb.start_soon(cmd.send([job_cmd(cfg, job)]))
    cocotb.start_soon(data.send(job_words(cfg, job, pad_rng)))
    error, got = None, None
    try:
        beats = await mon_task
        got = decode_results(cfg, job, beats)
    except (ValueError, TimeoutError) as exc:
        error = str(exc)
    cycles = mon.cycles if mon.last_beat is not None and mon.first_cmd is not None else None
    row = board.check(job.name, job.kind.value, job.shape, expected, got, cycles,
                      mon.extra_after_last, error)
    row["frozen_cycles"] = mon.frozen_cycles
    return row


@cocotb.test()
async def run_plan(dut):
    """Every job of the plan, bit-exact against the reference model."""
    with open(os.environ["BVIT_PLAN"]) as f:
        plan = json.load(f)
    cfg = ArrayConfig(**plan["config"])
    rng = random.Random(plan.get("seed", 0))
    pad = plan.get("pad", "random")
    pad_rng = np.random.default_rng(plan.get("seed", 0)) if pad == "random" else None
    Clock(dut.clk, 10, unit="ns").start()
    model, board = ReferenceModel(), Scoreboard()
    out_path = plan["results"]
    for path in plan["jobs"]:
        job = load_op(path, verify=False)   # the runner verified it; the model cross-checks
        t0 = time.perf_counter()
        row = await run_job(dut, cfg, job, rng, plan.get("idle_prob", 0.0),
                            plan.get("stall_prob", 0.0), model, board,
                            plan.get("freeze_prob", 0.0), plan.get("freeze_max", 0), pad_rng)
        row["file"] = path
        row["sim_wall_s"] = round(time.perf_counter() - t0, 3)
        dut._log.info("%s", json.dumps(row))
        with open(out_path + ".tmp", "w") as f:   # whole or not at all: the runner may
            json.dump(board.rows, f)                 # read it after a crash
        os.replace(out_path + ".tmp", out_path)
    failed = [r for r in board.rows if not r["passed"]]
    assert not failed or plan.get("expect_fail", False), \
        f"{len(failed)} of {len(board.rows)} jobs mismatched: {[r['op'] for r in failed]}"

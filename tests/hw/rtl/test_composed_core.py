"""The composed core (hw/rtl/parts, ``core_parts`` = 1) against the single-module core: both
built side by side in Amaranth's simulator, fed the same command, data and back-pressure,
must drive every output port the same in every cycle (the cycle model and the golden checks
then cover both); and the composed core's own parts are the ones its elaborate joins."""

import random
from dataclasses import replace

import pytest
from amaranth.hdl import Module

from hw.ops import MatmulOp
from hw.rtl.array import COLUMN_ZERO_FAULTS
from hw.rtl.composed_core import FAULTS as COMPOSED_FAULTS, ComposedCore
from hw.rtl.core import FAULTS, BinaryCore
from hw.rtl.formats import job_cmd, job_words
from hw.rtl.parts.job_control import JOB_FAULTS
from hw.rtl.parts.operand_loader import KEEP_FAULTS, OWN_FAULTS, SPLIT_FAULTS
from hw.rtl.parts.result_path import AND_COPY_FAULTS
from hw.rtl.parts.tile_reader import A_BUFFER_FAULTS, W_BUFFER_FAULTS
from hw.rtl.pool_core import PoolCore
from hw.rtl.simulate import run_testbench
from sim.suite import edge_suite, small_config

BASE = small_config(rows=2, cols=3, simd=16, max_k=40, max_m=9, max_n=9, pool_max_dim=9,
                    pool_max_planes=4, pool_max_kernel=5, pool_row_depth=16)
CONFIGS = {
    "2x3x16": BASE,
    "3x2_h3_d1": replace(BASE, rows=3, cols=2, hold_banks=3, drain_rows=1),
    "4x2_g2_l4": replace(BASE, rows=4, cols=2, load_rows=2, pool_lanes=4),
    "2x3_pool_port": replace(BASE, pool_port=1),
}


def run_lockstep(cfg, jobs, seed: int, idle: float = 0.2, stall: float = 0.3,
                 budget: int = 60_000, fault: str | None = None, pair=None, runs=None) -> dict:
    """Both cores, the same inputs: every job's command beat, then its data beats (input
    valid low with chance ``idle``, output ready low with chance ``stall``). Returns the
    first cycle and port where they differ (``None`` if none), the cycles run and the
    results seen. With ``pool_port`` the cores leave the pool unit out (pool jobs dropped).
    ``pair`` (two components with the core's streams) and ``runs`` (which jobs the pair runs;
    the others are dropped after their command) compare other cores the same way."""
    with_pool = not cfg.pool_port
    if pair is None:
        pair = (BinaryCore(cfg, with_pool=with_pool),
                ComposedCore(cfg, with_pool=with_pool, fault=fault))
        runs = lambda j: with_pool or isinstance(j, MatmulOp)      # noqa: E731
    mono, comp = pair
    top = Module()
    top.submodules.mono, top.submodules.comp = mono, comp
    rng = random.Random(seed)
    # a dropped command (a pool job without a pool unit) has no data beats after it
    plan = [(job_cmd(cfg, j), job_words(cfg, j) if runs(j) else []) for j in jobs]
    out = {"diff": None, "cycles": 0, "beats": 0, "lasts": 0}

    async def bench(ctx):
        job, sent, cmd_taken = 0, 0, False
        for cycle in range(budget):
            cmd, words = plan[job] if job < len(plan) else (0, [])
            cmd_valid = job < len(plan) and not cmd_taken
            data_valid = cmd_taken and sent < len(words) and rng.random() >= idle
            ready = rng.random() >= stall
            for core in (mono, comp):
                ctx.set(core.cmd.payload.as_value(), cmd)
                ctx.set(core.cmd.valid, cmd_valid)
                ctx.set(core.data.payload, words[sent] if data_valid else 0)
                ctx.set(core.data.valid, data_valid)
                ctx.set(core.out.ready, ready)
            ports = {"cmd.ready": lambda c: c.cmd.ready, "data.ready": lambda c: c.data.ready,
                     "out.valid": lambda c: c.out.valid,
                     "out.payload": lambda c: c.out.payload.as_value()}
            for name, get in ports.items():
                a, b = ctx.get(get(mono)), ctx.get(get(comp))
                if a != b and (name != "out.payload" or ctx.get(mono.out.valid)):
                    out["diff"] = (cycle, name, a, b)
                    return
            if ctx.get(mono.out.valid) and ready:
                out["beats"] += 1
                out["lasts"] += ctx.get(mono.out.payload.last)
            if cmd_valid and ctx.get(mono.cmd.ready):
                cmd_taken, sent = True, 0
            elif data_valid and ctx.get(mono.data.ready):
                sent += 1
            if cmd_taken and sent == len(words):
                job, cmd_taken = job + 1, False
            out["cycles"] = cycle
            if job == len(plan) and out["lasts"] == out["expected_lasts"]:
                return
            await ctx.tick()

    out["expected_lasts"] = sum(1 for j in jobs if runs(j))
    run_testbench(top, bench)
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_composed_core_equals_the_single_module_core_cycle_for_cycle(name):
    cfg = CONFIGS[name]
    jobs = edge_suite(cfg, seed=7)
    got = run_lockstep(cfg, jobs, seed=len(name))
    assert got["diff"] is None, f"{name}: first difference (cycle, port, single, composed): " \
                                f"{got['diff']}"
    assert got["lasts"] == got["expected_lasts"], got      # every job ran to its last beat


@pytest.mark.parametrize("fault", ["early_rows", "hold_swap", "fifo_overfill", "zeros_column"])
def test_a_broken_part_breaks_the_lockstep(fault):
    """The comparison can fail: the composed core with a deliberate fault in one part (the
    tile reader's early start, a PE's hold bank, the output FIFO's count, a column's AND-mode
    offset) differs from the single-module core."""
    got = run_lockstep(BASE, edge_suite(BASE, seed=7), seed=3, stall=0.6, fault=fault)
    assert got["diff"] is not None, fault


def test_the_retimed_pool_core_equals_the_plain_one_cycle_for_cycle():
    """The pool core beside the core built from parts (the retimed pool unit, a registered
    start) against the one beside the single-module core: the same ports in every cycle over
    the edge suite's jobs (matmul commands taken and dropped), under idles and stalls; and the
    comparison can fail (the pool unit's line_off fault on one side)."""
    pooled = replace(BASE, pool_port=1)
    jobs = edge_suite(pooled, seed=7)
    assert any(not isinstance(j, MatmulOp) for j in jobs)
    pool_jobs = lambda j: not isinstance(j, MatmulOp)                    # noqa: E731
    for fault, differs in ((None, False), ("line_off", True)):
        pair = (PoolCore(replace(pooled, core_parts=0)),
                PoolCore(replace(pooled, core_parts=1), fault=fault))
        got = run_lockstep(pooled, jobs, seed=5, pair=pair, runs=pool_jobs)
        assert (got["diff"] is not None) == differs, (fault, got["diff"])
        if not differs:
            assert got["lasts"] == got["expected_lasts"] > 0, got


def test_both_cores_know_the_same_faults():
    """The same faults, and the composed core's column zero counts, kept weights, weight
    buffers, activation buffers, IDLE flip-flop, the loader's own job values and its writes'
    own run flag, and the result path's copies of the AND-mode flag (which the single-module core does not have) one of their own each."""
    assert sorted(COMPOSED_FAULTS) == sorted(
        [f for f in FAULTS if f != "pool_core_extra_reg"] + list(COLUMN_ZERO_FAULTS)
        + list(KEEP_FAULTS) + list(W_BUFFER_FAULTS) + list(A_BUFFER_FAULTS) + list(JOB_FAULTS)
        + list(OWN_FAULTS) + list(SPLIT_FAULTS) + list(AND_COPY_FAULTS))

"""A pool unit with more lanes than the array has columns (``pool_lanes`` L > C), on the generated
Verilog (cocotb + Icarus): pool and matmul jobs bit-exact, cycles equal to hw/cost/cycles.py,
pool lane l in row slot l // C lane l % C of the result beat (the testbench decodes every beat
with :func:`hw.rtl.formats.decode_results` and checks the lanes outside the results are zero),
and the ``line_off`` fault still caught."""

import pytest

from sim.runner import run_jobs
from sim.suite import edge_suite, random_pool, save_jobs
from sim.suite import small_config as small

#: L = 2C: a position fills both row slots of the beat (6 x 8 bits: a 48-bit data beat)
CFG = small(rows=2, cols=3, pool_lanes=6, pool_max_planes=16)


def lane_pools(cfg, seed):
    """Pools of several plane groups of L planes, the last one partial (P not a multiple of L)."""
    lanes = cfg.pool_lanes_eff
    return [
        random_pool("lanes_branch_1x3", (2 * lanes + 1, 4, 7), 8, (1, 3), (1, 1), (0, 1), seed),
        random_pool("lanes_merge_2x2s2", (lanes + 2, 6, 6), 8, (2, 2), (2, 2), (0, 0), seed + 1),
        random_pool("lanes_odd_3x2s2", (lanes - 1, 7, 5), 8, (3, 2), (2, 2), (1, 1), seed + 2),
    ]


@pytest.mark.parametrize("cfg", [CFG, small(rows=2, cols=3, pool_lanes=5, pool_max_planes=16)],
                         ids=["L6_C3", "L5_C3"])
def test_more_pool_lanes_than_columns_cycle_exact_and_bit_exact(cfg, tmp_path):
    assert cfg.pool_lanes_eff > cfg.cols and cfg.data_width == 48     # 40 or 48 bits: 3 words
    jobs = lane_pools(cfg, 7)
    if cfg.pool_lanes_eff == 2 * cfg.cols:      # the whole edge suite (matmuls too) once
        jobs = edge_suite(cfg, seed=5) + jobs
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path))
    assert len(rows) == len(jobs)
    for job, row in zip(jobs, rows):
        assert row["passed"], row
        assert row["mismatches"] == 0 and row["outputs"] == job.result.size
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"], job.cycles(cfg))


def test_line_off_fault_is_caught_with_more_lanes(tmp_path):
    jobs = lane_pools(CFG, 11)[:1]
    rows = run_jobs(CFG, save_jobs(jobs, tmp_path), fault="line_off", expect_fail=True)
    assert sum(r["mismatches"] for r in rows) > 0, rows

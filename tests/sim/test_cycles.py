"""hw/cost/cycles.py equals the RTL's cycle count exactly (no stalls), over configs x edge shapes,
and every result is bit-exact (cocotb + Icarus on the generated Verilog)."""

import pytest

from hw.config import DEFAULT
from sim.runner import run_jobs
from sim.suite import edge_suite, save_jobs

from sim.suite import small_config as small

CONFIGS = {
    "r2c3s16": small(),
    # pool memory of 5 block-RAM pieces (a partial 4:1 mux group)
    "r3c1s32": small(rows=3, cols=1, simd=32, max_k=64, pool_row_depth=2500, mem_piece_depth=512),
    # activation banks of 5 pieces, weight banks of 1 (read latencies padded to match)
    "r1c4s8": small(rows=1, cols=4, simd=8, max_k=40, max_m=240, mem_piece_depth=256),
    "default": DEFAULT,
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cycle_model_matches_rtl(name, tmp_path):
    cfg = CONFIGS[name]
    jobs = edge_suite(cfg, seed=3)
    rows = run_jobs(cfg, save_jobs(jobs, tmp_path))
    assert len(rows) == len(jobs)
    for job, row in zip(jobs, rows):
        assert row["passed"], row
        assert row["mismatches"] == 0 and row["outputs"] == job.result.size
        assert row["cycles"] == job.cycles(cfg), (job.name, row["cycles"],
                                                       job.cycles(cfg))
